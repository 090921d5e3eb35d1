using System.Text;

namespace BinaryGrad.Autograd;

/// <summary>Writes the recorded graph behind a tensor in Graphviz DOT, for teaching: one box per op (name and
/// output shape), one ellipse per leaf (name, shape, whether it requires grad), arrows along the data flow.
/// Estimator nodes (straight-through quantizers) are drawn in orange.</summary>
/// <example><code>File.WriteAllText("step.dot", GraphViz.ToDot(loss)); // dot -Tpng step.dot -o step.png</code></example>
public static class GraphViz
{
    /// <summary>The DOT text of the graph that computed <paramref name="root"/>.</summary>
    public static string ToDot(Tensor root, string graphName = "autograd")
    {
        ArgumentNullException.ThrowIfNull(root);
        var sb = new StringBuilder();
        sb.AppendLine($"digraph {graphName} {{");
        sb.AppendLine("  rankdir=BT;");
        sb.AppendLine("  node [fontname=\"Helvetica\", fontsize=10];");
        var ids = new Dictionary<object, string>(ReferenceEqualityComparer.Instance);
        string Id(object o)
        {
            if (!ids.TryGetValue(o, out string? id)) ids[o] = id = "n" + ids.Count;
            return id;
        }
        if (root.GradFn is null)
        {
            sb.AppendLine($"  {Id(root)} [shape=ellipse, label=\"{Escape(root.Name ?? "tensor")}\\n{Shapes.Format(root.Shape)}\"];");
            return sb.AppendLine("}").ToString();
        }
        foreach (Function fn in Engine.TopologicalOrder(root.GradFn))
        {
            Tensor output = fn.Output!;
            string style = fn.IsEstimator ? ", style=filled, fillcolor=orange" : ", style=filled, fillcolor=lightblue";
            string estimator = fn.IsEstimator ? "\\n(estimator)" : "";
            sb.AppendLine($"  {Id(fn)} [shape=box{style}, label=\"{Escape(fn.Name)}{estimator}\\n{Shapes.Format(output.Shape)}\"];");
            foreach (Tensor input in fn.Inputs)
            {
                if (input.GradFn is { } producer) sb.AppendLine($"  {Id(producer)} -> {Id(fn)};");
                else
                {
                    if (!ids.ContainsKey(input))
                    {
                        string kind = input.RequiresGrad ? ", style=filled, fillcolor=palegreen" : "";
                        sb.AppendLine($"  {Id(input)} [shape=ellipse{kind}, label=\"{Escape(input.Name ?? (input.RequiresGrad ? "leaf" : "const"))}\\n{Shapes.Format(input.Shape)}\"];");
                    }
                    sb.AppendLine($"  {Id(input)} -> {Id(fn)};");
                }
            }
        }
        return sb.AppendLine("}").ToString();
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"");
}
