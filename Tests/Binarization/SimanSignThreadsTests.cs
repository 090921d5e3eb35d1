using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>SiMaN's weight binarization on a layer large enough that its filters and its two latent-clipping percentiles
/// are spread over two kernel threads: every value against the formulas evaluated here in float64, and one thread and
/// two giving the same bits.</summary>
[TestFixture]
public sealed class SimanSignThreadsTests
{
    // 64 filters of 288 weights: the filters go to two ranges and the layer (18 432 values) takes the threaded percentiles
    private const int Filters = 64, PerFilter = 288;

    private static T WithThreads<T>(int threads, Func<T> body)
    {
        using var threadsScope = KernelThreadsScope.Set(threads);
        return body();
    }

    private static double[] Latent(ulong seed)
    {
        var rng = new Rng(seed);
        return [.. Enumerable.Range(0, Filters * PerFilter).Select(_ => rng.Uniform(-0.2, 0.2))];
    }

    /// <summary>Per filter: the unbiased standardisation z (ε = 1e-5), its mean m and scale s.</summary>
    private static (double[] Z, double Mean, double Scale) Standardize(double[] v)
    {
        double m = v.Average();
        double s = Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1) + 1e-5);
        return ([.. v.Select(x => (x - m) / s)], m, s);
    }

    [TestCase(DType.Float64)]
    [TestCase(DType.Float32)]
    public void ForwardAndBackward_MatchFormulas_OnOneThreadAndTwo(DType dtype)
    {
        double[] theta = Latent(11);
        double[] dy = QuantizerHarness.Upstream(theta.Length, seed: 12);
        int[] shape = [Filters, PerFilter / 9, 3, 3];
        QuantizerHarness.Result one = WithThreads(1, () => QuantizerHarness.Run(new SimanSign(clipLatent: false), theta, shape, dy, dtype));
        QuantizerHarness.Result two = WithThreads(2, () => QuantizerHarness.Run(new SimanSign(clipLatent: false), theta, shape, dy, dtype));
        Assert.That(two.Y, Is.EqualTo(one.Y), "the signs depend on the thread count");
        Assert.That(two.Dx, Is.EqualTo(one.Dx), "the gradient depends on the thread count");

        double tolerance = dtype == DType.Float64 ? 1e-12 : 1e-5;
        for (int o = 0; o < Filters; o++)
        {
            double[] v = [.. theta.Skip(o * PerFilter).Take(PerFilter).Select(x => dtype == DType.Float32 ? (double)(float)x : x)];
            (double[] z, double m, double s) = Standardize(v);
            // +1 for the ⌊n/2⌋ largest |z| (ties to the lower index), −1 for the rest
            int[] largest = [.. Enumerable.Range(0, PerFilter).OrderByDescending(i => Math.Abs(z[i])).Take(PerFilter / 2)];
            for (int i = 0; i < PerFilter; i++)
                Assert.That(two.Y[o * PerFilter + i], Is.EqualTo(largest.Contains(i) ? 1.0 : -1.0), $"filter {o}, weight {i}");
            // dθ = (dz − mean dz)/s − (Σ dz·z)(θ − m)/((n − 1)s²), dz = dy·sign(z)
            double[] dz = [.. Enumerable.Range(0, PerFilter).Select(i => (dtype == DType.Float32 ? (double)(float)dy[o * PerFilter + i] : dy[o * PerFilter + i]) * Math.Sign(z[i]))];
            double meanDz = dz.Average(), dot = dz.Select((d, i) => d * z[i]).Sum();
            for (int i = 0; i < PerFilter; i++)
            {
                double expected = (dz[i] - meanDz) / s - dot * (v[i] - m) / ((PerFilter - 1) * s * s);
                Assert.That(two.Dx[o * PerFilter + i], Is.EqualTo(expected).Within(tolerance * Math.Max(1, Math.Abs(expected))), $"filter {o}, weight {i}");
            }
        }
    }

    [Test]
    public void LatentClipping_MatchesFormula_OnOneThreadAndTwo()
    {
        double[] theta = Latent(21);
        double[] Clip(int threads) => WithThreads(threads, () =>
        {
            var q = new SimanSign();
            q.OnProgress(new TrainingProgress(3, 0, 10, 0)); // p = 15·(1 − 3/10) = 10.5
            var p = new Parameter("w", Tensor.FromValues(theta, [Filters, PerFilter], DType.Float64));
            q.Apply(p.Value);
            return p.Value.ToDoubleArray();
        });
        double[] one = Clip(1), two = Clip(2);
        Assert.That(two, Is.EqualTo(one), "the clipped latent weights depend on the thread count");

        double[] w1 = [.. theta.Select((v, i) => v - theta.Skip(i / PerFilter * PerFilter).Take(PerFilter).Average())];
        double[] sorted = [.. w1.Select(Math.Abs).Order()];
        double low = SimanSign.Percentile(sorted, 10.5), high = SimanSign.Percentile(sorted, 89.5);
        Assert.That(low, Is.LessThan(high));
        for (int i = 0; i < theta.Length; i++)
            Assert.That(two[i], Is.EqualTo(Math.Sign(w1[i]) * Math.Clamp(Math.Abs(w1[i]), low, high)).Within(1e-12), $"weight {i}");
    }
}
