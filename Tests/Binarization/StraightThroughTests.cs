using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>Elementwise schemes: backward is the declared pseudo-derivative times the upstream gradient, element by element.</summary>
[TestFixture, Category("Binarization")]
public class StraightThroughTests
{
    public static IEnumerable<TestCaseData> ElementwiseSchemes()
    {
        yield return new TestCaseData(new SteSign(), 1.0, (Func<double, double>)(x => Math.Abs(x) <= 1 ? 1 : 0)).SetArgDisplayNames("ste_sign");
        yield return new TestCaseData(new SteSign(0.5), 0.5, (Func<double, double>)(x => Math.Abs(x) <= 0.5 ? 1 : 0)).SetArgDisplayNames("ste_sign_c0.5");
        yield return new TestCaseData(new SteSign(double.PositiveInfinity), 1.0, (Func<double, double>)(_ => 1)).SetArgDisplayNames("ste_sign_unclipped");
        yield return new TestCaseData(new ApproxSign(), 1.0, (Func<double, double>)(x => Math.Abs(x) <= 1 ? 2 - 2 * Math.Abs(x) : 0)).SetArgDisplayNames("approx_sign");
        yield return new TestCaseData(new SwishSign(5), 1.0, (Func<double, double>)(x =>
        {
            double z = 5 * x;
            return Math.Abs(z) > 80 ? 0 : 5 * (2 - z * Math.Tanh(z / 2)) / (1 + Math.Cosh(z));
        })).SetArgDisplayNames("swish_sign");
        yield return new TestCaseData(new BinaryConnect(), 1.0, (Func<double, double>)(_ => 1)).SetArgDisplayNames("binaryconnect");
        yield return new TestCaseData(new DoReFa(2), 1.0, (Func<double, double>)(x => x >= 0 && x <= 1 ? 1 : 0)).SetArgDisplayNames("dorefa_activations");
    }

    [TestCaseSource(nameof(ElementwiseSchemes))]
    public void Backward_IsDeclaredPseudoDerivativeTimesUpstream(Quantizer q, double clip, Func<double, double> documented)
    {
        double[] x = QuantizerHarness.Probes(clip);
        double[] dy = QuantizerHarness.Upstream(x.Length);
        QuantizerHarness.Result r = QuantizerHarness.Run(q, x, dy: dy);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.That(r.Dx[i], Is.EqualTo(dy[i] * documented(x[i])).Within(1e-12), $"x = {x[i]:R}");
            Assert.That(q.Derivative(x[i]), Is.EqualTo(documented(x[i])).Within(1e-12), $"scalar derivative at x = {x[i]:R}");
            Assert.That(r.Y[i], Is.EqualTo(q.Forward(x[i])).Within(1e-12), $"forward at x = {x[i]:R}");
        }
    }

    [TestCaseSource(nameof(ElementwiseSchemes))]
    public void HardSignSchemes_OutputExactlyPlusMinusOne_ZeroMapsToPlusOne(Quantizer q, double clip, Func<double, double> documented)
    {
        Assume.That(q.IsHardSign, Is.True);
        QuantizerHarness.Result r = QuantizerHarness.Run(q, QuantizerHarness.Probes(clip), dtype: DType.Float32);
        Assert.That(r.Y, Is.All.EqualTo(1.0).Or.EqualTo(-1.0));
        Assert.That(q.Forward(0), Is.EqualTo(1.0));
    }

    [Test]
    public void ApplyMarksEstimatorNodes()
    {
        Tensor x = Tensor.FromValues([0.3, -0.2], [2], requiresGrad: true);
        Assert.That(new SteSign().Apply(x).GradFn!.IsEstimator, Is.True);
        Assert.That(new RPReLU().Apply(x).GradFn!.IsEstimator, Is.False);
        Assert.That(new SteSign().Apply(x).GradFn!.Name, Is.EqualTo("ste_sign"));
    }

    [Test]
    public void Float32Input_GivesFloat32OutputAndGradient()
    {
        Tensor x = Tensor.FromValues([0.3, -0.2, 1.5], [3], DType.Float32, requiresGrad: true);
        Tensor y = new ApproxSign().Apply(x);
        y.Backward([1.0, 1.0, 1.0]);
        Assert.That(y.DType, Is.EqualTo(DType.Float32));
        Assert.That(x.Grad!.DType, Is.EqualTo(DType.Float32));
        Assert.That(x.Grad.ToDoubleArray(), Is.EqualTo(new[] { 1.4, 1.6, 0 }).Within(1e-6));
    }

    [Test]
    public void SignZeroOption_TorchConvention()
    {
        var q = new SteSign(zero: SignZero.Zero);
        Assert.That(q.Forward(0), Is.EqualTo(0.0));
        Assert.That(q.IsHardSign, Is.False);
        Assert.That(BinaryMath.Sign(double.NaN), Is.NaN);
    }
}
