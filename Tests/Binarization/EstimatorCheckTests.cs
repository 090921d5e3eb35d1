using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>The public helpers users test their own estimators with: they must pass on correct schemes and, just as
/// important, fail on schemes that differ from the stated formula only at the boundaries.</summary>
[TestFixture, Category("Binarization")]
public class EstimatorCheckTests
{
    private static readonly Func<double, double> InclusiveMask = x => Math.Abs(x) <= 1 ? 1 : 0;

    [Test]
    public void ProbePoints_IncludeZeroTheClipAndBothSidesOfIt_AllFloat32Exact()
    {
        double[] p = EstimatorCheck.ProbePoints(clip: 0.5, randomPoints: 20, seed: 3);
        Assert.Multiple(() =>
        {
            Assert.That(p, Does.Contain(0.0).And.Contain(0.5).And.Contain(-0.5));
            Assert.That(p.Any(v => v > 0.5 && v < 0.501) && p.Any(v => v < 0.5 && v > 0.499), Is.True, "just outside and inside the clip");
            Assert.That(p, Has.Length.EqualTo(11 + 20));
            Assert.That(p.All(v => (double)(float)v == v), Is.True);
            Assert.That(p.All(v => Math.Abs(v) <= 1.0), Is.True);
        });
    }

    [Test]
    public void BuiltInSchemes_PassWithTheirDocumentedSurrogates()
    {
        EstimatorCheck.AssertBackwardEquals(new SteSign(), InclusiveMask);
        EstimatorCheck.AssertBackwardEquals(new SteSign(0.5), x => Math.Abs(x) <= 0.5 ? 1 : 0, clip: 0.5);
        EstimatorCheck.AssertBackwardEquals(new ApproxSign(), x => Math.Abs(x) <= 1 ? 2 - 2 * Math.Abs(x) : 0);
        EstimatorCheck.AssertForwardEquals(new SteSign(), x => x >= 0 ? 1 : -1);
    }

    [Test]
    public void ExclusiveMask_IsCaughtAtExactlyTheClip()
    {
        // SteSign passes gradient at |x| = 1 (BNN's inclusive mask); a surrogate 1[|x| < 1] differs only at ±1.
        var e = Assert.Throws<EstimatorCheckException>(() =>
            EstimatorCheck.AssertBackwardEquals(new SteSign(), x => Math.Abs(x) < 1 ? 1 : 0))!;
        Assert.That(e.Message, Does.Contain("x = 1:").And.Contain("x = -1:").And.Contain("ste_sign"));
        Assert.That(e.Message, Does.Contain("at 4 of"), "±1 in both dtypes, nothing else");
    }

    [Test]
    public void WrongSignOfZero_IsCaughtByTheForwardCheck()
    {
        var e = Assert.Throws<EstimatorCheckException>(() => EstimatorCheck.AssertForwardEquals(new SteSign(), x => x > 0 ? 1 : -1))!;
        Assert.That(e.Message, Does.Contain("x = 0:"));
    }

    [Test]
    public void FunctionQuantizer_BackwardIsUpstreamTimesTheGivenSurrogate()
    {
        // A "triangle" STE: sign forward, (1 − |x|)₊ backward.
        var triangle = new FunctionQuantizer("triangle-sign", x => x >= 0 ? 1 : -1, x => Math.Max(0, 1 - Math.Abs(x)), isHardSign: true);
        EstimatorCheck.AssertBackwardEquals(triangle, x => Math.Max(0, 1 - Math.Abs(x)));
        EstimatorCheck.AssertForwardEquals(triangle, x => x >= 0 ? 1 : -1);
        Assert.Throws<EstimatorCheckException>(() => EstimatorCheck.AssertBackwardEquals(triangle, InclusiveMask));
    }

    [Test]
    public void FunctionQuantizer_DeclaredHardSignButNotBinary_Throws()
    {
        var liar = new FunctionQuantizer("not-a-sign", Math.Tanh, x => 1 - Math.Tanh(x) * Math.Tanh(x), isHardSign: true);
        var e = Assert.Throws<InvalidOperationException>(() => liar.Apply(Tensor.FromValues([0.3, -2.0], [2], DType.Float64)))!;
        Assert.That(e.Message, Does.Contain("not-a-sign").And.Contain("not ±1"));
    }

    [Test]
    public void AssertSmoothBackward_PassesForTheExactDerivative_FailsForAWrongOne()
    {
        var tanh = new FunctionQuantizer("tanh2", x => Math.Tanh(2 * x), x => 2 / Math.Pow(Math.Cosh(2 * x), 2), isSmooth: true);
        EstimatorCheck.AssertSmoothBackward(tanh);
        var wrong = new FunctionQuantizer("tanh2-wrong", x => Math.Tanh(2 * x), x => 1 / Math.Pow(Math.Cosh(2 * x), 2), isSmooth: true);
        Assert.Throws<GradCheckException>(() => EstimatorCheck.AssertSmoothBackward(wrong));
    }

    [Test]
    public void Register_MakesAUserSchemeCreatableByName_AndRefusesTakenOrBadNames()
    {
        string name = "test-user-sign-" + Guid.NewGuid().ToString("N")[..8];
        SchemeRegistry.Register(new SchemeInfo(name, "sign with a triangle surrogate (test)", Provenance.StandardConstruction, "user", [],
            _ => new SchemeInstance(new FunctionQuantizer(name, x => x >= 0 ? 1 : -1, _ => 1, isHardSign: true),
                                    new FunctionQuantizer(name, x => x >= 0 ? 1 : -1, x => Math.Max(0, 1 - Math.Abs(x)), isHardSign: true))));
        SchemeInstance created = SchemeRegistry.Create(name);
        Assert.Multiple(() =>
        {
            Assert.That(SchemeRegistry.Names, Does.Contain(name).And.Contain("bnn"));
            Assert.That(created.Activations!.Derivative(0.25), Is.EqualTo(0.75));
            Assert.That(() => SchemeRegistry.Register(SchemeRegistry.Get("bnn")), Throws.ArgumentException.With.Message.Contains("already registered"));
            Assert.That(() => SchemeRegistry.Register(SchemeRegistry.Get("bnn") with { Name = "My Sign" }), Throws.ArgumentException.With.Message.Contains("kebab-case"));
        });
    }
}
