using System.CommandLine;
using BinaryGrad.Binarization;
using BinaryGrad.Cli.Plotting;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad estimators --out DIR</c>: for every registered scheme, one SVG with the forward curve q(x)
/// (solid) and the backward factor q'(x) — the estimator — (dashed) over x ∈ [−2, 2], for its weight and activation
/// quantizers; plus <c>overview.svg</c> with all schemes side by side. Schedule-driven schemes are drawn at the start
/// and at the end of training, since their estimator changes as they anneal.</summary>
public static class EstimatorsCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Directory for the SVG files (created if missing).", Required = true };
        var command = new Command("estimators", "Draw every scheme's forward and estimator (backward) curves as SVG.") { output };
        command.SetAction(r => Run(r.GetValue(output)!, Console.Out, Console.Error));
        return command;
    }

    public static int Run(string directory, TextWriter output, TextWriter error)
    {
        try { Training.OutputPaths.CheckDirectory(directory, "--out"); }
        catch (Training.UsageException e)
        {
            error.WriteLine($"binarygrad estimators: {e.Message}");
            return Program.BadInput;
        }
        var plots = new List<SvgPlot>();
        foreach (SchemeInfo scheme in SchemeRegistry.All.Where(s => s.Name != SchemeRegistry.FloatBaselineName))
        {
            SvgPlot plot = PlotScheme(scheme);
            plots.Add(plot);
            Autograd.Serialization.AtomicFile.WriteAllText(Path.Combine(directory, scheme.Name + ".svg"), plot.ToSvg());
        }
        Autograd.Serialization.AtomicFile.WriteAllText(Path.Combine(directory, "overview.svg"), SvgPlot.Grid(plots, columns: 4, "BinaryGrad estimators: forward q(x) solid, backward q'(x) dashed"));
        output.WriteLine($"wrote {plots.Count} scheme plots and overview.svg to {directory}");
        return 0;
    }

    /// <summary>The curves of one scheme, sampled at 401 points of [−2, 2].</summary>
    public static SvgPlot PlotScheme(SchemeInfo scheme)
    {
        var plot = new SvgPlot($"{scheme.Name} ({scheme.ProvenanceTag})", "x", "q(x), q'(x)") { XRange = (-2, 2), YRange = (-2.2, 2.2) };
        int color = 0;
        foreach (bool end in new[] { false, true })
        {
            SchemeInstance instance = scheme.Create();
            var progress = new TrainingProgress(end ? 9 : 0, end ? 999 : 0, 10, 1000);
            instance.OnProgress(progress);
            foreach (var (role, q) in new[] { ("weights", instance.Weights), ("activations", instance.Activations) })
            {
                if (q is null || (role == "activations" && instance.Weights?.GetType() == q.GetType() && instance.Weights.Name == q.Name)) continue;
                string when = end ? ", end" : HasSchedule(scheme) ? ", start" : "";
                string c = SvgPlot.Palette[color++ % SvgPlot.Palette.Length];
                plot.Add(new Series($"{role} q{when}", Sample(q.Forward), c));
                plot.Add(new Series($"{role} q'{when}", Sample(q.Derivative), c, Dashed: true));
            }
            if (!HasSchedule(scheme)) break;
        }
        return plot;
    }

    /// <summary>True when the scheme's curves differ between the start and the end of training.</summary>
    private static bool HasSchedule(SchemeInfo scheme)
    {
        SchemeInstance start = scheme.Create(), end = scheme.Create();
        start.OnProgress(new TrainingProgress(0, 0, 10, 1000));
        end.OnProgress(new TrainingProgress(9, 999, 10, 1000));
        foreach (var (a, b) in start.Quantizers.Zip(end.Quantizers))
            for (double x = -2; x <= 2; x += 0.25)
                if (Safe(a.Derivative, x) != Safe(b.Derivative, x) || Safe(a.Forward, x) != Safe(b.Forward, x)) return true;
        return false;
    }

    private static IReadOnlyList<(double, double)> Sample(Func<double, double> f)
    {
        var points = new List<(double, double)>(401);
        for (int i = 0; i <= 400; i++)
        {
            double x = -2 + i * 0.01;
            points.Add((x, Safe(f, x)));
        }
        return points;
    }

    // A per-tensor scheme may not define a scalar view everywhere; such points are left out of the curve.
    private static double Safe(Func<double, double> f, double x)
    {
        try { return f(x); }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or ArgumentException) { return double.NaN; }
    }
}
