using System.Globalization;
using System.Net;
using System.Text;
using BinaryGrad.Cli.Commands;

namespace BinaryGrad.Cli.Explain;

/// <summary>Writes the self-contained HTML page of <c>binarygrad explain</c> (docs/explain.md).</summary>
/// <remarks>
/// Every number on the page is written here, from <see cref="BackwardRecording"/>: the script only reveals what the
/// page already holds. A node's gradient cell (<c>data-grad</c>) holds one version per step at which it changed
/// (<c>data-at</c>, hidden); the script shows the latest version at or before the current step and marks the cell
/// <c>data-grad="filled"</c>, or <c>"pending"</c> before the backward reaches the node. The step is the fragment
/// <c>#step=N</c> (<c>#step=end</c>: the whole backward). A content security policy forbids every network load.
/// </remarks>
public static class ExplainPage
{
    /// <summary>The page for <paramref name="subject"/>.</summary>
    public static string Render(ExplainSubject subject, OpFormulas formulas)
    {
        BackwardRecording rec = subject.Recording;
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
          .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; connect-src 'none'; font-src 'none'; form-action 'none'; base-uri 'none'\">\n")
          .Append("<title>").Append(H(subject.Title)).Append("</title>\n<style>").Append(ExplainAssets.Css).Append("</style></head>\n<body>\n")
          .Append("<header><h1>").Append(H(subject.Title)).Append("</h1><p>").Append(H(subject.Description)).Append("</p>\n")
          .Append("<p class=\"legend\">Nodes in topological order (every node after its inputs). Step through the backward pass in the engine's own order ")
          .Append("with the buttons or the ← → keys (Home/End: start/end): each step runs one node's backward, which receives its upstream gradient dL/d(output) ")
          .Append("and sends a gradient to each of its inputs; a leaf's gradient is the sum of what it receives. ")
          .Append("<span class=\"est-badge\">estimator</span> marks straight-through nodes whose backward replaces the derivative of the forward.</p>\n");
        AppendStepper(sb, rec);
        sb.Append("</header>\n<main>\n");
        if (subject.Scheme is { } scheme)
            sb.Append("<section class=\"scheme\" id=\"estimator-curve\"><h2>Scheme ").Append(H(scheme.Name)).Append(": forward q(x) solid, estimator q'(x) dashed</h2>")
              .Append("<p>").Append(H(scheme.Description)).Append("</p>")
              .Append(EstimatorsCommand.PlotScheme(scheme).ToSvg()).Append("</section>\n");
        sb.Append("<ol class=\"graph\">\n");
        foreach (GraphNode node in rec.Nodes) AppendNode(sb, subject, node, formulas);
        sb.Append("</ol>\n");
        AppendChecks(sb, subject);
        sb.Append("</main>\n<script>").Append(ExplainAssets.Script).Append("</script>\n</body></html>\n");
        return sb.ToString();
    }

    private static void AppendStepper(StringBuilder sb, BackwardRecording rec)
    {
        sb.Append($"<nav id=\"stepper\" data-step=\"0\" data-steps=\"{rec.Steps.Count}\">")
          .Append("<button data-action=\"start\" title=\"Home\">start</button><button data-action=\"prev\" title=\"←\">◀</button>")
          .Append("<button data-action=\"next\" title=\"→\">▶</button><button data-action=\"end\" title=\"End\">end</button>")
          .Append($"<input type=\"range\" id=\"step-range\" min=\"0\" max=\"{rec.Steps.Count}\" value=\"0\" aria-label=\"backward step\">")
          .Append("<span id=\"step-label\">step 0: forward pass only</span></nav>\n<ol class=\"steps\">");
        foreach (BackwardStep step in rec.Steps)
        {
            GraphNode node = rec.Nodes[step.Node];
            sb.Append($"<li data-step-item=\"{step.Step}\" data-label=\"step {step.Step} of {rec.Steps.Count}: backward of #{node.Id} {H(node.Label)}\">")
              .Append($"<a href=\"#step={step.Step}\">#{node.Id} {H(node.Label)}</a></li>");
        }
        sb.Append("</ol>\n");
    }

    private static void AppendNode(StringBuilder sb, ExplainSubject subject, GraphNode node, OpFormulas formulas)
    {
        BackwardRecording rec = subject.Recording;
        string kind = node.Kind.ToString().ToLowerInvariant();
        int? reached = rec.FirstReached(node.Id);
        BackwardStep? own = rec.Steps.FirstOrDefault(s => s.Node == node.Id);
        sb.Append($"<li id=\"node-{node.Id}\" class=\"node {kind}{(node.IsEstimator ? " estimator" : "")}\" data-node=\"{node.Id}\" data-kind=\"{kind}\"")
          .Append(own is null ? "" : $" data-own-step=\"{own.Step}\"").Append(node.IsEstimator ? " data-estimator=\"true\"" : "").Append('>')
          .Append($"<h3><span class=\"id\">#{node.Id}</span> {H(node.Label)}")
          .Append(node.IsEstimator ? " <span class=\"est-badge\">estimator</span>" : "")
          .Append($" <span class=\"shape\">{H(Autograd.Shapes.Format(node.Shape))}</span></h3>");
        if (node.Inputs.Count > 0)
            sb.Append("<p class=\"inputs\">inputs: ").Append(string.Join(", ", node.Inputs.Select(i => $"<a href=\"#node-{i}\">#{i} {H(rec.Nodes[i].Label)}</a>"))).Append("</p>");
        if (node.Kind == NodeKind.Op)
        {
            string? formula = formulas.Lookup(node.Function!);
            sb.Append("<p class=\"formula\">").Append(formula is null ? $"<em>{H(formulas.NotFound(node.Label))}</em>" : H(formula)).Append("</p>");
        }
        sb.Append("<div class=\"row\"><b>forward</b> ").Append(TensorHtml.Render(node.Shape, node.Forward)).Append("</div>");
        if (node.Kind == NodeKind.Constant)
        {
            sb.Append("<div class=\"row\"><b>gradient</b> none: constant (RequiresGrad is false)</div></li>\n");
            return;
        }
        if (reached is null)
        {
            sb.Append("<div class=\"row\"><b>gradient</b> none: the backward never reached this node (every path to it gave no gradient)</div></li>\n");
            return;
        }
        // what each consumer sent (the per-edge upstream gradients), revealed at the step that sent it
        List<GradientContribution> received = [.. rec.ContributionsTo(node.Id)];
        if (received.Count > 0)
        {
            sb.Append("<ul class=\"contributions\">");
            foreach (GradientContribution c in received)
                sb.Append($"<li data-at=\"{c.Step}\" hidden><b>from #{c.From} {H(rec.Nodes[c.From].Label)}</b> (step {c.Step}): ")
                  .Append(TensorHtml.Render(node.Shape, c.Values)).Append("</li>");
            sb.Append("</ul>");
        }
        else sb.Append("<p class=\"seed\">the root: its upstream gradient is the seed dL/dL = 1</p>");
        string what = node.Kind == NodeKind.Op ? "upstream gradient dL/d(output), summed over its consumers, as its backward received it" : "accumulated gradient (.Grad)";
        sb.Append($"<div class=\"row grad\" data-grad=\"pending\" data-node-grad=\"{node.Id}\"><b>{what}</b> <span class=\"waiting\">not reached yet</span>");
        IEnumerable<int> versions = node.Kind == NodeKind.Op ? [own!.Step] : received.Select(c => c.Step).Distinct();
        foreach (int step in versions)
            sb.Append($"<div class=\"version\" data-at=\"{step}\" hidden>").Append(TensorHtml.Render(node.Shape, rec.AccumulatedAfter(node.Id, step)!)).Append("</div>");
        sb.Append("</div>");
        if (node.IsEstimator && own is not null) AppendEstimator(sb, own, subject);
        if (subject.Checks.FirstOrDefault(c => c.Node == node.Id) is { } check)
            sb.Append($"<div class=\"row check {(check.Passed ? "pass" : "fail")}\"><b>finite differences</b> max relative error {ExplainSubject.Format(check.MaxRelError)} ")
              .Append(check.Passed ? "(passes 1e-6)" : "(exceeds 1e-6)").Append("</div>");
        sb.Append("</li>\n");
    }

    /// <summary>Where the straight-through gradient differs from the true derivative: the forward of a binarizing
    /// node is piecewise constant in x, so its derivative is 0 almost everywhere and every element to which the
    /// estimator passed a non-zero gradient is one where the two differ.</summary>
    private static void AppendEstimator(StringBuilder sb, BackwardStep own, ExplainSubject subject)
    {
        if (own.Produced.FirstOrDefault(c => c.To == subject.Recording.Nodes[own.Node].Inputs[0]) is not { } dx) return;
        int differing = dx.Values.Count(v => v != 0);
        double fraction = dx.Values.Length == 0 ? 0 : (double)differing / dx.Values.Length;
        sb.Append("<div class=\"row estimator-note\"><b>straight-through vs true derivative</b> the forward is piecewise constant in x, so its true derivative is 0 almost everywhere and would pass no gradient; ")
          .Append($"this estimator passed a non-zero gradient to <b data-differ=\"{differing}\">{differing} of {dx.Values.Length}</b> input elements ")
          .Append($"({(100 * fraction).ToString("F1", CultureInfo.InvariantCulture)} %): there the two differ. ")
          .Append("<a href=\"#estimator-curve\">Its surrogate curve q'(x)</a>.</div>");
    }

    private static void AppendChecks(StringBuilder sb, ExplainSubject subject)
    {
        sb.Append("<section class=\"checks\"><h2>Finite-difference check per leaf (float64)</h2>");
        if (subject.CheckNote is { } note) sb.Append("<p>").Append(H(note)).Append("</p>");
        sb.Append("<table><tr><th>leaf</th><th>max relative error</th><th>max absolute error</th><th>result</th></tr>");
        foreach (LeafCheck c in subject.Checks)
            sb.Append($"<tr class=\"{(c.Passed ? "pass" : "fail")}\"><td><a href=\"#node-{c.Node}\">#{c.Node} {H(subject.Recording.Nodes[c.Node].Label)}</a></td>")
              .Append($"<td>{ExplainSubject.Format(c.MaxRelError)}</td><td>{ExplainSubject.Format(c.MaxAbsError)}</td><td>{(c.Passed ? "pass" : "differs")}</td></tr>");
        sb.Append("</table></section>\n");
    }

    private static string H(string s) => WebUtility.HtmlEncode(s);
}
