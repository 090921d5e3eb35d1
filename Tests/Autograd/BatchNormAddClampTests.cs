using BinaryGrad.Autograd;
using BinaryGrad.Kernels;
using NUnit.Framework;

namespace BinaryGrad.Tests.Autograd;

/// <summary><see cref="Ops.BatchNormAddClamp"/> against the three ops it fuses, applied one after the other
/// (<c>HardTanh(Add(BatchNorm(x), s))</c>), bit for bit: y, every gradient and the running statistics, float32 and
/// float64, training and evaluation, on every SIMD path and 1–3 threads, on planes with vector tails; and its
/// float64 gradient against finite differences.</summary>
[TestFixture, Category("Autograd")]
public class BatchNormAddClampTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    private sealed record Outcome(double[] Y, double[] Dx, double[] DGamma, double[] DBeta, double[] DShortcut, double[] RunningMean, double[] RunningVar, string Node);

    /// <summary>Values in [−2, 2] (three decimals) with a quarter of exact zeros, so a = BN(x) + s lands inside and
    /// outside the clamp's window (and exactly on it in <see cref="Boundary_InclusiveWindow_AsHardTanh"/>).</summary>
    private static double[] Values(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(4) == 0 ? 0 : Math.Round(random.NextDouble() * 4 - 2, 3)).ToArray();
    }

    private static Outcome Run(bool fused, DType dtype, bool training, int[] shape, SimdPath path, int threads, double[]? shortcutValues = null,
        double[]? runningVar = null)
    {
        using var threadsScope = KernelThreadsScope.Set(threads);
        using IDisposable _ = Simd.Force(path);
        int c = shape[1], length = shape.Aggregate(1, (a, b) => a * b);
        Tensor x = Tensor.FromValues(Values(length, 1), shape, dtype, requiresGrad: true);
        Tensor s = Tensor.FromValues(shortcutValues ?? Values(length, 2), shape, dtype, requiresGrad: true);
        Tensor gamma = Tensor.FromValues(Enumerable.Range(0, c).Select(i => 0.5 + 0.25 * i).ToArray(), [c], dtype, requiresGrad: true);
        Tensor beta = Tensor.FromValues(Enumerable.Range(0, c).Select(i => 0.125 * i - 0.25).ToArray(), [c], dtype, requiresGrad: true);
        Tensor rm = Tensor.FromValues(Enumerable.Range(0, c).Select(i => 0.1 * i).ToArray(), [c], dtype);
        Tensor rv = Tensor.FromValues(runningVar ?? Enumerable.Range(0, c).Select(i => 1 + 0.1 * i).ToArray(), [c], dtype);
        Tensor y = fused
            ? Ops.BatchNormAddClamp(x, gamma, beta, rm, rv, s, training)
            : Ops.HardTanh(Ops.Add(Ops.BatchNorm(x, gamma, beta, rm, rv, training), s));
        string node = y.GradFn!.Name;
        y.Backward(Tensor.FromValues(Values(length, 3).Select(v => v + 0.5).ToArray(), shape, dtype));
        return new Outcome(y.ToDoubleArray(), x.Grad!.ToDoubleArray(), gamma.Grad!.ToDoubleArray(), beta.Grad!.ToDoubleArray(),
            s.Grad!.ToDoubleArray(), rm.ToDoubleArray(), rv.ToDoubleArray(), node);
    }

    private static void AssertSame(Outcome actual, Outcome expected, string what)
    {
        // bit for bit: compare the doubles' bit patterns (float32 values widen exactly)
        static long[] Bits(double[] v) => v.Select(BitConverter.DoubleToInt64Bits).ToArray();
        Assert.That(Bits(actual.Y), Is.EqualTo(Bits(expected.Y)), $"y, {what}");
        Assert.That(Bits(actual.Dx), Is.EqualTo(Bits(expected.Dx)), $"dx, {what}");
        Assert.That(Bits(actual.DGamma), Is.EqualTo(Bits(expected.DGamma)), $"dγ, {what}");
        Assert.That(Bits(actual.DBeta), Is.EqualTo(Bits(expected.DBeta)), $"dβ, {what}");
        Assert.That(Bits(actual.DShortcut), Is.EqualTo(Bits(expected.DShortcut)), $"ds, {what}");
        Assert.That(Bits(actual.RunningMean), Is.EqualTo(Bits(expected.RunningMean)), $"running mean, {what}");
        Assert.That(Bits(actual.RunningVar), Is.EqualTo(Bits(expected.RunningVar)), $"running var, {what}");
    }

    [Test]
    public void Fused_EqualsTheThreeOpsBitForBit([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 3)] int threads,
        [Values] bool training, [Values(DType.Float32, DType.Float64)] DType dtype)
    {
        foreach (int[] shape in new[] { new[] { 3, 5, 7, 3 }, new[] { 2, 4, 4, 4 }, new[] { 5, 3, 6, 11 } })
        {
            Outcome expected = Run(fused: false, dtype, training, shape, SimdPath.Scalar, 1);
            Outcome actual = Run(fused: true, dtype, training, shape, path, threads);
            Assert.That(actual.Node, Is.EqualTo("batch_norm_add_clamp"), "the fused op ran");
            Assert.That(expected.Node, Is.EqualTo("hardtanh"));
            AssertSame(actual, expected, $"[{string.Join(',', shape)}] {dtype} training {training}");
            Assert.That(actual.Y.Count(v => Math.Abs(v) == 1), Is.GreaterThan(0), "some outputs clamped");
            Assert.That(actual.Dx.Count(v => v == 0) < actual.Dx.Length, Is.True, "some gradient passes");
        }
    }

    /// <summary>In float32 the fused forward keeps the signs of y plane by plane (<see cref="Tensor.SignPlanes"/>): bit p
    /// of plane (n, c) is y[n, c, p] ≥ 0, checked against y's values one by one, tail bits 0; every path, 1–3 threads,
    /// training and evaluation, planes of 21, 64 and 66 pixels. Float64 and the switched-off op keep none.</summary>
    [Test]
    public void Float32_KeepsTheSignPlanesOfY([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 3)] int threads, [Values] bool training)
    {
        using var threadsScope = KernelThreadsScope.Set(threads);
        using IDisposable _ = Simd.Force(path);
        foreach (int[] shape in new[] { new[] { 3, 5, 7, 3 }, new[] { 2, 4, 8, 8 }, new[] { 2, 3, 6, 11 } })
        {
            int n = shape[0], c = shape[1], plane = shape[2] * shape[3], planeWords = (plane + 63) / 64, length = n * c * plane;
            Tensor x = Tensor.FromValues(Values(length, 1), shape, DType.Float32), s = Tensor.FromValues(Values(length, 2), shape, DType.Float32);
            Tensor rm = Tensor.Zeros([c]), rv = Tensor.Ones([c]);
            Tensor y = Ops.BatchNormAddClamp(x, null, null, rm, rv, s, training);
            float[] values = y.ToArray<float>();
            ulong[] words = y.SignPlanes!.ToArray<double>().Select(v => (ulong)BitConverter.DoubleToInt64Bits(v)).ToArray();
            Assert.That(words, Has.Length.EqualTo(n * c * planeWords));
            for (int i = 0; i < n * c; i++)
                for (int p = 0; p < planeWords * 64; p++)
                {
                    bool bit = ((words[i * planeWords + p / 64] >> (p % 64)) & 1) != 0;
                    Assert.That(bit, Is.EqualTo(p < plane && values[i * plane + p] >= 0), $"plane {i}, pixel {p}, [{string.Join(',', shape)}]");
                }
            Assert.That(values.Count(v => v < 0), Is.GreaterThan(0).And.LessThan(length), "both signs occur");
        }
        Tensor z = Tensor.Zeros([2, 3, 4, 4], DType.Float64);
        Assert.That(Ops.BatchNormAddClamp(z, null, null, null, null, z, training: true).SignPlanes, Is.Null, "float64");
    }

    /// <summary>a exactly on ±1 passes its gradient (Hardtanh's window is inclusive), a beyond does not: in evaluation
    /// with μ = 0 and β = −0.25 an x of 0 normalises to exactly −0.25, so a = s − 0.25, exactly ±1 for s = 1.25, −0.75.</summary>
    [Test]
    public void Boundary_InclusiveWindow_AsHardTanh([ValueSource(nameof(Paths))] SimdPath path, [Values(DType.Float32, DType.Float64)] DType dtype)
    {
        int[] shape = [2, 1, 3, 4];
        double[] shortcut = Enumerable.Range(0, 24).Select(i => (i % 4) switch { 0 => 1.25, 1 => -0.75, 2 => 1.75, _ => -0.25 }).ToArray();
        Outcome expected = Run(fused: false, dtype, training: false, shape, SimdPath.Scalar, 1, shortcut, runningVar: [1]);
        Outcome actual = Run(fused: true, dtype, training: false, shape, path, 2, shortcut, runningVar: [1]);
        AssertSame(actual, expected, $"{dtype}");
        double[] x = Values(24, 1);
        for (int i = 0; i < 24; i++)
        {
            if (x[i] != 0) continue;
            Assert.That(actual.Y[i], Is.EqualTo(Math.Clamp(shortcut[i] - 0.25, -1, 1)), $"y of element {i}");
            // the upstream gradient is Values(24, 3) + 0.5; where a = ±1 exactly it must reach the shortcut unchanged
            double upstream = Values(24, 3)[i] + 0.5, expectedDs = Math.Abs(shortcut[i] - 0.25) > 1 ? 0 : upstream;
            if (dtype == DType.Float32) expectedDs = (float)expectedDs;
            Assert.That(actual.DShortcut[i], Is.EqualTo(expectedDs), $"element {i}, s = {shortcut[i]}");
        }
    }

    [Test]
    public void Float64Gradient_MatchesFiniteDifferences([Values] bool training)
    {
        var rng = new Rng(11);
        // the window widened to ±1.5 so that most a = BN(x)·γ + β + s fall inside it and the gradient is not mostly zero
        Tensor x = GradCheckInputs.Leaf(rng, [3, 2, 3, 2]), s = GradCheckInputs.Leaf(rng, [3, 2, 3, 2]);
        Tensor gamma = Tensor.FromValues([0.5, 0.75], [2], DType.Float64, requiresGrad: true);
        Tensor beta = Tensor.FromValues([0.1, -0.2], [2], DType.Float64, requiresGrad: true);
        Tensor rm = Tensor.FromValues([0.1, -0.1], [2], DType.Float64), rv = Tensor.FromValues([1.2, 0.8], [2], DType.Float64);
        GradCheck.AssertMatchesFiniteDifferences(
            t => Ops.BatchNormAddClamp(t[0], t[1], t[2], training ? null : rm, training ? null : rv, t[3], training, min: -1.5, max: 1.5),
            x, gamma, beta, s);
    }

    /// <summary>A shortcut given as a view (non-contiguous) still receives its gradient.</summary>
    [Test]
    public void ShortcutView_GetsItsGradient()
    {
        Tensor x = Tensor.Normal([2, 3, 4, 4], new Rng(1)), s = Tensor.Normal([2, 3, 4, 4], new Rng(2), requiresGrad: true);
        Tensor y = Ops.BatchNormAddClamp(x, null, null, null, null, s.Transpose(2, 3), training: true, min: -10, max: 10);
        Ops.Sum(y).Backward();
        Assert.That(s.Grad!.ToDoubleArray(), Is.All.EqualTo(1.0));
    }

    /// <summary>A shortcut that needs no gradient: x's gradient is still the composite's, and the shortcut gets none.</summary>
    [Test]
    public void ConstantShortcut_InputGradientAsComposite()
    {
        double[] Run(bool fused)
        {
            Tensor x = Tensor.Normal([2, 3, 4, 4], new Rng(1), requiresGrad: true), s = Tensor.Normal([2, 3, 4, 4], new Rng(2));
            Tensor y = fused ? Ops.BatchNormAddClamp(x, null, null, null, null, s, training: true)
                             : Ops.HardTanh(Ops.Add(Ops.BatchNorm(x, null, null, null, null, training: true), s));
            Ops.Sum(Ops.Mul(y, Tensor.Normal(y.Shape, new Rng(3)))).Backward();
            Assert.That(s.Grad, Is.Null);
            return x.Grad!.ToDoubleArray();
        }
        Assert.That(Run(fused: true), Is.EqualTo(Run(fused: false)));
    }

    [Test]
    public void ShortcutOfAnotherShape_NamesBoth()
    {
        Assert.That(() => Ops.BatchNormAddClamp(Tensor.Zeros([2, 3, 4, 4]), null, null, null, null, Tensor.Zeros([2, 3, 4, 5]), training: true),
            Throws.ArgumentException.With.Message.Contains("batch_norm_add_clamp: x [2,3,4,4] and the shortcut [2,3,4,5]"));
    }
}
