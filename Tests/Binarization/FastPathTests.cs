using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels.Sign;
using NUnit.Framework;
using Kind = BinaryGrad.Kernels.Sign.SignKernels.SurrogateKind;

namespace BinaryGrad.Tests.Binarization;

/// <summary>The float32 fast path of the hard-sign schemes: every vector kernel equals its scalar reference on every
/// tail length, and every fast scheme equals the float64 formula (computed on a float64 input, rounded once) on odd
/// shapes holding ±0, ±clip, ±1, subnormals and infinities.</summary>
[TestFixture, Category("Binarization"), Category("Kernels")]
public class FastPathTests
{
    // Empty, tail only, exact multiples of Vector256<float>, vector + tail, and one long run.
    private static IEnumerable<int> Lengths => Enumerable.Range(0, 3 * 8 + 2).Append(1001);

    private static readonly float[] Specials = [0f, -0f, 1f, -1f, 0.5f, -0.5f, 1.0000001f, -0.99999994f, 1e-40f, -1e-40f, float.PositiveInfinity, float.NegativeInfinity, 2.399f / 5, 0.3f];

    /// <summary>Random values in [−2, 2] with the special values spread over the vector body and the tail.</summary>
    private static float[] Probe(int length, int seed)
    {
        var rng = new Random(seed);
        float[] x = [.. Enumerable.Range(0, length).Select(_ => (float)(rng.NextDouble() * 4 - 2))];
        for (int i = 0; i < length; i++) if (rng.Next(3) == 0) x[i] = Specials[rng.Next(Specials.Length)];
        return x;
    }

