using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>ProxConnect / PC++ / BNN++ against hand-computed oracle values (plain-math Python; docs/schemes/proximal.md).</summary>
[TestFixture, Category("Binarization")]
public class PcPlusPlusTests
{
    private const double Tol = 1e-5;
    private static readonly double[] Theta = [-0.6, -0.05, 0.0, 0.1, 0.4];

    [TestCase(1.0, new[] { -0.6, -0.05, 0, 0.1, 0.4 })]
    [TestCase(4.0, new[] { -1, -0.2, 0, 0.4, 1 })]
    public void ProxConnect_Forward_Oracle(double rho, double[] expected)
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(PcPlusPlus.ProxConnect(Schedule.Constant(rho)), Theta);
        Assert.That(r.Y, Is.EqualTo(expected).Within(1e-12));
        Assert.That(r.Dx, Is.All.EqualTo(1.0));
    }

    [TestCase(1.0, new[] { -1, -0.24742, 0, 0.479922, 1 })]
    [TestCase(4.0, new[] { -1, -0.98968, 0, 1, 1 })]
    public void BnnPlusPlusClip_Forward_Oracle(double rho, double[] expected)
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(PcPlusPlus.BnnPlusPlusClip(5, Schedule.Constant(rho)), Theta);
        Assert.That(r.Y, Is.EqualTo(expected).Within(Tol));
        Assert.That(r.Dx, Is.EqualTo(new[] { -0.323214, 4.846163, 5.0, 4.41229, 0.500622 }).Within(Tol));
    }

    [Test]
    public void ProxQuant_BackwardFactor_Oracle()
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(PcPlusPlus.ProxQuant(Schedule.Constant(4)), Theta);
        Assert.That(r.Dx, Is.EqualTo(new[] { 0.0, 4, 4, 4, 0 }));
    }

    public static IEnumerable<TestCaseData> OneStepRows()
    {
        double[] bnnPlus = [-0.020148, -4.846163, 2.206145, 1.001243];
        double[] bnnPlusStep = [-1.297985, 0.434616, -0.120615, 0.299876];
        yield return new TestCaseData(PcPlusPlus.BinaryConnect(), new[] { -1.0, -1, 1, 1 }, new[] { 0.3, -1.0, 0.5, 2.0 }, new[] { -1.33, 0.05, 0.05, 0.2 }).SetArgDisplayNames("bc");
        yield return new TestCaseData(PcPlusPlus.Bnn(), new[] { -1.0, -1, 1, 1 }, new[] { 0, -1.0, 0.5, 2.0 }, new[] { -1.3, 0.05, 0.05, 0.2 }).SetArgDisplayNames("bnn");
        yield return new TestCaseData(PcPlusPlus.BnnPlus(5), new[] { -1.0, -1, 1, 1 }, bnnPlus, bnnPlusStep).SetArgDisplayNames("bnn+");
        yield return new TestCaseData(PcPlusPlus.BnnPlusPlus(Schedule.Constant(5)), new[] { -1.016484, -0.24742, 0.479922, 1.181568 }, bnnPlus, bnnPlusStep).SetArgDisplayNames("bnn++");
        yield return new TestCaseData(new PcPlusPlus("pc_w", ElementMap.WShapedProx(Schedule.Constant(0.25)), ElementMap.Identity()),
            new[] { -1.05, -0.3, 0.35, 0.65 }, new[] { 0.3, -1.0, 0.5, 2.0 }, new[] { -1.33, 0.05, 0.05, 0.2 }).SetArgDisplayNames("pc-wshaped");
    }

    [TestCaseSource(nameof(OneStepRows))]
    public void OnePcPlusPlusStep_Oracle(PcPlusPlus q, double[] forward, double[] grad, double[] after)
    {
        double[] theta = [-1.3, -0.05, 0.1, 0.4];
        QuantizerHarness.Result r = QuantizerHarness.Run(q, theta, dy: [0.3, -1.0, 0.5, 2.0]);
        Assert.That(r.Y, Is.EqualTo(forward).Within(Tol));
        Assert.That(r.Dx, Is.EqualTo(grad).Within(Tol));
        Assert.That(theta.Select((t, i) => t - 0.1 * r.Dx[i]).ToArray(), Is.EqualTo(after).Within(Tol));
    }

    [TestCase(0.25, new[] { -1.35, -0.95, -0.45, 0.3, 0.55, 1.0, 1.15 })]
    [TestCase(0.5, new[] { -1.1, -1.0, -0.7, 0.55, 0.8, 1.0, 1.0 })]
    [TestCase(1.5, new[] { -1.0, -1, -1, 1, 1, 1, 1 })]
    public void WShapedProx_Oracle(double mu, double[] expected)
    {
        ElementMap p = ElementMap.WShapedProx(Schedule.Constant(mu));
        double[] w = [-1.6, -0.7, -0.2, 0.05, 0.3, 0.9, 1.4];
        Assert.That(w.Select(p.Value).ToArray(), Is.EqualTo(expected).Within(1e-12));
    }

    [TestCase(1.0, new[] { -0.29556, 0.049979, 0.099834, 0.479922 }, new[] { 0.955996, 0.998751, 0.995012, 0.882458 })]
    [TestCase(20.0, new[] { -1.024653, 0.855341, 1.181568, 1.000817 }, new[] { -0.391714, 12.094645, 2.002487, -0.014525 })]
    [TestCase(100.0, new[] { -1.0, 1.053095, 1.000817, 1.0 }, new[] { 0, -3.899845, -0.072625, 0 })]
    public void SignSwish_Convergence_Oracle(double beta, double[] value, double[] derivative)
    {
        ElementMap ss = ElementMap.SignSwish(Schedule.Constant(beta));
        double[] x = [-0.3, 0.05, 0.1, 0.5];
        Assert.That(x.Select(ss.Value).ToArray(), Is.EqualTo(value).Within(Tol));
        Assert.That(x.Select(ss.Derivative).ToArray(), Is.EqualTo(derivative).Within(Tol));
    }

    public static IEnumerable<TestCaseData> Members()
    {
        yield return new TestCaseData(PcPlusPlus.BinaryConnect(), (Func<double, double>)(_ => 1)).SetArgDisplayNames("bc");
        yield return new TestCaseData(PcPlusPlus.Bnn(), (Func<double, double>)(x => Math.Abs(x) <= 1 ? 1 : 0)).SetArgDisplayNames("bnn");
        yield return new TestCaseData(PcPlusPlus.BnnPlus(5), (Func<double, double>)(x => BinaryMath.SignSwishDerivative(x, 5))).SetArgDisplayNames("bnn+");
        yield return new TestCaseData(PcPlusPlus.ProxConnect(), (Func<double, double>)(_ => 1)).SetArgDisplayNames("proxconnect");
    }

    [TestCaseSource(nameof(Members))]
    public void Backward_IsDeclaredBackwardQuantizerDerivativeTimesUpstream(PcPlusPlus q, Func<double, double> documented)
    {
        double[] x = QuantizerHarness.Probes();
        double[] dy = QuantizerHarness.Upstream(x.Length);
        QuantizerHarness.Result r = QuantizerHarness.Run(q, x, dy: dy);
        for (int i = 0; i < x.Length; i++) Assert.That(r.Dx[i], Is.EqualTo(dy[i] * documented(x[i])).Within(1e-12), $"x = {x[i]:R}");
        Assert.That(q.IsEstimator, Is.True);
    }

    [Test]
    public void InverseCosineSchedule_DrivesRho_AtGivenSteps()
    {
        Schedule rho = Schedule.InverseCosineSlope(1e-6);
        Assert.That(rho.ValueAt(new TrainingProgress(0, 0, 1, 100)), Is.EqualTo(1.0).Within(1e-12));
        Assert.That(rho.ValueAt(new TrainingProgress(0, 50, 1, 100)), Is.EqualTo(2.0).Within(1e-12));
        Assert.That(rho.ValueAt(new TrainingProgress(0, 100, 1, 100)), Is.EqualTo(1e6).Within(1e-3));
        PcPlusPlus q = PcPlusPlus.ProxConnect();
        Assert.That(q.Forward(0.3), Is.EqualTo(0.3).Within(1e-12));
        q.OnProgress(new TrainingProgress(0, 50, 1, 100));
        Assert.That(q.Forward(0.3), Is.EqualTo(0.6).Within(1e-12));
        q.OnProgress(new TrainingProgress(0, 100, 1, 100));
        Assert.That(q.Forward(0.3), Is.EqualTo(1.0));
        Assert.That(q.Forward(-1e-5), Is.EqualTo(-1.0));
    }

    [Test]
    public void BnnPlusPlus_BetaAnnealsGeometrically_AndDeploysSign()
    {
        PcPlusPlus q = PcPlusPlus.BnnPlusPlus();
        Assert.That(q.Forward(0.1), Is.EqualTo(BinaryMath.SignSwish(0.1, 5)).Within(1e-15));
        q.OnProgress(new TrainingProgress(0, 50, 1, 100));
        Assert.That(q.Forward(0.1), Is.EqualTo(BinaryMath.SignSwish(0.1, 5 * Math.Sqrt(20))).Within(1e-12));
        Assert.That(q.Derivative(0.1), Is.EqualTo(BinaryMath.SignSwishDerivative(0.1, 5 * Math.Sqrt(20))).Within(1e-12));
        q.OnProgress(new TrainingProgress(0, 100, 1, 100));
        Assert.That(q.Forward(0.1), Is.EqualTo(BinaryMath.SignSwish(0.1, 100)).Within(1e-12));
        Assert.That(q.IsHardSign, Is.False);
        Assert.That(q.IsSmooth, Is.True);
        q.Training = false;
        Assert.That(q.IsHardSign, Is.True);
        Assert.That(QuantizerHarness.Run(q, [-0.2, 0.0, 0.01]).Y, Is.EqualTo(new[] { -1.0, 1, 1 }));
    }

    [Test]
    public void SignSwish_IsOddAndSignPreserving()
    {
        for (double x = -3; x <= 3; x += 0.01)
        {
            Assert.That(BinaryMath.SignSwish(x, 5) + BinaryMath.SignSwish(-x, 5), Is.EqualTo(0).Within(1e-14));
            if (Math.Abs(x) > 1e-9) Assert.That(Math.Sign(BinaryMath.SignSwish(x, 5)), Is.EqualTo(Math.Sign(x)));
        }
    }
}
