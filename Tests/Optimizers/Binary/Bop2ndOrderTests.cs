using BinaryGrad.Autograd;
using BinaryGrad.Kernels.Updates;
using BinaryGrad.Optimizers.Binary;
using NUnit.Framework;
using static BinaryGrad.Tests.Optimizers.Binary.BopTests;

namespace BinaryGrad.Tests.Optimizers.Binary;

[TestFixture, Category("Optimizers"), Category("Kernels")]
public class Bop2ndOrderTests
{
    // Hand-computed oracle (Suarez-Ramirez et al. 2021): γ = 0.05, σ = 0.01, τ = 0.7, w0 = [1, 1, −1, −1], constant g = [1, −1, −2, 0.3].
    private static readonly double[] G = [1, -1, -2, 0.3];
    private static readonly double[][] M = [[0.05, -0.05, -0.1, 0.015], [0.0975, -0.0975, -0.195, 0.02925]];
    private static readonly double[][] V = [[0.01, 0.01, 0.04, 0.0009], [0.0199, 0.0199, 0.0796, 0.001791]];

    [Test]
    public void Step_MatchesHandComputedOracle([Values] BiasCorrection correction, [Values] DType dtype)
    {
        Parameter p = NewParameter([1, 1, -1, -1], dtype);
        var opt = new Bop2ndOrder(Named(p), gamma: 0.05, sigma: 0.01, threshold: 0.7, biasCorrection: correction);
        double tolerance = dtype == DType.Float32 ? 1e-7 : 1e-15;
        // Biased: |r| = 0.5, 0.691 < τ, no flips; DivideByRate and Adam: |r| = 1 at step 1 flips elements 0 and 2.
        double[] flipped = correction == BiasCorrection.None ? [1, 1, -1, -1] : [-1, 1, 1, -1];
        for (int t = 0; t < 2; t++)
        {
            SetGrad(p, G);
            opt.Step();
            Assert.That(Slot(opt, "w.m"), Is.EqualTo(M[t]).Within(tolerance), $"m after step {t + 1}");
            Assert.That(Slot(opt, "w.v"), Is.EqualTo(V[t]).Within(tolerance), $"v after step {t + 1}");
            Assert.That(p.Value.ToDoubleArray(), Is.EqualTo(flipped), $"w after step {t + 1}");
        }
    }

    [TestCase(BiasCorrection.None, 1, 0.5), TestCase(BiasCorrection.None, 2, 0.691159)]
    [TestCase(BiasCorrection.DivideByRate, 1, 1.0), TestCase(BiasCorrection.DivideByRate, 2, 1.382318)]
    [TestCase(BiasCorrection.Adam, 1, 1.0), TestCase(BiasCorrection.Adam, 2, 1.0)]
    public void Ratio_MatchesHandComputedOracle(BiasCorrection correction, int steps, double expected)
    {
        // |r| sits exactly at the flip boundary when τ = |r|: probe it from both sides with τ = |r| ± 1e-5 on w = −sign(g).
        foreach ((double tau, bool flips) in new[] { (expected - 1e-5, true), (expected + 1e-5, false) })
        {
            Parameter p = NewParameter([-1], DType.Float64);
            var opt = new Bop2ndOrder(Named(p), _ => 0.05, _ => 0.01, t => t == steps - 1 ? tau : 1e9, correction);
            for (int t = 0; t < steps; t++) { SetGrad(p, [-1]); opt.Step(); }
            Assert.That(p.Value.ToDoubleArray()[0], Is.EqualTo(flips ? 1.0 : -1.0), $"τ = {tau}");
        }
    }

    [Test]
    public void RateCorrections_WithZeroRate_Throw()
    {
        Parameter p = NewParameter([1], DType.Float32);
        var opt = new Bop2ndOrder(Named(p), gamma: 0, biasCorrection: BiasCorrection.DivideByRate);
        SetGrad(p, [1]);
        Assert.That(opt.Step, Throws.InvalidOperationException);
    }

    private static IEnumerable<int> Lengths => Enumerable.Range(0, 3 * 8 + 2).Append(1001);

    [Test]
    public void Vectorized_MatchesReferenceBitForBit([ValueSource(nameof(Lengths))] int length)
    {
        var rng = new Random(length + 7);
        float[] w = Values(rng, length), g = Values(rng, length), m = Values(rng, length);
        float[] v = [.. Values(rng, length).Select(MathF.Abs)];
        if (length > 0) w[0] = 0f;
        if (length > 1) w[1] = -0f;
        var k = new SecondOrderCoefficients<float>(0.05f, 0.01f, 0.3f, 0.02f, 1e-10f, 0.7f);
        float[] wRef = [.. w], mRef = [.. m], vRef = [.. v];
        float[] wVec = [.. w, 42f], mVec = [.. m], vVec = [.. v];
        FlipRule.SecondOrderReference<float>(wRef, g, mRef, vRef, k);
        FlipRule.SecondOrder(wVec.AsSpan(0, length), g, mVec, vVec, k);
        Assert.That(Bits(wVec[..length]), Is.EqualTo(Bits(wRef)), "w");
        Assert.That(Bits(mVec), Is.EqualTo(Bits(mRef)), "m");
        Assert.That(Bits(vVec), Is.EqualTo(Bits(vRef)), "v");
        Assert.That(wVec[length], Is.EqualTo(42f), "wrote past the end");
    }
}
