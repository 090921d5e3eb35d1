using BinaryGrad.Autograd;
using BinaryGrad.Kernels;
using NUnit.Framework;

namespace BinaryGrad.Tests.Autograd;

/// <summary><see cref="Ops.BatchNormAddPRelu"/> against the three ops it fuses, applied one after the other
/// (<c>PRelu(Add(BatchNorm(x), s), a)</c>), bit for bit: y, every gradient (the slopes' included) and the running
/// statistics, float32 and float64, training and evaluation, per-channel and shared slopes, on every SIMD path and 1–3
/// threads, on planes with vector tails; the slope gradient against its formula summed here; and the float64 gradient
/// against finite differences.</summary>
[TestFixture, Category("Autograd")]
public class BatchNormAddPReluTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    private sealed record Outcome(double[] Y, double[] Dx, double[] DGamma, double[] DBeta, double[] DShortcut, double[] DSlopes,
        double[] RunningMean, double[] RunningVar, string Node);

    /// <summary>Values in [−2, 2] (three decimals) with a quarter of exact zeros, so a = BN(x) + s has both signs.</summary>
    private static double[] Values(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(4) == 0 ? 0 : Math.Round(random.NextDouble() * 4 - 2, 3)).ToArray();
    }

    private static Outcome Run(bool fused, DType dtype, bool training, int[] shape, SimdPath path, int threads, bool sharedSlope = false)
    {
        using var threadsScope = KernelThreadsScope.Set(threads);
        using IDisposable _ = Simd.Force(path);
        int c = shape[1], length = shape.Aggregate(1, (a, b) => a * b);
        Tensor x = Tensor.FromValues(Values(length, 1), shape, dtype, requiresGrad: true);
        Tensor s = Tensor.FromValues(Values(length, 2), shape, dtype, requiresGrad: true);
        Tensor gamma = Tensor.FromValues(Enumerable.Range(0, c).Select(i => 0.5 + 0.25 * i).ToArray(), [c], dtype, requiresGrad: true);
        Tensor beta = Tensor.FromValues(Enumerable.Range(0, c).Select(i => 0.125 * i - 0.25).ToArray(), [c], dtype, requiresGrad: true);
        // slopes of both signs: a negative one flips the sign of a negative a
        Tensor slopes = sharedSlope ? Tensor.FromValues([0.3], [1], dtype, requiresGrad: true)
            : Tensor.FromValues(Enumerable.Range(0, c).Select(i => 0.25 - 0.2 * i).ToArray(), [c], dtype, requiresGrad: true);
        Tensor rm = Tensor.FromValues(Enumerable.Range(0, c).Select(i => 0.1 * i).ToArray(), [c], dtype);
        Tensor rv = Tensor.FromValues(Enumerable.Range(0, c).Select(i => 1 + 0.1 * i).ToArray(), [c], dtype);
        Tensor y = fused
            ? Ops.BatchNormAddPRelu(x, gamma, beta, rm, rv, s, slopes, training)
            : Ops.PRelu(Ops.Add(Ops.BatchNorm(x, gamma, beta, rm, rv, training), s), slopes);
        string node = y.GradFn!.Name;
        y.Backward(Tensor.FromValues(Values(length, 3).Select(v => v + 0.5).ToArray(), shape, dtype));
        return new Outcome(y.ToDoubleArray(), x.Grad!.ToDoubleArray(), gamma.Grad!.ToDoubleArray(), beta.Grad!.ToDoubleArray(),
            s.Grad!.ToDoubleArray(), slopes.Grad!.ToDoubleArray(), rm.ToDoubleArray(), rv.ToDoubleArray(), node);
    }

    private static void AssertSame(Outcome actual, Outcome expected, string what)
    {
        static long[] Bits(double[] v) => v.Select(BitConverter.DoubleToInt64Bits).ToArray();
        Assert.That(Bits(actual.Y), Is.EqualTo(Bits(expected.Y)), $"y, {what}");
        Assert.That(Bits(actual.Dx), Is.EqualTo(Bits(expected.Dx)), $"dx, {what}");
        Assert.That(Bits(actual.DGamma), Is.EqualTo(Bits(expected.DGamma)), $"dγ, {what}");
        Assert.That(Bits(actual.DBeta), Is.EqualTo(Bits(expected.DBeta)), $"dβ, {what}");
        Assert.That(Bits(actual.DShortcut), Is.EqualTo(Bits(expected.DShortcut)), $"ds, {what}");
        Assert.That(Bits(actual.DSlopes), Is.EqualTo(Bits(expected.DSlopes)), $"da, {what}");
        Assert.That(Bits(actual.RunningMean), Is.EqualTo(Bits(expected.RunningMean)), $"running mean, {what}");
        Assert.That(Bits(actual.RunningVar), Is.EqualTo(Bits(expected.RunningVar)), $"running var, {what}");
    }

    [Test]
    public void Fused_EqualsTheThreeOpsBitForBit([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 3)] int threads,
        [Values] bool training, [Values(DType.Float32, DType.Float64)] DType dtype, [Values] bool sharedSlope)
    {
        foreach (int[] shape in new[] { new[] { 3, 5, 7, 3 }, new[] { 2, 4, 4, 4 }, new[] { 5, 3, 6, 11 } })
        {
            // the composite on the same path and threads: the slope shares' order is the kernel's, fixed per path
            Outcome expected = Run(fused: false, dtype, training, shape, path, 1, sharedSlope);
            Outcome actual = Run(fused: true, dtype, training, shape, path, threads, sharedSlope);
            Assert.That(actual.Node, Is.EqualTo("batch_norm_add_prelu"), "the fused op ran");
            Assert.That(expected.Node, Is.EqualTo("prelu"));
            AssertSame(actual, expected, $"[{string.Join(',', shape)}] {dtype} training {training}");
            Assert.That(actual.Y.Count(v => v < 0), Is.GreaterThan(0), "negative outputs");
        }
    }

    /// <summary>y and dx element by element from a = BN(x) + s computed here in float64 (evaluation: BN is an affine map
    /// of the running statistics), and da_c = Σ_{a ≤ 0} dy·a summed here: the fused op's values against the formula,
    /// not against another path of the same code.</summary>
    [Test]
    public void Float64_EqualsTheFormula([ValueSource(nameof(Paths))] SimdPath path)
    {
        int[] shape = [3, 2, 5, 3];
        int c = 2, plane = 15, length = 90;
        double[] xv = Values(length, 1), sv = Values(length, 2), dy = Values(length, 3).Select(v => v + 0.5).ToArray();
        double[] gammaV = [0.5, 1.25], betaV = [-0.25, 0.375], meanV = [0.1, -0.2], varV = [1.5, 0.75], slopeV = [0.25, -0.5];
        using IDisposable _ = Simd.Force(path);
        Tensor x = Tensor.FromValues(xv, shape, DType.Float64, requiresGrad: true), s = Tensor.FromValues(sv, shape, DType.Float64, requiresGrad: true);
        Tensor slopes = Tensor.FromValues(slopeV, [c], DType.Float64, requiresGrad: true);
        Tensor y = Ops.BatchNormAddPRelu(x, Tensor.FromValues(gammaV, [c], DType.Float64), Tensor.FromValues(betaV, [c], DType.Float64),
            Tensor.FromValues(meanV, [c], DType.Float64), Tensor.FromValues(varV, [c], DType.Float64), s, slopes, training: false);
        y.Backward(Tensor.FromValues(dy, shape, DType.Float64));
        double[] yv = y.ToDoubleArray(), dsv = s.Grad!.ToDoubleArray(), da = slopes.Grad!.ToDoubleArray();
        var expectedDa = new double[c];
        for (int i = 0; i < length; i++)
        {
            int ch = i / plane % c;
            double scale = gammaV[ch] / Math.Sqrt(varV[ch] + 1e-5), a = xv[i] * scale + (betaV[ch] - meanV[ch] * scale) + sv[i];
            Assert.That(yv[i], Is.EqualTo(a > 0 ? a : slopeV[ch] * a).Within(1e-12), $"y[{i}]");
            Assert.That(dsv[i], Is.EqualTo(a > 0 ? dy[i] : slopeV[ch] * dy[i]).Within(1e-12), $"ds[{i}]");
            if (!(a > 0)) expectedDa[ch] += dy[i] * a;
        }
        Assert.That(da, Is.EqualTo(expectedDa).Within(1e-10));
    }

    [Test]
    public void Float64Gradient_MatchesFiniteDifferences([Values] bool training)
    {
        var rng = new Rng(12);
        Tensor x = GradCheckInputs.Leaf(rng, [3, 2, 3, 2]), s = GradCheckInputs.Leaf(rng, [3, 2, 3, 2]);
        Tensor gamma = Tensor.FromValues([0.5, 0.75], [2], DType.Float64, requiresGrad: true);
        Tensor beta = Tensor.FromValues([0.1, -0.2], [2], DType.Float64, requiresGrad: true);
        Tensor slopes = Tensor.FromValues([0.25, -0.4], [2], DType.Float64, requiresGrad: true);
        Tensor rm = Tensor.FromValues([0.1, -0.1], [2], DType.Float64), rv = Tensor.FromValues([1.2, 0.8], [2], DType.Float64);
        GradCheck.AssertMatchesFiniteDifferences(
            t => Ops.BatchNormAddPRelu(t[0], t[1], t[2], training ? null : rm, training ? null : rv, t[3], t[4], training),
            x, gamma, beta, s, slopes);
    }

    [Test]
    public void MismatchedSlopes_NameBothShapes()
    {
        Tensor x = Tensor.Zeros([2, 3, 4, 4]);
        var e = Assert.Throws<ArgumentException>(() => Ops.BatchNormAddPRelu(x, null, null, null, null, x, Tensor.Zeros([2]), training: true))!;
        Assert.That(e.Message, Does.Contain("batch_norm_add_prelu").And.Contain("[2]").And.Contain("[2,3,4,4]"));
    }
}
