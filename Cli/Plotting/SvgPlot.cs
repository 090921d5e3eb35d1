using System.Globalization;
using System.Text;

namespace BinaryGrad.Cli.Plotting;

/// <summary>One named curve of a plot: points in data coordinates.</summary>
public sealed record Series(string Label, IReadOnlyList<(double X, double Y)> Points, string Color, bool Dashed = false);

/// <summary>A minimal line-chart writer producing standalone SVG (no plotting package served here works headless in
/// managed code, and SVG opens in any browser): axes with round-number ticks, a title, a legend, any number of
/// series. Non-finite points break a line instead of corrupting the path.</summary>
public sealed class SvgPlot(string title, string xLabel, string yLabel, double width = 420, double height = 300)
{
    private const double Left = 52, Right = 14, Top = 30, Bottom = 42;
    private readonly List<Series> _series = [];

    /// <summary>Fixed y range (else fitted to the data with a margin).</summary>
    public (double Min, double Max)? YRange { get; init; }

    /// <summary>Fixed x range (else fitted to the data).</summary>
    public (double Min, double Max)? XRange { get; init; }

    /// <summary>The standard colour cycle for series.</summary>
    public static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

    public SvgPlot Add(Series series)
    {
        _series.Add(series);
        return this;
    }

    /// <summary>The whole plot as an <c>&lt;svg&gt;</c> document.</summary>
    public string ToSvg() => $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{F(width)}\" height=\"{F(height)}\" viewBox=\"0 0 {F(width)} {F(height)}\">\n{Body()}</svg>\n";

    /// <summary>The plot's elements, for embedding in a larger SVG under a translate.</summary>
    public string Body()
    {
        var finite = _series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        (double x0, double x1) = XRange ?? (finite.Count == 0 ? (0, 1) : (finite.Min(p => p.X), finite.Max(p => p.X)));
        (double y0, double y1) = YRange ?? (finite.Count == 0 ? (0, 1) : Pad(finite.Min(p => p.Y), finite.Max(p => p.Y)));
        if (x1 <= x0) x1 = x0 + 1;
        if (y1 <= y0) y1 = y0 + 1;
        double plotW = width - Left - Right, plotH = height - Top - Bottom;
        double Sx(double x) => Left + (x - x0) / (x1 - x0) * plotW;
        double Sy(double y) => Top + (1 - (y - y0) / (y1 - y0)) * plotH;

        var sb = new StringBuilder();
        sb.AppendLine($"<rect x=\"0\" y=\"0\" width=\"{F(width)}\" height=\"{F(height)}\" fill=\"white\"/>");
        sb.AppendLine($"<text x=\"{F(width / 2)}\" y=\"18\" font-family=\"sans-serif\" font-size=\"13\" text-anchor=\"middle\">{Escape(title)}</text>");
        foreach (double t in Ticks(x0, x1))
        {
            sb.AppendLine($"<line x1=\"{F(Sx(t))}\" y1=\"{F(Top)}\" x2=\"{F(Sx(t))}\" y2=\"{F(Top + plotH)}\" stroke=\"#eee\"/>");
            sb.AppendLine($"<text x=\"{F(Sx(t))}\" y=\"{F(Top + plotH + 14)}\" font-family=\"sans-serif\" font-size=\"10\" text-anchor=\"middle\">{Num(t)}</text>");
        }
        foreach (double t in Ticks(y0, y1))
        {
            sb.AppendLine($"<line x1=\"{F(Left)}\" y1=\"{F(Sy(t))}\" x2=\"{F(Left + plotW)}\" y2=\"{F(Sy(t))}\" stroke=\"#eee\"/>");
            sb.AppendLine($"<text x=\"{F(Left - 4)}\" y=\"{F(Sy(t) + 3)}\" font-family=\"sans-serif\" font-size=\"10\" text-anchor=\"end\">{Num(t)}</text>");
        }
        sb.AppendLine($"<rect x=\"{F(Left)}\" y=\"{F(Top)}\" width=\"{F(plotW)}\" height=\"{F(plotH)}\" fill=\"none\" stroke=\"#333\"/>");
        sb.AppendLine($"<text x=\"{F(Left + plotW / 2)}\" y=\"{F(height - 8)}\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"middle\">{Escape(xLabel)}</text>");
        sb.AppendLine($"<text transform=\"translate(12,{F(Top + plotH / 2)}) rotate(-90)\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"middle\">{Escape(yLabel)}</text>");
        int legend = 0;
        foreach (Series s in _series)
        {
            var path = new StringBuilder();
            bool pen = false;
            foreach ((double x, double y) in s.Points)
            {
                if (!double.IsFinite(x) || !double.IsFinite(y)) { pen = false; continue; }
                double cy = Math.Clamp(Sy(y), Top - 2, Top + plotH + 2); // clip off-range values to the frame
                path.Append(pen ? " L" : " M").Append(F(Sx(x))).Append(',').Append(F(cy));
                pen = true;
            }
            string dash = s.Dashed ? " stroke-dasharray=\"5,3\"" : "";
            sb.AppendLine($"<path d=\"{path.ToString().Trim()}\" fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"1.8\"{dash}/>");
            double ly = Top + 10 + 13 * legend++;
            sb.AppendLine($"<line x1=\"{F(Left + 8)}\" y1=\"{F(ly)}\" x2=\"{F(Left + 26)}\" y2=\"{F(ly)}\" stroke=\"{s.Color}\" stroke-width=\"2\"{dash}/>");
            sb.AppendLine($"<text x=\"{F(Left + 30)}\" y=\"{F(ly + 3.5)}\" font-family=\"sans-serif\" font-size=\"10\">{Escape(s.Label)}</text>");
        }
        return sb.ToString();
    }

    /// <summary>Lays several plots out in a grid in one SVG (the estimators overview).</summary>
    public static string Grid(IReadOnlyList<SvgPlot> plots, int columns, string title)
    {
        if (plots.Count == 0) return "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n";
        double w = plots[0].Width, h = plots[0].Height;
        int rows = (plots.Count + columns - 1) / columns;
        var sb = new StringBuilder($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{F(columns * w)}\" height=\"{F(rows * h + 30)}\">\n");
        sb.AppendLine($"<rect width=\"100%\" height=\"100%\" fill=\"white\"/><text x=\"{F(columns * w / 2)}\" y=\"20\" font-family=\"sans-serif\" font-size=\"16\" text-anchor=\"middle\">{Escape(title)}</text>");
        for (int i = 0; i < plots.Count; i++)
            sb.Append($"<g transform=\"translate({F(i % columns * w)},{F(30 + i / columns * h)})\">\n{plots[i].Body()}</g>\n");
        return sb.Append("</svg>\n").ToString();
    }

    private double Width => width;
    private double Height => height;

    private static (double, double) Pad(double lo, double hi)
    {
        double margin = (hi - lo) * 0.08;
        if (margin == 0) margin = Math.Max(Math.Abs(hi) * 0.1, 0.5);
        return (lo - margin, hi + margin);
    }

    /// <summary>About five round ticks (1, 2 or 5 × 10^k apart) inside [lo, hi].</summary>
    internal static IEnumerable<double> Ticks(double lo, double hi)
    {
        double raw = (hi - lo) / 5, magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw);
        for (double t = Math.Ceiling(lo / step) * step; t <= hi + step * 1e-9; t += step)
            yield return Math.Abs(t) < step * 1e-9 ? 0 : t;
    }

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
    private static string Num(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
