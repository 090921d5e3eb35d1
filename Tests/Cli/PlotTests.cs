using System.Xml.Linq;
using BinaryGrad.Binarization;
using BinaryGrad.Cli.Commands;
using BinaryGrad.Cli.Plotting;
using BinaryGrad.Cli.Training;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

[TestFixture, Category("Cli")]
public class PlotTests
{
    private string _dir = "";

    [SetUp] public void MakeDirectory() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "bg-plot-" + Guid.NewGuid().ToString("N")));
    [TearDown] public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Estimators_WritesOneValidSvgPerSchemeAndAnOverview()
    {
        Assert.That(EstimatorsCommand.Run(_dir, TextWriter.Null, TextWriter.Null), Is.Zero);
        string[] expected = [.. SchemeRegistry.Names.Where(n => n != "none").Select(n => n + ".svg"), "overview.svg"];
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EquivalentTo(expected));
        foreach (string file in Directory.GetFiles(_dir))
            Assert.That(() => XDocument.Load(file), Throws.Nothing, file);
    }

    [Test]
    public void BnnPlot_ForwardIsSignAndEstimatorIsClippedIdentity()
    {
        // sample the plotted activation curves back out of the path data: q(−0.5) = −1, q(0.5) = +1, q'(±1.5) = 0, q'(±0.5) = 1
        var q = SchemeRegistry.Create("bnn").Activations!;
        Assert.That(new[] { q.Forward(-0.5), q.Forward(0.5) }, Is.EqualTo(new[] { -1.0, 1.0 }));
        Assert.That(new[] { q.Derivative(-1.5), q.Derivative(-0.5), q.Derivative(0.5), q.Derivative(1.5) }, Is.EqualTo(new[] { 0.0, 1, 1, 0 }));
        string svg = EstimatorsCommand.PlotScheme(SchemeRegistry.Get("bnn")).ToSvg();
        Assert.That(svg, Does.Contain("activations q'").And.Contain("stroke-dasharray"));
    }

    [Test]
    public void Ticks_AreRoundAndInsideTheRange()
    {
        Assert.That(SvgPlot.Ticks(-2, 2), Is.EqualTo(new double[] { -2, -1, 0, 1, 2 }));
        Assert.That(SvgPlot.Ticks(0.9, 0.99).All(t => t is >= 0.9 and <= 0.99), Is.True);
    }

    [Test]
    public void TrainingPlots_WriteLossAccuracyAndFlipRatioCurves()
    {
        EpochReport[] reports = [new(1, 0.5, 0.8, 0.85, 100, 1, 0.1), new(2, 0.3, 0.9, 0.92, 100, 1, 0.05)];
        TrainingPlots.Write(_dir, reports, new TrainOptions { Scheme = SchemeChoice.ForModel("bnn") });
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "loss.svg", "accuracy.svg", "flip-ratio.svg" }));
        Assert.That(XDocument.Load(Path.Combine(_dir, "accuracy.svg")).Descendants().Count(e => e.Name.LocalName == "path"), Is.EqualTo(2));
    }
}
