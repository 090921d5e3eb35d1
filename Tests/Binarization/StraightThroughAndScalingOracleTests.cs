using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>Forward and backward values of the straight-through and scaling families
/// (docs/schemes/straight-through.md, docs/schemes/scaling.md) against hand-computed oracle values.</summary>
[TestFixture, Category("Binarization")]
public class StraightThroughAndScalingOracleTests
{
    private const double Tol = 1e-6;

    [Test]
    public void BinaryConnect_Deterministic_Oracle()
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(new BinaryConnect(), [-1.5, -0.3, 0.0, 0.4, 2.0]);
        Assert.That(r.Y, Is.EqualTo(new[] { -1.0, -1, 1, 1, 1 }));
        Assert.That(r.Dx, Is.EqualTo(new[] { 1.0, 1, 1, 1, 1 }));
    }

    [Test]
    public void BinaryConnect_H_ScalesOutput_AndGlorotHelpers()
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(new BinaryConnect(0.5), [-0.1, 0.0, 0.7]);
        Assert.That(r.Y, Is.EqualTo(new[] { -0.5, 0.5, 0.5 }));
        Assert.That(BinaryConnect.GlorotH(100, 50), Is.EqualTo(0.1).Within(1e-15));
        Assert.That(BinaryConnect.GlorotLearningRateScale(100, 50), Is.EqualTo(10).Within(1e-12));
        Assert.That(BinaryConnect.Fans([8, 3, 3, 3]), Is.EqualTo((27, 72)));
        Assert.That(BinaryConnect.Fans([10, 784]), Is.EqualTo((784, 10)));
        var p = new Parameter("w", Tensor.FromValues([-2.0, 0.3, 1.5], [3]));
        BinaryConnect.ClipLatent(p);
        Assert.That(p.Value.ToDoubleArray(), Is.EqualTo(new[] { -1.0, 0.3, 1.0 }).Within(1e-7));
    }

    [Test]
    public void BinaryConnect_DualAveragingOracle_ZeroMapsToPlusOne()
    {
        // BinaryConnect (Courbariaux et al. 2015): θ⁽²⁾ = [−0.3, 0.0, −0.15] → w⁽²⁾ = [−1, +1, −1].
        Assert.That(QuantizerHarness.Run(new BinaryConnect(), [-0.3, 0.0, -0.15]).Y, Is.EqualTo(new[] { -1.0, 1, -1 }));
    }

    [Test]
    public void Bnn_Activation_Oracle()
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(new SteSign(), [-1.5, -0.3, 0.0, 0.4, 2.0]);
        Assert.That(r.Y, Is.EqualTo(new[] { -1.0, -1, 1, 1, 1 }));
        Assert.That(r.Dx, Is.EqualTo(new[] { 0.0, 1, 1, 1, 0 }));
    }

    [TestCase(ScaleGradMode.DetachedScaledSte, new[] { 1.05, 0, 0, 4.2 })]
    [TestCase(ScaleGradMode.DetachedUnscaledSte, new[] { 1.0, 0, 0, 4.0 })]
    [TestCase(ScaleGradMode.Exact, new[] { 0.55, 0.5, -0.5, 4.7 })]
    [TestCase(ScaleGradMode.Diagonal, new[] { 0.25 + 1.05, 0.5, 0.75, 1 + 4.2 })]
    public void Xnor_ScaledSign_Oracle(ScaleGradMode mode, double[] expected)
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(new ScaledSign(mode), [0.5, -1.5, 2.0, -0.2], [1, 4], [1, 2, 3, 4]);
        Assert.That(r.Y, Is.EqualTo(new[] { 1.05, -1.05, 1.05, -1.05 }).Within(1e-12));
        Assert.That(r.Dx, Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void Xnor_ScaleIsPerOutputChannel()
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(new ScaledSign(), [0.5, -1.5, 2.0, -0.2, 0.1, 0.3], [2, 3]);
        Assert.That(r.Y, Is.EqualTo(new[] { 4.0 / 3, -4.0 / 3, 4.0 / 3, -0.2, 0.2, 0.2 }).Within(1e-12));
    }

    [Test]
    public void MagnitudeAwareSign_EqualsDetachedScaledSteRow()
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(new MagnitudeAwareSign(), [0.5, -1.5, 2.0, -0.2], [1, 4], [1, 2, 3, 4]);
        Assert.That(r.Y, Is.EqualTo(new[] { 1.05, -1.05, 1.05, -1.05 }).Within(1e-12));
        Assert.That(r.Dx, Is.EqualTo(new[] { 1.05, 0, 0, 4.2 }).Within(1e-12));
    }

    [Test]
    public void ApproxSign_Oracle()
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(new ApproxSign(), [-1.5, -0.5, 0.0, 0.25, 0.9]);
        Assert.That(r.Y, Is.EqualTo(new[] { -1.0, -1, 1, 1, 1 }));
        Assert.That(r.Dx, Is.EqualTo(new[] { 0, 1, 2, 1.5, 0.2 }).Within(1e-12));
    }

    [Test]
    public void SwishSign_Oracle()
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(new SwishSign(5), [-1.0, -0.2, 0.0, 0.1, 0.5]);
        Assert.That(r.Y, Is.EqualTo(new[] { -1.0, -1, 1, 1, 1 }));
        Assert.That(r.Dx, Is.EqualTo(new[] { -0.194992, 3.023661, 5.0, 4.41229, -0.084622 }).Within(Tol));
        double[] ss = [.. new[] { -1.0, -0.2, 0.0, 0.1, 0.5 }.Select(x => BinaryMath.SignSwish(x, 5))];
        Assert.That(ss, Is.EqualTo(new[] { -1.053095, -0.855341, 0.0, 0.479922, 1.198802 }).Within(Tol));
    }

    [Test]
    public void SignSwish_DerivativeMatchesFiniteDifference_AndIsFiniteFarOut()
    {
        foreach (double x in new[] { -0.7, -0.05, 0.1, 0.33, 1.2 })
        {
            double fd = (BinaryMath.SignSwish(x + 1e-6, 5) - BinaryMath.SignSwish(x - 1e-6, 5)) / 2e-6;
            Assert.That(BinaryMath.SignSwishDerivative(x, 5), Is.EqualTo(fd).Within(1e-6));
        }
        Assert.That(BinaryMath.SignSwishDerivative(100, 5), Is.EqualTo(0.0));
        Assert.That(BinaryMath.SignSwish(-1e6, 5), Is.EqualTo(-1.0));
    }

    [Test]
    public void RSign_Oracle()
    {
        var q = new RSign(1, DType.Float64);
        q.Threshold.Load(Tensor.FromValues([0.2], [1], DType.Float64));
        QuantizerHarness.Result r = QuantizerHarness.Run(q, [-0.5, 0.1, 0.3, 1.5]);
        Assert.That(r.Y, Is.EqualTo(new[] { -1.0, -1, 1, 1 }));
        Assert.That(r.Dx, Is.EqualTo(new[] { 0.6, 1.8, 1.8, 0 }).Within(1e-12));
        Assert.That(r.ParameterGrads[0][0], Is.EqualTo(-4.2).Within(1e-12));
    }

    [Test]
    public void RSign_PerChannelThresholds()
    {
        var q = new RSign(2, DType.Float64);
        q.Threshold.Load(Tensor.FromValues([0.0, 0.5], [2], DType.Float64));
        QuantizerHarness.Result r = QuantizerHarness.Run(q, [0.2, 0.2, 0.2, 0.2], [1, 2, 2]);
        Assert.That(r.Y, Is.EqualTo(new[] { 1.0, 1, -1, -1 }));
        Assert.That(r.ParameterGrads[0], Is.EqualTo(new[] { -3.2, -2.8 }).Within(1e-12));
        Assert.That(() => q.Apply(Tensor.Zeros([1, 3, 2])), Throws.ArgumentException.With.Message.Contains("expected [N, 2"));
    }

    [Test]
    public void RPReLU_Oracle()
    {
        var q = new RPReLU(1, DType.Float64);
        q.Shift.Load(Tensor.FromValues([0.1], [1], DType.Float64));
        q.Bias.Load(Tensor.FromValues([0.05], [1], DType.Float64));
        double[] x = [-1.0, 0.0, 0.3, 2.0];
        QuantizerHarness.Result r = QuantizerHarness.Run(q, x);
        Assert.That(r.Y, Is.EqualTo(new[] { -0.225, 0.025, 0.25, 1.95 }).Within(1e-12));
        Assert.That(r.Dx, Is.EqualTo(new[] { 0.25, 0.25, 1, 1 }).Within(1e-12));
        Assert.That(r.ParameterGrads[0][0], Is.EqualTo(-0.25 - 0.25 - 1 - 1).Within(1e-12));
        Assert.That(r.ParameterGrads[1][0], Is.EqualTo(-1.1 - 0.1).Within(1e-12));
        Assert.That(r.ParameterGrads[2][0], Is.EqualTo(4).Within(1e-12));
    }

    [Test]
    public void DoReFa_Activations_Oracle()
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(new DoReFa(2), [-0.2, 0.1, 0.2, 0.5, 0.9, 1.3]);
        Assert.That(r.Y, Is.EqualTo(new[] { 0, 0, 1 / 3.0, 2 / 3.0, 1, 1 }).Within(1e-12));
        Assert.That(r.Dx, Is.EqualTo(new[] { 0.0, 1, 1, 1, 1, 0 }));
    }

    [Test]
    public void DoReFa_Weights_HandComputed()
    {
        // k = 1: n = 1, t = tanh θ, m = max|t|; u = t/(2m) + ½ ∈ [0, 1]; q = 2·round(u) − 1 (round half to even: u = ½ → 0 → −1).
        double[] theta = [0.5, -1.0, 0.0, 0.2];
        QuantizerHarness.Result r = QuantizerHarness.Run(new DoReFa(1, DoReFaMode.Weights), theta);
        Assert.That(r.Y, Is.EqualTo(new[] { 1.0, -1, -1, 1 }));
        double m = Math.Tanh(1.0);
        Assert.That(r.Dx, Is.EqualTo(theta.Select(t => (1 - Math.Tanh(t) * Math.Tanh(t)) / m).ToArray()).Within(1e-12));
    }

    [Test]
    public void Lab_Oracle_AndSecondMomentTracking()
    {
        var q = new Lab();
        q.SetSecondMoment([0.04, 0.01, 0.09, 0.0]);
        QuantizerHarness.Result r = QuantizerHarness.Run(q, [0.5, -0.25, 0.8, -1.0], dy: [1, 2, 0, -1]);
        Assert.That(r.Y, Is.EqualTo(new[] { 0.608333, -0.608333, 0.608333, -0.608333 }).Within(1e-6));
        Assert.That(r.Dx, Is.EqualTo(new[] { 1.0, 2, 0, -1 }));
        Assert.That(q.SecondMoment, Is.EqualTo(new[] { 0.999 * 0.04 + 0.001, 0.999 * 0.01 + 0.004, 0.999 * 0.09, 0.001 }).Within(1e-15));
    }

    [Test]
    public void Lab_WithoutHistory_UsesMeanAbs()
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(new Lab(), [0.5, -0.25, 0.8, -1.0]);
        Assert.That(r.Y[0], Is.EqualTo(0.6375).Within(1e-12));
    }

    [Test]
    public void LearnedScale_InitialisedToMeanAbs_GradientsForThetaAndScale()
    {
        var q = new LearnedScaleSign(2, dtype: DType.Float64);
        QuantizerHarness.Result r = QuantizerHarness.Run(q, [0.5, -1.5, 2.0, -0.2], [2, 2], [1, 2, 3, 4]);
        Assert.That(q.Scale.Value.ToDoubleArray(), Is.EqualTo(new[] { 1.0, 1.1 }).Within(1e-12));
        Assert.That(r.Y, Is.EqualTo(new[] { 1.0, -1.0, 1.1, -1.1 }).Within(1e-12));
        Assert.That(r.Dx, Is.EqualTo(new[] { 1.0, 0, 0, 4.4 }).Within(1e-12));
        Assert.That(r.ParameterGrads[0], Is.EqualTo(new[] { 1.0 - 2, 3.0 - 4 }).Within(1e-12));
        Assert.That(q.Parameters.Single().Name, Is.EqualTo("scale"));
    }
}
