using BinaryGrad.Autograd;
using BinaryGrad.Kernels.Updates;
using BinaryGrad.Optimizers.Binary;
using NUnit.Framework;

namespace BinaryGrad.Tests.Optimizers.Binary;

[TestFixture, Category("Optimizers"), Category("Kernels")]
public class BopTests
{
    internal static Parameter NewParameter(double[] values, DType dtype, int precision = 1) =>
        new("w", Tensor.FromValues(values, [values.Length], dtype), precision);

    internal static KeyValuePair<string, Parameter>[] Named(Parameter p) => [KeyValuePair.Create("w", p)];

    internal static void SetGrad(Parameter p, double[] g) => p.Value.Grad = Tensor.FromValues(g, [g.Length], p.DType);

    internal static double[] Slot(BinaryGrad.Optimizers.Optimizer o, string key) => o.StateDict()[key].ToDoubleArray();

    [Test]
    public void Step_MatchesHandComputedOracle([Values] DType dtype)
    {
        // Hand-computed oracle (Helwegen et al. 2019): γ = 0.1, τ = 0.05, w0 = [1, 1, −1, −1], g = [1, −1, −2, 0.3] at two consecutive steps.
        Parameter p = NewParameter([1, 1, -1, -1], dtype);
        var bop = new Bop(Named(p), gamma: 0.1, threshold: 0.05);
        double[] g = [1, -1, -2, 0.3];
        double tolerance = dtype == DType.Float32 ? 1e-7 : 1e-15;

        SetGrad(p, g);
        bop.Step();
        Assert.That(Slot(bop, "w.m"), Is.EqualTo(new[] { 0.1, -0.1, -0.2, 0.03 }).Within(tolerance), "m after step 1");
        Assert.That(p.Value.ToDoubleArray(), Is.EqualTo(new double[] { -1, 1, 1, -1 }), "w after step 1");

        SetGrad(p, g);
        bop.Step();
        Assert.That(Slot(bop, "w.m"), Is.EqualTo(new[] { 0.19, -0.19, -0.38, 0.057 }).Within(tolerance), "m after step 2");
        Assert.That(p.Value.ToDoubleArray(), Is.EqualTo(new double[] { -1, 1, 1, -1 }), "w after step 2 (no flip back)");
    }

    [Test]
    public void Step_WhenWTimesMEqualsThreshold_GivesPlusOneWhateverW()
    {
        // Larq's edge case: w·m − τ = 0 makes the inner sign 0, and sign(−0·w) = +1. With g = 0 and τ = 0, m stays 0.
        Parameter p = NewParameter([-1, 1, -1, 1, -1, -1, -1, -1, -1, -1], DType.Float32);
        var bop = new Bop(Named(p), gamma: 0.5, threshold: 0);
        SetGrad(p, new double[10]);
        bop.Step();
        Assert.That(p.Value.ToDoubleArray(), Is.All.EqualTo(1.0));
    }

    [Test]
    public void FirstStep_BinarizesRealValuedWeights_ZeroToPlusOne()
    {
        // m = γ·g agrees with w only where flipped; elsewhere the result is sign(w) with sign(±0) = +1.
        Parameter p = NewParameter([0.3, -0.2, 0.0, -0.0, 1e-30, -7, 0.4, -0.4, 2.5], DType.Float32);
        var bop = new Bop(Named(p), gamma: 0.1, threshold: 1e-6);
        SetGrad(p, [0, 0, 0, 0, 0, 0, 1, -1, -1]);
        bop.Step();
        Assert.That(p.Value.ToDoubleArray(), Is.EqualTo(new double[] { 1, -1, 1, 1, 1, -1, -1, 1, 1 }));
    }

    [Test]
    public void Schedules_ReceiveTheStepIndexFromZero()
    {
        var gammaSteps = new List<long>();
        var thresholdSteps = new List<long>();
        Parameter p = NewParameter([1, -1], DType.Float32);
        var bop = new Bop(Named(p), t => { gammaSteps.Add(t); return 0.1; }, t => { thresholdSteps.Add(t); return t < 2 ? 10 : 0; });
        for (int t = 0; t < 3; t++)
        {
            SetGrad(p, [1, -1]);
            bop.Step();
            // τ = 10 blocks flips for steps 0 and 1; at step 2 (τ = 0) w·m > 0 flips both.
            Assert.That(p.Value.ToDoubleArray(), Is.EqualTo(t < 2 ? new double[] { 1, -1 } : new double[] { -1, 1 }), $"step {t}");
        }
        Assert.That(gammaSteps, Is.EqualTo(new long[] { 0, 1, 2 }));
        Assert.That(thresholdSteps, Is.EqualTo(new long[] { 0, 1, 2 }));
    }

    [Test]
    public void BadHyperParameters_Throw()
    {
        Parameter p = NewParameter([1], DType.Float32);
        Assert.That(() => new Bop(Named(p), gamma: 1.5), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new Bop(Named(p), threshold: double.NaN), Throws.InstanceOf<ArgumentOutOfRangeException>());
        var scheduled = new Bop(Named(p), _ => -0.1, _ => 0);
        SetGrad(p, [1]);
        Assert.That(scheduled.Step, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("step 0"));
    }

    // Every length up to three Vector256<float> and two more, so empty, tail-only, exact and vector+tail all run.
    private static IEnumerable<int> Lengths => Enumerable.Range(0, 3 * 8 + 2).Append(1001);

    [Test]
    public void Vectorized_MatchesReferenceBitForBit([ValueSource(nameof(Lengths))] int length)
    {
        var rng = new Random(length);
        float[] w = Values(rng, length), g = Values(rng, length), m = Values(rng, length);
        w[0..Math.Min(4, length)].AsSpan().Fill(0f);
        if (length > 1) w[1] = -0f;
        if (length > 2) { m[2] = 1; w[2] = 0.5f; } // w·m − τ = 0 exactly with τ = 0.5 and g = m
        if (length > 2) g[2] = 1;
        float[] wRef = [.. w], mRef = [.. m];
        float[] wVec = [.. w, 42f], mVec = [.. m, 42f];
        FlipRule.BopReference<float>(wRef, g, mRef, 0.25f, 0.5f);
        FlipRule.Bop<float>(wVec.AsSpan(0, length), g, mVec.AsSpan(0, length), 0.25f, 0.5f);
        Assert.That(Bits(wVec[..length]), Is.EqualTo(Bits(wRef)), "w");
        Assert.That(Bits(mVec[..length]), Is.EqualTo(Bits(mRef)), "m");
        Assert.That(wVec[length], Is.EqualTo(42f), "wrote past the end");
    }

    internal static float[] Values(Random rng, int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2))];

    internal static int[] Bits(float[] x) => [.. x.Select(BitConverter.SingleToInt32Bits)];
}
