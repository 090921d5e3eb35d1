using System.Text.RegularExpressions;
using BinaryGrad.Autograd;
using BinaryGrad.Cli;
using BinaryGrad.Cli.Commands;
using BinaryGrad.Cli.Explain;
using BinaryGrad.Cli.Training;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli.Explain;

[TestFixture, Category("Cli")]
public class ExplainCommandTests
{
    private static ExplainCommand.ExplainRequest Expr(string expr, params string[] shapes) => new("unused.html", expr, shapes, 3, null, null);

    [Test]
    public void Parser_FollowsPythonPrecedence()
    {
        var inputs = new Dictionary<string, Tensor>
        {
            ["a"] = Tensor.FromValues([2.0], [], DType.Float64), ["b"] = Tensor.FromValues([3.0], [], DType.Float64), ["c"] = Tensor.FromValues([5.0], [], DType.Float64),
        };
        double Eval(string text) => Expression.Parse(text).Evaluate(inputs, Ops.Sign).ToDoubleArray()[0];
        Assert.That(Eval("a + b * c"), Is.EqualTo(2 + 3 * 5));
        Assert.That(Eval("a - b - c"), Is.EqualTo(2 - 3 - 5.0), "left associative");
        Assert.That(Eval("-a * (b + c) / 2"), Is.EqualTo(-2 * (3 + 5) / 2.0));
        Assert.That(Eval("exp(log(c)) + sign(-b)"), Is.EqualTo(5 - 1).Within(1e-12));
    }

    [TestCase("tanh(x @ w", "at position 11, expected ')', found the end")]
    [TestCase("x + * w", "at position 5, expected a number, an input name, a function or '(', found '*'")]
    [TestCase("cosh(x)", "at position 1, expected a known function")]
    [TestCase("x w", "at position 3, expected an operator (+ - * / @) or the end, found 'w'")]
    [TestCase("tanh + x", "at position 6, expected '(' after the function tanh")]
    public void ParseErrors_NameThePositionAndWhatWasExpected(string expr, string message)
    {
        var e = Assert.Throws<UsageException>(() => ExplainCommand.Build(Expr(expr, "x=2x3", "w=3x2")))!;
        Assert.That(e.Message, Does.Contain(message));
    }

    [TestCase(new[] { "x=2x3" }, "x + z", "'z' but no --shape")]
    [TestCase(new[] { "x=2x3", "q=2" }, "x", "--shape q: 'q' does not appear")]
    [TestCase(new[] { "x=2y3" }, "x", "dimension 1 is '2y3'")]
    [TestCase(new[] { "x=2x3" }, "x @ x", "cannot be evaluated with the given shapes")]
    public void BadInput_IsOneClearLine_Exit2(string[] shapes, string expr, string message)
    {
        var error = new StringWriter();
        int code = Program.Run(["explain", "--expr", expr, .. shapes.SelectMany(s => new[] { "--shape", s }), "--out", Path.Combine(Path.GetTempPath(), "never-explain.html")], TextWriter.Null, error);
        Assert.That(code, Is.EqualTo(Program.BadInput));
        Assert.That(error.ToString().TrimEnd(), Does.StartWith("binarygrad explain: ").And.Contain(message).And.Not.Contain("\n"));
    }

    [Test]
    public void ExpressionPage_IsSelfContained_AndShowsFormulasAndChecks()
    {
        ExplainSubject subject = ExplainCommand.Build(Expr("tanh(x @ w) * y", "x=2x3", "w=3x2", "y=2x2"));
        string html = ExplainPage.Render(subject, OpFormulas.Default());
        Assert.That(Regex.Matches(html, "data-node=\"").Count, Is.EqualTo(7), "x, w, matmul, tanh, y, mul, sum");
        Assert.That(html, Does.Contain("Content-Security-Policy").And.Contain("default-src 'none'"));
        Assert.That(Regex.IsMatch(html, "(src|href)=\"(https?:)?//"), Is.False, "nothing is loaded from the network");
        Assert.That(html, Does.Contain("y = tanh x. Backward: dx = dy ⊙ (1 − y"), "tanh's formula, from BinaryGrad.Autograd.xml");
        Assert.That(subject.Checks, Has.Count.EqualTo(3).And.All.Matches<LeafCheck>(c => c.Passed && c.MaxRelError < 1e-6));
    }

