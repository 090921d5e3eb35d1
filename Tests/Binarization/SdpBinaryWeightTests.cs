using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>VISPA's <see cref="SdpBinaryWeight"/> against a hand-computed oracle (one layer, n = 3, K = 2, S = 100)
/// and the sampler's distribution.</summary>
[TestFixture, Category("Binarization")]
public class SdpBinaryWeightTests
{
    private static readonly double[] Mean = [0.6, -0.2, 0.05];
    private static readonly double[] Factor = [0.5, -0.3, 1.0, 0.2, 0.4, -2.0];

    private static SdpBinaryWeight WithOracleState(DType dtype, out Tensor m)
    {
        var q = new SdpBinaryWeight(rank: 2, varianceScale: 100, evaluationSamples: 40);
        m = Tensor.FromValues(Mean, [3], dtype, requiresGrad: true);
        q.Bind(Tensor.Zeros([3], dtype), new Rng(1)); // creates Z [2, 3]; m itself is given below
        q.Factor!.Load(Tensor.FromValues(Factor, [2, 3], dtype));
        return q;
    }

    [TestCase(DType.Float64, 1e-6)]
    [TestCase(DType.Float32, 2e-6)]
    public void ProjectionSampleAndCustomBackward_MatchOracle(DType dtype, double tol)
    {
        SdpBinaryWeight q = WithOracleState(dtype, out Tensor m);
        q.NextNoise = [0.05, -0.12];
        Tensor b = q.Apply(m);
        b.Backward([1.0, -2.0, 0.5]);

        Assert.That(m.ToDoubleArray(), Is.EqualTo(new[] { 0.995996, -0.970143, 0.218218 }).Within(tol), "projected m");
        double[] z = q.Factor!.Value.ToDoubleArray();
        double[] zRel = [.. z.Zip(new[] { 0.829997, -1.455214, 4.364358, 0.331999, 1.940285, -8.728716 }, (a, e) => a / e)];
        Assert.That(zRel, Is.All.EqualTo(1.0).Within(tol), "projected Z (relative)");
        double[] mm = m.ToDoubleArray();
        for (int i = 0; i < 3; i++)
            Assert.That(mm[i] * mm[i] + (z[i] * z[i] + z[3 + i] * z[3 + i]) / 100, Is.EqualTo(1.0).Within(tol), $"E[w²] of weight {i}");
        // w = [0.997656, −1.275737, 1.483882] → b = sign(w)
        Assert.That(b.ToDoubleArray(), Is.EqualTo(new[] { 1.0, -1, 1 }));
        Assert.That(m.Grad!.ToDoubleArray(), Is.EqualTo(new[] { 1.0, -2, 0.5 }), "dm = db (identity STE, no mask)");
        Assert.That(q.Factor.Grad!.ToDoubleArray(), Is.EqualTo(new[] { 0.5, -1.0, 0.25, -1.2, 2.4, -0.6 }).Within(tol), "dZ = √S·r⊗db");
    }

    [Test]
    public void ProjectionIsIdempotent()
    {
        SdpBinaryWeight q = WithOracleState(DType.Float64, out Tensor m);
        using var _ = GradMode.NoGrad();
        q.Apply(m);
        double[] once = m.ToDoubleArray();
        q.Apply(m);
        Assert.That(m.ToDoubleArray(), Is.EqualTo(once).Within(1e-15));
    }

    [Test]
    public void NoiseHasVarianceOneOverS()
    {
        var q = new SdpBinaryWeight(rank: 3, varianceScale: 25);
        Tensor m = Tensor.FromValues([0.5, -0.5], [2], DType.Float64);
        var draws = new List<double>();
        using var _ = GradMode.NoGrad();
        for (int i = 0; i < 3000; i++)
        {
            q.Apply(m);
            draws.AddRange(q.LastNoise);
        }
        double mean = draws.Average(), variance = draws.Average(r => (r - mean) * (r - mean));
        Assert.That(mean, Is.EqualTo(0).Within(0.01));
        Assert.That(variance, Is.EqualTo(1.0 / 25).Within(0.004)); // ±10 %: 9000 draws give a standard error of ~1.5 %
    }

    [Test]
    public void EvaluationDrawsAFreshSampleEveryCall()
    {
        var q = new SdpBinaryWeight(rank: 2, varianceScale: 1, evaluationSamples: 7) { Training = false };
        Tensor m = Tensor.FromValues([.. Enumerable.Repeat(0.05, 64)], [64], DType.Float32);
        q.Bind(Tensor.Zeros([64]), new Rng(3)); // Z Xavier-normal: 64 random directions, so two draws of r agree on all signs with negligible probability
        using var _ = GradMode.NoGrad();
        double[] first = q.Apply(m).ToDoubleArray(), second = q.Apply(m).ToDoubleArray();
        Assert.That(second, Is.Not.EqualTo(first));
        Assert.That(q.EvaluationSamples, Is.EqualTo(7));
        Assert.That(q.IsHardSign, Is.False, "no packed-weight cache across evaluation calls");
    }

    [Test]
    public void FactorOfAnotherLayer_IsRejectedWithShapes()
    {
        var q = new SdpBinaryWeight(rank: 2);
        q.Bind(Tensor.Zeros([2, 3]), new Rng(1));
        var e = Assert.Throws<ArgumentException>(() => q.Apply(Tensor.Zeros([4, 5])));
        Assert.That(e!.Message, Does.Contain("[2, 6]").And.Contain("20 elements"));
    }

    [Test]
    public void Registry_VispaIsVerifiedCodeAndBindsZ()
    {
        SchemeInfo info = SchemeRegistry.Get("vispa");
        Assert.That(info.ProvenanceTag, Is.EqualTo("verified-code"));
        SchemeInstance s = info.Create();
        Assert.That(s.Weights, Is.TypeOf<SdpBinaryWeight>());
        Assert.That(s.Activations, Is.TypeOf<ApproxSign>());
        Tensor w = Tensor.Zeros([8, 5]);
        s.Weights!.Bind(w, new Rng(2));
        Assert.That(s.Weights.Parameters.Single().Value.Shape.ToArray(), Is.EqualTo(new[] { 4, 40 }));
        Assert.That(w.ToDoubleArray(), Has.Some.Not.EqualTo(0.0), "m redrawn Xavier-normal");
    }
}