    private static bool Same(float a, float b) => (float.IsNaN(a) && float.IsNaN(b)) || BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b);

    private static void AssertSameBits(float[] actual, float[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < actual.Length; i++)
            if (!Same(actual[i], expected[i])) Assert.Fail($"{what}[{i}]: {actual[i]:R} ≠ {expected[i]:R}");
    }

    /// <summary>Runs <paramref name="vectorized"/> on spans one shorter than a guarded buffer and <paramref name="reference"/>
    /// on plain arrays; both must agree bit for bit and leave the guard alone.</summary>
    private static void AssertKernel(int length, string what, Action<float[], float[], Span<float>> vectorized, Action<float[], float[], Span<float>> reference)
    {
        float[] x = Probe(length, length), dy = Probe(length, length + 100);
        float[] expected = new float[length], actual = new float[length + 1];
        actual[length] = 42f;
        reference(x, dy, expected);
        vectorized(x, dy, actual.AsSpan(0, length));
        AssertSameBits(actual[..length], expected, what);
        Assert.That(actual[length], Is.EqualTo(42f), $"{what}: wrote past the end");
    }

    [Test]
    public void Kernels_VectorizedEqualsReference([ValueSource(nameof(Lengths))] int n)
    {
        AssertKernel(n, "sign", (x, _, y) => SignKernels.Sign(x, y, 1, 1), (x, _, y) => SignKernels.SignReference(x, y, 1, 1));
        AssertKernel(n, "sign zero→0 scaled", (x, _, y) => SignKernels.Sign(x, y, 0.37f, 0), (x, _, y) => SignKernels.SignReference(x, y, 0.37f, 0));
        foreach (float c in new[] { 1f, 0.5f, float.PositiveInfinity, float.NegativeInfinity })
            AssertKernel(n, $"mask {c}", (x, g, d) => SignKernels.MaskTimes(x, g, d, c), (x, g, d) => SignKernels.MaskTimesReference(x, g, d, c));
        foreach ((Kind kind, double p, double c, double q) in new[]
                 {
                     (Kind.ApproxSign, 0.0, 0.0, 0.0), (Kind.Clip, 1.0, 0, 0), (Kind.Clip, 3.7, 0, 0), (Kind.ScaledMask, 0.81, 1, 0),
                     (Kind.ScaledMaskExact, 0.81, 1, -0.173), (Kind.ScaledMaskDiagonal, 0.81, 0.5, 37),
                 })
            AssertKernel(n, $"{kind} p={p}", (x, g, d) => SignKernels.Surrogate(kind, x, g, d, p, c, q), (x, g, d) => SignKernels.SurrogateReference(kind, x, g, d, p, c, q));
        foreach (double rho in new[] { 1.0, 2.5 })
            AssertKernel(n, $"clip values ρ={rho}", (x, _, y) => SignKernels.ClipValues(x, y, rho), (x, _, y) => SignKernels.ClipValuesReference(x, y, rho));
    }

    [Test]
    public void SwishKernel_VectorizedWithinOneUlpOfReference([ValueSource(nameof(Lengths))] int n)
    {
        // Vector256.Exp and Math.Exp may differ in the last float64 bit; after rounding to float32 that is at most 1 ulp.
        float[] x = Probe(n, n), dy = Probe(n, n + 100);
        float[] expected = new float[n], actual = new float[n];
        SignKernels.SwishTimesReference(x, dy, expected, 5);
        SignKernels.SwishTimes(x, dy, actual, 5);
        for (int i = 0; i < n; i++)
            Assert.That(Same(actual[i], expected[i]) || Math.Abs(actual[i] - expected[i]) <= MathF.BitIncrement(MathF.Abs(expected[i])) - MathF.Abs(expected[i]),
                $"[{i}] x = {x[i]:R}: {actual[i]:R} vs {expected[i]:R}");
    }

    [Test]
    public void SignSwishValueKernel_WithinOneUlpOfReferenceAndOfTheSigmoidForm([ValueSource(nameof(Lengths))] int n)
    {
        float[] x = Probe(n, n + 7);
        float[] expected = new float[n], actual = new float[n];
        SignKernels.SignSwishValuesReference(x, expected, 5);
        SignKernels.SignSwishValues(x, actual, 5);
        for (int i = 0; i < n; i++)
        {
            // independent oracle: BinaryMath.SignSwish's two-sigmoid form, rounded once
            float formula = (float)BinaryMath.SignSwish(x[i], 5);
            float ulp = MathF.BitIncrement(MathF.Abs(formula)) - MathF.Abs(formula);
            Assert.That(Math.Abs(actual[i] - expected[i]), Is.LessThanOrEqualTo(ulp), $"vector vs reference [{i}] x = {x[i]:R}");
            Assert.That(Math.Abs(expected[i] - formula), Is.LessThanOrEqualTo(ulp), $"reference vs formula [{i}] x = {x[i]:R}");
        }
    }

    [TestCase(1.0), TestCase(1.00000009), TestCase(0.99999999), TestCase(double.PositiveInfinity)]
    public void FloatBound_PreservesTheFloat64Comparison(double c)
    {
        float f = SignKernels.FloatBound(c);
        foreach (float a in new[] { MathF.BitDecrement((float)c), (float)c, MathF.BitIncrement((float)c) })
            Assert.That(a <= f, Is.EqualTo(a <= c), $"a = {a:R}");
    }

    public static IEnumerable<TestCaseData> FastSchemes()
    {
        TestCaseData Case(Quantizer q, string name, bool weight = false, double ulps = 0) => new TestCaseData(q, weight, ulps).SetArgDisplayNames(name);
        yield return Case(new SteSign(), "ste_sign");
        yield return Case(new SteSign(0.5), "ste_sign c=0.5");
        yield return Case(new SteSign(double.PositiveInfinity), "ste_sign unclipped");
        yield return Case(new SteSign(1, SignZero.Zero), "ste_sign sign(0)=0");
        yield return Case(new ApproxSign(), "approx_sign");
        yield return Case(new SwishSign(5), "swish_sign", ulps: 1);
        yield return Case(new SwishSign(0.7), "swish_sign β=0.7", ulps: 1);
        yield return Case(new BinaryConnect(), "binaryconnect", weight: true);
        yield return Case(new BinaryConnect(0.3), "binaryconnect H=0.3", weight: true);
        yield return Case(new BinaryConnect(1, stochastic: true) { Training = false }, "binaryconnect stochastic, test", weight: true);
        yield return Case(new BinaryConnect(1, stochastic: true, stochasticTestUsesLatent: false) { Training = false }, "binaryconnect stochastic, test sign", weight: true);
        // The XNOR α and Σ sign·dy are lane-parallel float64 sums here, sequential on the float64 path: a rounding-level difference.
        foreach (ScaleGradMode mode in Enum.GetValues<ScaleGradMode>())
            yield return Case(new ScaledSign(mode), $"scaled_sign {mode}", weight: true, ulps: 1);
        yield return Case(new MagnitudeAwareSign(), "magnitude_aware_sign", weight: true, ulps: 1);
        yield return Case(PcPlusPlus.BinaryConnect(), "pc++_bc", weight: true);
        yield return Case(PcPlusPlus.Bnn(), "pc++_bnn", weight: true);
        yield return Case(PcPlusPlus.BnnPlus(), "pc++_bnn+", weight: true, ulps: 1);
        yield return Case(PcPlusPlus.ProxConnect(Schedule.Constant(2.5)), "proxconnect ρ=2.5", weight: true);
        yield return Case(PcPlusPlus.ProxQuant(Schedule.Constant(1.7)), "pc++_proxquant ρ=1.7", weight: true);
        yield return Case(new PcPlusPlus("bnn++ test", ElementMap.SignSwish(Schedule.Constant(5)), ElementMap.SignSwish(Schedule.Constant(5))) { Training = false },
            "bnn++ deployed", weight: true, ulps: 1);
        // SS_β forward through the one-exp vector kernel (1 ulp); the clip variant rounds SS_β to float32 before the clip (2 ulps).
        yield return Case(PcPlusPlus.BnnPlusPlus(Schedule.Constant(5)), "bnn++ training", weight: true, ulps: 1);
        yield return Case(PcPlusPlus.BnnPlusPlusClip(5, Schedule.Constant(1.3)), "bnn++_clip ρ=1.3", weight: true, ulps: 2);
        // Scalar-only elementwise schemes take the generic float32 loop: bit-identical to the float64 path.
        yield return Case(new PeriodicSign(20, 2), "periodic_sign stage 2", weight: true);
        yield return Case(new PeriodicSign(7, 1), "periodic_sign stage 1", weight: true);
        yield return Case(new RbnnSign(false), "rbnn_sign weights", weight: true);
        yield return Case(new RbnnSign(true), "rbnn_sign activations");
    }

    [TestCaseSource(nameof(FastSchemes))]
    public void FastScheme_EqualsFloat64FormulaRoundedOnce(Quantizer q, bool weight, double ulps)
    {
        int[] shape = weight ? [5, 37] : [3, 41]; // odd rows: every channel has a vector body and a tail
        int n = shape[0] * shape[1];
        float[] x = Probe(n, 11), dy = Probe(n, 12);
        for (int i = 0; i < n; i++) if (float.IsInfinity(x[i])) x[i] = 0.25f; // infinite θ makes α infinite: not a fast-path question
        for (int i = 0; i < n; i++) if (!float.IsFinite(dy[i])) dy[i] = -0.75f;

        var x32 = new Tensor(x, shape, requiresGrad: true);
        Tensor y32 = q.Apply(x32);
        y32.Backward(new Tensor(dy, shape));
        var x64 = Tensor.FromValues([.. x.Select(v => (double)v)], shape, DType.Float64, requiresGrad: true);
        Tensor y64 = q.Apply(x64);
        y64.Backward(Tensor.FromValues([.. dy.Select(v => (double)v)], shape, DType.Float64));

        Compare(y32.ToArray<float>(), y64.ToArray<double>(), ulps, "forward", x);
        Compare(x32.Grad!.ToArray<float>(), x64.Grad!.ToArray<double>(), ulps, "backward", x);
    }

    private static void Compare(float[] fast, double[] reference, double ulps, string what, float[] x)
    {
        for (int i = 0; i < fast.Length; i++)
        {
            float expected = (float)reference[i];
            if (Same(fast[i], expected)) continue;
            double ulp = MathF.BitIncrement(MathF.Abs(expected)) - MathF.Abs(expected);
            Assert.That(Math.Abs(fast[i] - expected), Is.LessThanOrEqualTo(ulps * ulp), $"{what}[{i}] at x = {x[i]:R}: {fast[i]:R} vs {expected:R}");
        }
    }
}
