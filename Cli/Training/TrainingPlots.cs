using BinaryGrad.Cli.Plotting;

namespace BinaryGrad.Cli.Training;

/// <summary><c>train --plot DIR</c>: training curves per epoch as SVG — <c>loss.svg</c> (train loss),
/// <c>accuracy.svg</c> (train and test accuracy) and, for binary models, <c>flip-ratio.svg</c>. Rewritten after every
/// epoch, so a long run can be watched.</summary>
public static class TrainingPlots
{
    public static void Write(string directory, IReadOnlyList<EpochReport> reports, TrainOptions options)
    {
        Directory.CreateDirectory(directory);
        string run = $"{options.Model}, scheme {options.SchemeName}, {options.Dataset}";
        Write(directory, "loss.svg", new SvgPlot($"Train loss ({run})", "epoch", "cross-entropy")
            .Add(new Series("train loss", Points(reports, r => r.TrainLoss), SvgPlot.Palette[0])));
        Write(directory, "accuracy.svg", new SvgPlot($"Accuracy ({run})", "epoch", "accuracy")
            .Add(new Series("train", Points(reports, r => r.TrainAcc), SvgPlot.Palette[0]))
            .Add(new Series("test", Points(reports, r => r.TestAcc), SvgPlot.Palette[1])));
        if (reports.Any(r => r.FlipRatio is not null))
            Write(directory, "flip-ratio.svg", new SvgPlot($"Flip ratio ({run})", "epoch", "share of binary weights flipped")
                .Add(new Series("flip ratio", Points(reports, r => r.FlipRatio ?? double.NaN), SvgPlot.Palette[2])));
    }

    private static IReadOnlyList<(double, double)> Points(IReadOnlyList<EpochReport> reports, Func<EpochReport, double> value) =>
        [.. reports.Select(r => ((double)r.Epoch, value(r)))];

    private static void Write(string directory, string name, SvgPlot plot)
    {
        Autograd.Serialization.AtomicFile.WriteAllText(Path.Combine(directory, name), plot.ToSvg());
    }
}
