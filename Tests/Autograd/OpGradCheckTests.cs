using BinaryGrad.Autograd;
using NUnit.Framework;

namespace BinaryGrad.Tests.Autograd;

[TestFixture, Category("Autograd")]
public class OpGradCheckTests
{
    private static IEnumerable<GradCheckCase> Cases => OpGradChecks.All;

    [TestCaseSource(nameof(Cases))]
    public void Backward_MatchesFiniteDifferencesInFloat64(GradCheckCase gradCheckCase)
    {
        GradCheckResult result = gradCheckCase.Run();
        Assert.That(result.Passed, Is.True, result.Describe());
        Assert.That(result.MaxRelError, Is.LessThanOrEqualTo(1e-6));
    }

    [Test]
    public void Catalog_CoversEveryOpTheFoundationPromises()
    {
        string[] required =
        [
            "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "abs", "sign", "clamp", "minimum", "maximum",
            "relu", "leaky_relu", "hardtanh", "tanh", "sigmoid", "softplus", "where", "sum", "mean", "max", "var", "matmul",
            "reshape", "permute", "transpose", "slice", "index_select", "gather", "concat", "stack", "pad", "softmax",
            "log_softmax", "cross_entropy", "nll", "mse",
        ];
        var ops = OpGradChecks.All.Select(c => c.Op).ToHashSet();
        Assert.That(required.Where(op => !ops.Contains(op)), Is.Empty);
        Assert.That(OpGradChecks.All.Select(c => c.Name), Is.Unique);
    }

    /// <summary>An op whose backward is off by a factor of two: the check must notice.</summary>
    private sealed class DoubledSquare : Function
    {
        private Tensor? _x;
        public override string Name => "doubled_square";
        protected override Tensor Forward(Tensor[] inputs) => Ops.Mul(_x = inputs[0], inputs[0]);
        protected internal override Tensor?[] Backward(Tensor dy) => [Ops.Mul(Ops.Mul(dy, _x!), 4.0)]; // true derivative: 2x
    }

    [Test]
    public void GradCheck_RejectsAWrongBackward()
    {
        Tensor x = GradCheckInputs.Leaf(new Rng(1), [5]);
        GradCheckResult result = GradCheck.Check(t => new DoubledSquare().Apply(t[0]), [x]);
        Assert.That(result.Passed, Is.False);
        Assert.That(result.MaxRelError, Is.GreaterThan(0.1));
        Assert.That(() => GradCheck.AssertMatchesFiniteDifferences(t => new DoubledSquare().Apply(t[0]), x),
            Throws.InstanceOf<GradCheckException>().With.Message.Contains("input 0").And.Message.Contains("worst at element"));
    }

    [Test]
    public void GradCheck_ReportsWorstElementOfEachInput()
    {
        Tensor a = GradCheckInputs.Leaf(new Rng(2), [3]), b = GradCheckInputs.Leaf(new Rng(3), [3]);
        GradCheckResult result = GradCheck.Check(t => Ops.Mul(t[0], t[1]), [a, b]);
        Assert.That(result.Inputs.Select(r => r.Input), Is.EqualTo(new[] { 0, 1 }));
        Assert.That(result.Inputs.All(r => r.WorstIndex is >= 0 and < 3), Is.True);
    }

    [Test]
    public void GradCheck_RejectsFloat32Inputs() =>
        Assert.That(() => GradCheck.Check(t => Ops.Exp(t[0]), [Tensor.Ones([2], DType.Float32, requiresGrad: true)]),
            Throws.ArgumentException.With.Message.Contains("float64"));
}
