using System.Net;
using System.Text;

namespace BinaryGrad.Cli.Explain;

/// <summary>Tensors as HTML for the explain page: a one-line summary (shape, min, mean, max, L2 norm) and, inside a
/// collapsed <c>&lt;details&gt;</c>, the values themselves (a 2-D tensor as a table), at most <see cref="MaxShown"/>.</summary>
public static class TensorHtml
{
    /// <summary>Values written out per tensor; the summary always covers all of them.</summary>
    public const int MaxShown = 2048;

    /// <summary>The summary line of <paramref name="values"/>.</summary>
    public static string Summary(IReadOnlyList<int> shape, double[] values)
    {
        if (values.Length == 1) return $"value {ExplainSubject.Format(values[0])}";
        double min = double.PositiveInfinity, max = double.NegativeInfinity, sum = 0, squares = 0;
        foreach (double v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            sum += v;
            squares += v * v;
        }
        return $"min {ExplainSubject.Format(min)}, mean {ExplainSubject.Format(sum / Math.Max(1, values.Length))}, max {ExplainSubject.Format(max)}, ‖·‖₂ {ExplainSubject.Format(Math.Sqrt(squares))}, {values.Length} values";
    }

    /// <summary>Summary plus the expandable values.</summary>
    public static string Render(IReadOnlyList<int> shape, double[] values)
    {
        var sb = new StringBuilder();
        sb.Append("<span class=\"sum\">").Append(WebUtility.HtmlEncode(Summary(shape, values))).Append("</span>");
        if (values.Length == 1) return sb.ToString();
        sb.Append("<details><summary>values</summary>");
        int shown = Math.Min(values.Length, MaxShown);
        if (shape.Count == 2 && values.Length <= MaxShown)
        {
            sb.Append("<table class=\"values\">");
            for (int r = 0; r < shape[0]; r++)
            {
                sb.Append("<tr>");
                for (int c = 0; c < shape[1]; c++) sb.Append("<td>").Append(ExplainSubject.Format(values[r * shape[1] + c])).Append("</td>");
                sb.Append("</tr>");
            }
            sb.Append("</table>");
        }
        else
        {
            sb.Append("<p class=\"values\">");
            for (int i = 0; i < shown; i++) sb.Append(i == 0 ? "" : " ").Append(ExplainSubject.Format(values[i]));
            if (shown < values.Length) sb.Append($" … ({values.Length - shown} more, row-major)");
            sb.Append("</p>");
        }
        return sb.Append("</details>").ToString();
    }
}
