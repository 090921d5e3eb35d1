using BinaryGrad.Cli.Commands;
using BinaryGrad.Cli.Training;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

[TestFixture, Category("Cli")]
public class GraphAndCompareTests
{
    [Test]
    public void Graph_OfBnnStep_MarksEstimatorsAndNamesParameters()
    {
        string dot = GraphCommand.Dot("mlp", "bnn");
        Assert.That(dot, Does.StartWith("digraph training_step"));
        Assert.That(dot, Does.Contain("(estimator)").And.Contain("fillcolor=orange"));
        Assert.That(dot, Does.Contain("layers.1.weight\\n[1024,784]"), "parameters appear by their full dotted names");
        Assert.That(dot, Does.Contain("cross_entropy\\n[]"));
    }

    [Test]
    public void Graph_OfFloatStep_HasNoEstimator() => Assert.That(GraphCommand.Dot("mlp", "none"), Does.Not.Contain("estimator"));

    [Test]
    public void Graph_UnknownScheme_IsBadInput() =>
        Assert.That(GraphCommand.Run("mlp", "nope", Path.Combine(Path.GetTempPath(), "never.dot"), TextWriter.Null, TextWriter.Null), Is.EqualTo(2));

    [Test]
    public void Compare_TrainsEachSchemeUnderTheSameBudget()
    {
        var options = new TrainOptions { Dataset = "digits", Model = "mlp", Epochs = 1, BatchSize = 64, Seed = 3, Width = 64, ShowProgress = false,
                                         DataDirectory = Path.Combine(Path.GetTempPath(), "bg-compare") };
        IReadOnlyList<CompareCommand.Row> rows = CompareCommand.Run(options, ["none", "binaryconnect"], TextWriter.Null);
        Assert.That(rows.Select(r => r.Scheme), Is.EqualTo(new[] { "none", "binaryconnect" }));
        Assert.That(rows[0].FlipRatio, Is.Null);
        Assert.That(rows[1].FlipRatio, Is.InRange(0.0, 1.0));
        Assert.That(rows.All(r => r.TestAcc is > 0.3 and <= 1), Is.True);
        string markdown = CompareCommand.Markdown(rows, options);
        Assert.That(markdown, Does.Contain("| scheme | test accuracy | flip ratio | wall time (s) | images/s |").And.Contain("| binaryconnect |"));
    }
}
