using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>The float32 paths of the per-tensor, stateful, stochastic and parameterised schemes (DoReFa, LAB,
/// stochastic BinaryConnect, SiMaN, standardized signs, learned scale, RSign, RPReLU): on a float32 input they must give exactly what the float64 path gives on the same values widened
/// (rounded once), for the output, dx and every parameter gradient. Each side gets a fresh instance because LAB
/// updates its second moment in the backward.</summary>
[TestFixture, Category("Binarization")]
public class Float32PathTests
{
    public static IEnumerable<TestCaseData> Schemes()
    {
        TestCaseData Case(Func<Quantizer> make, string name, int[] shape) => new TestCaseData(make, shape).SetArgDisplayNames(name);
        int[] weight = [5, 37], activation = [3, 7, 5];
        yield return Case(() => new DoReFa(2, DoReFaMode.Weights), "dorefa weights k=2", weight);
        yield return Case(() => new DoReFa(3, DoReFaMode.Activations), "dorefa activations k=3", activation);
        yield return Case(() => new Lab(), "lab", weight);
        // same seed on both sides: the float32 loop must draw the same samples in the same order
        yield return Case(() => new BinaryConnect(0.7, stochastic: true, 7), "binaryconnect stochastic, training", weight);
        yield return Case(() => new SimanSign(clipLatent: false), "siman_sign", weight);
        yield return Case(() => new StandardizedSign(center: true), "standardized_sign", activation);
        yield return Case(() => new StandardizedSign(center: false), "scaled_approx_sign", activation);
        yield return Case(() => new StandardizedSign(center: false) { Training = false }, "scaled_approx_sign eval", activation);
        yield return Case(() => new LearnedScaleSign(5), "learned_scale per channel", weight);
        yield return Case(() => new LearnedScaleSign(1, clipValue: 0.5), "learned_scale shared c=0.5", weight);
        yield return Case(() => Randomized(new RSign(7)), "rsign per channel", activation);
        yield return Case(() => Randomized(new RSign(1)), "rsign shared", activation);
        yield return Case(() => Randomized(new RPReLU(7)), "rprelu per channel", activation);
        yield return Case(() => Randomized(new RPReLU(1)), "rprelu shared", [4, 9]);
    }

    /// <summary>Seeded non-trivial parameter values (thresholds, slopes, shifts), identical for every instance.</summary>
    private static Quantizer Randomized(Quantizer q)
    {
        var rng = new Random(3);
        foreach (Parameter p in q.Parameters)
        {
            Span<float> v = p.Value.AsSpan<float>();
            for (int i = 0; i < v.Length; i++) v[i] = (float)(rng.NextDouble() - 0.5);
        }
        return q;
    }

    [TestCaseSource(nameof(Schemes))]
    public void Float32Path_EqualsFloat64Path(Func<Quantizer> make, int[] shape)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var rng = new Random(n);
        float[] x = [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 3 - 1.5))];
        float[] dy = [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        x[0] = 0;
        x[1] = -0f;
        x[2] = 1;

        Quantizer q32 = make(), q64 = make();
        // two steps, so that LAB's second moment (updated by the first backward) enters the second forward
        for (int step = 0; step < 2; step++)
        {
            foreach (Parameter p in q32.Parameters.Concat(q64.Parameters)) p.Value.Grad = null;
            var x32 = new Tensor(x, shape, requiresGrad: true);
            Tensor y32 = q32.Apply(x32);
            y32.Backward(new Tensor(dy, shape));
            var x64 = Tensor.FromValues([.. x.Select(v => (double)v)], shape, DType.Float64, requiresGrad: true);
            Tensor y64 = q64.Apply(x64);
            y64.Backward(Tensor.FromValues([.. dy.Select(v => (double)v)], shape, DType.Float64));

            Assert.That(y32.ToArray<float>(), Is.EqualTo(y64.ToDoubleArray().Select(v => (float)v).ToArray()), $"forward, step {step}");
            Assert.That(x32.Grad!.ToArray<float>(), Is.EqualTo(x64.Grad!.ToDoubleArray().Select(v => (float)v).ToArray()), $"dx, step {step}");
            Parameter[] p32 = [.. q32.Parameters], p64 = [.. q64.Parameters];
            for (int i = 0; i < p32.Length; i++)
                Assert.That(p32[i].Value.Grad!.ToDoubleArray(), Is.EqualTo(p64[i].Value.Grad!.ToDoubleArray()), $"d{p32[i].Name}, step {step}");
        }
    }
}