    [Test]
    public void SignWithScheme_IsAnEstimator_AndTheDifferingCountMatchesTheClippedSte()
    {
        ExplainSubject subject = ExplainCommand.Build(Expr("sign(x * 2) * y", "x=4x4", "y=4x4") with { Scheme = "bnn" });
        BackwardRecording rec = subject.Recording;
        GraphNode sign = rec.Nodes.Single(n => n.IsEstimator);
        double[] input = rec.Nodes[sign.Inputs[0]].Forward, upstream = rec.Steps.Single(s => s.Node == sign.Id).Upstream;
        // the clipped STE of BNN (Hubara et al. 2016) passes dy where |x| ≤ 1: by hand from the recorded forward values
        int expected = input.Where((v, i) => Math.Abs(v) <= 1 && upstream[i] != 0).Count();
        Assert.That(expected, Is.InRange(1, 15), "the inputs straddle |x| = 1, so the count is informative");
        string html = ExplainPage.Render(subject, OpFormulas.Default());
        Assert.That(html, Does.Contain($"data-differ=\"{expected}\""));
        Assert.That(html, Does.Contain("<svg"), "the scheme's surrogate curve");
        Assert.That(subject.Checks.Single(c => rec.Nodes[c.Node].Label == "x").Passed, Is.False, "finite differences see sign's true derivative, 0");
    }

    [Test]
    public void ModelStep_RecordsParameterGradients_AndEstimators()
    {
        ExplainSubject subject = ExplainCommand.Build(new ExplainCommand.ExplainRequest("unused.html", null, [], 1, "bnn", "mlp", Width: 8));
        BackwardRecording rec = subject.Recording;
        Assert.That(rec.Nodes.Count(n => n.IsEstimator), Is.EqualTo(7), "4 binarized weight matrices (binaryconnect) and 3 binarized activations (ste_sign)");
        Assert.That(rec.Nodes[^1].Label, Is.EqualTo("cross_entropy"));
        Assert.That(rec.Nodes.Where(n => n.Kind == NodeKind.Leaf).Select(n => n.Label), Does.Contain("layers.1.weight"));
        Assert.That(subject.Checks, Is.Not.Empty);
        // the classifier's bias gets dL/db = Σ_n (softmax − onehot)/N: each row of softmax − onehot sums to 0, so the
        // total over classes of the recorded gradient is 0 whatever the values
        GraphNode bias = rec.Nodes.Last(n => n.Kind == NodeKind.Leaf && n.Label.EndsWith(".bias", StringComparison.Ordinal) && n.Shape.SequenceEqual(new[] { 10 }));
        Assert.That(rec.AccumulatedAfter(bias.Id, rec.Steps.Count)!.Sum(), Is.EqualTo(0).Within(1e-12));
    }

    [Test]
    public void Cli_WritesThePage()
    {
        string path = Path.Combine(Path.GetTempPath(), $"explain-{Environment.ProcessId}.html");
        try
        {
            var output = new StringWriter();
            int code = Program.Run(["explain", "--model", "mlp", "--scheme", "bnn", "--dataset", "digits", "--width", "8", "--out", path], output, TextWriter.Null);
            Assert.That(code, Is.EqualTo(0));
            Assert.That(output.ToString(), Does.StartWith($"wrote {path}"));
            Assert.That(File.ReadAllText(path), Does.Contain("id=\"stepper\""));
        }
        finally { File.Delete(path); }
    }
}
