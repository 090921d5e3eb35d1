using BinaryGrad.Autograd;

namespace BinaryGrad.Cli.Explain;

/// <summary>What a graph node is on the explain page.</summary>
public enum NodeKind
{
    /// <summary>An input or parameter that requires a gradient.</summary>
    Leaf,
    /// <summary>An input held constant (e.g. the images of a batch): no gradient flows into it.</summary>
    Constant,
    /// <summary>The output of a recorded op (<see cref="Function"/>).</summary>
    Op,
}

/// <summary>One node of the recorded graph, with its forward values copied when the graph was recorded.</summary>
/// <param name="Id">Position in topological order (inputs first); the page's <c>data-node</c>.</param>
/// <param name="Kind">Leaf, constant or op.</param>
/// <param name="Label">The op name, or the tensor's name for leaves.</param>
/// <param name="Inputs">Ids of the nodes this one's op read (empty for leaves).</param>
/// <param name="Shape">The output's (or leaf's) shape.</param>
/// <param name="Forward">The values, row-major, in float64.</param>
/// <param name="Function">The op that computed the node (null for leaves and constants).</param>
/// <param name="Tensor">The node's output (or leaf) tensor.</param>
public sealed record GraphNode(int Id, NodeKind Kind, string Label, IReadOnlyList<int> Inputs, int[] Shape, double[] Forward,
    Function? Function, Tensor Tensor)
{
    /// <summary>True for straight-through nodes whose backward is an estimator, not the forward's derivative.</summary>
    public bool IsEstimator => Function?.IsEstimator == true;
}

/// <summary>A gradient one node's backward sent to one of its inputs.</summary>
/// <param name="Step">The backward step (1-based) that produced it.</param>
/// <param name="From">The node whose backward produced it.</param>
/// <param name="To">The input that receives it.</param>
/// <param name="Values">The gradient, row-major, copied from the engine's buffer.</param>
public sealed record GradientContribution(int Step, int From, int To, double[] Values);

/// <summary>One node's backward as the engine ran it.</summary>
/// <param name="Step">1-based position in the engine's order.</param>
/// <param name="Node">The node whose backward ran.</param>
/// <param name="Upstream">dL/d(node output): the sum of its consumers' contributions (or the seed), as the backward received it.</param>
/// <param name="Produced">What the backward returned for each input that needs a gradient.</param>
public sealed record BackwardStep(int Step, int Node, double[] Upstream, IReadOnlyList<GradientContribution> Produced);

/// <summary>A recorded forward graph and the backward the engine ran over it, observed through
/// <see cref="BackwardObserver"/>: every value is copied from the engine's own buffers, nothing is recomputed.</summary>
public sealed class BackwardRecording : IBackwardObserver
{
    private readonly Dictionary<Function, int> _idOfFunction = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor, int> _idOfLeaf = new(ReferenceEqualityComparer.Instance);
    private readonly List<GraphNode> _nodes = [];
    private readonly List<BackwardStep> _steps = [];

    /// <summary>Nodes in topological order (every node after its inputs); the last is the root.</summary>
    public IReadOnlyList<GraphNode> Nodes => _nodes;

    /// <summary>The backward steps in the engine's order.</summary>
    public IReadOnlyList<BackwardStep> Steps => _steps;

    /// <summary>Records the graph of <paramref name="root"/> (a scalar), then runs <c>root.Backward()</c> under the observer.</summary>
    public static BackwardRecording Run(Tensor root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var recording = new BackwardRecording();
        recording.RecordGraph(root);
        using (BackwardObserver.Observe(recording)) root.Backward();
        return recording;
    }

    /// <summary>The gradient of node <paramref name="id"/> after step <paramref name="step"/> (0 = before the
    /// backward): for an op the gradient its backward received, for a leaf the sum of what reached it so far; null
    /// when nothing has reached it yet.</summary>
    public double[]? AccumulatedAfter(int id, int step)
    {
        if (_nodes[id].Kind == NodeKind.Op)
            return _steps.FirstOrDefault(s => s.Node == id && s.Step <= step)?.Upstream;
        double[]? sum = null;
        foreach (GradientContribution c in ContributionsTo(id))
        {
            if (c.Step > step) break;
            if (sum is null) sum = (double[])c.Values.Clone();
            else for (int i = 0; i < sum.Length; i++) sum[i] += c.Values[i];
        }
        return sum;
    }

    /// <summary>Every gradient sent to node <paramref name="id"/>, in step order.</summary>
    public IEnumerable<GradientContribution> ContributionsTo(int id) =>
        _steps.SelectMany(s => s.Produced).Where(c => c.To == id);

    /// <summary>The step at which node <paramref name="id"/> first has a gradient, or null if the backward never reached it.</summary>
    public int? FirstReached(int id) => _nodes[id].Kind == NodeKind.Op
        ? _steps.FirstOrDefault(s => s.Node == id)?.Step
        : ContributionsTo(id).FirstOrDefault()?.Step;

    void IBackwardObserver.OnBackward(Function node, Tensor gradOutput, IReadOnlyList<Tensor?> inputGradients)
    {
        if (!_idOfFunction.TryGetValue(node, out int id)) return; // a node of another graph (a hook's nested backward)
        int step = _steps.Count + 1;
        var produced = new List<GradientContribution>();
        IReadOnlyList<Tensor> inputs = node.Inputs;
        for (int i = 0; i < inputs.Count && i < inputGradients.Count; i++)
        {
            if (inputGradients[i] is not { } g || !inputs[i].RequiresGrad) continue;
            produced.Add(new GradientContribution(step, id, IdOf(inputs[i]), g.ToDoubleArray()));
        }
        _steps.Add(new BackwardStep(step, id, gradOutput.ToDoubleArray(), produced));
    }

    private int IdOf(Tensor t) => t.GradFn is { } fn ? _idOfFunction[fn] : _idOfLeaf[t];

    /// <summary>Depth-first over tensors from <paramref name="root"/>, without recursion: a node gets its id once all
    /// its inputs have theirs.</summary>
    private void RecordGraph(Tensor root)
    {
        var stack = new Stack<(Tensor Tensor, int NextInput)>();
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        stack.Push((root, 0));
        seen.Add(Key(root));
        while (stack.Count > 0)
        {
            (Tensor t, int next) = stack.Pop();
            IReadOnlyList<Tensor> inputs = t.GradFn?.Inputs ?? [];
            bool descended = false;
            for (int i = next; i < inputs.Count; i++)
                if (seen.Add(Key(inputs[i])))
                {
                    stack.Push((t, i + 1));
                    stack.Push((inputs[i], 0));
                    descended = true;
                    break;
                }
            if (descended) continue;
            int id = _nodes.Count;
            if (t.GradFn is { } fn)
            {
                _idOfFunction[fn] = id;
                _nodes.Add(new GraphNode(id, NodeKind.Op, fn.Name, [.. fn.Inputs.Select(IdOf)], t.Shape.ToArray(), t.ToDoubleArray(), fn, t));
            }
            else
            {
                _idOfLeaf[t] = id;
                NodeKind kind = t.RequiresGrad ? NodeKind.Leaf : NodeKind.Constant;
                string label = t.Name ?? (kind == NodeKind.Leaf ? $"leaf {id}" : t.Length == 1 ? $"constant {t.ToDoubleArray()[0]:G6}" : $"constant input {id}");
                _nodes.Add(new GraphNode(id, kind, label, [], t.Shape.ToArray(), t.ToDoubleArray(), null, t));
            }
        }
    }

    private static object Key(Tensor t) => (object?)t.GradFn ?? t;
}
