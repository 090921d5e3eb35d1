using BinaryGrad.Autograd;
using BinaryGrad.Cli.Explain;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli.Explain;

/// <summary>The explain page's data: what <see cref="BackwardRecording"/> copies through <see cref="BackwardObserver"/>
/// must be what the engine computed (compared with <c>.Grad</c>, with hand formulas and with gradient hooks, which
/// observe the engine independently of the observer).</summary>
[TestFixture, Category("Cli")]
public class BackwardRecordingTests
{
    private static Tensor Leaf(int[] shape, Rng rng, string name)
    {
        Tensor t = Tensor.Uniform(shape, rng, -1, 1, DType.Float64, requiresGrad: true);
        t.Name = name;
        return t;
    }

    /// <summary>L = sum(tanh(x @ w) ⊙ y + x @ w + y): x @ w and y are each used twice, so the upstream gradient of the
    /// matmul and the accumulated gradient of the leaf y are sums of two contributions.</summary>
    private static (Tensor Loss, Tensor X, Tensor W, Tensor Y, Tensor H, Tensor T) Graph()
    {
        var rng = new Rng(11);
        Tensor x = Leaf([2, 3], rng, "x"), w = Leaf([3, 2], rng, "w"), y = Leaf([2, 2], rng, "y");
        Tensor h = Ops.MatMul(x, w).RetainGrad();
        Tensor t = Ops.Tanh(h).RetainGrad();
        Tensor loss = Ops.Sum(t * y + h + y);
        return (loss, x, w, y, h, t);
    }

    [Test]
    public void RecordedGradients_EqualGradOfLeavesAndRetainedIntermediates()
    {
        var (loss, x, w, y, h, t) = Graph();
        BackwardRecording rec = BackwardRecording.Run(loss);
        int last = rec.Steps.Count;
        foreach (Tensor leaf in new[] { x, w, y })
        {
            GraphNode node = rec.Nodes.Single(n => ReferenceEquals(n.Tensor, leaf));
            Assert.That(rec.AccumulatedAfter(node.Id, last), Is.EqualTo(leaf.Grad!.ToDoubleArray()), $"leaf {leaf.Name}");
        }
        foreach (Tensor intermediate in new[] { h, t })
        {
            GraphNode node = rec.Nodes.Single(n => ReferenceEquals(n.Tensor, intermediate));
            Assert.That(rec.AccumulatedAfter(node.Id, last), Is.EqualTo(intermediate.Grad!.ToDoubleArray()), node.Label);
        }
    }

    [Test]
    public void RecordedGradients_MatchHandFormulas()
    {
        var (loss, _, _, y, h, t) = Graph();
        BackwardRecording rec = BackwardRecording.Run(loss);
        double[] hv = h.ToDoubleArray(), yv = y.ToDoubleArray();
        GraphNode yNode = rec.Nodes.Single(n => ReferenceEquals(n.Tensor, y)), hNode = rec.Nodes.Single(n => ReferenceEquals(n.Tensor, h));
        // dL/dy = tanh(h) + 1 and dL/dh = y ⊙ (1 − tanh²h) + 1, each the sum of two paths
        Assert.That(rec.AccumulatedAfter(yNode.Id, rec.Steps.Count), Is.EqualTo(hv.Select(v => Math.Tanh(v) + 1).ToArray()).Within(1e-12));
        Assert.That(rec.ContributionsTo(yNode.Id).Count(), Is.EqualTo(2));
        double[] expected = [.. hv.Select((v, i) => yv[i] * (1 - Math.Tanh(v) * Math.Tanh(v)) + 1)];
        Assert.That(rec.AccumulatedAfter(hNode.Id, rec.Steps.Count), Is.EqualTo(expected).Within(1e-12));
        Assert.That(rec.ContributionsTo(hNode.Id).Count(), Is.EqualTo(2), "h receives one gradient per consumer (tanh and add)");
        Assert.That(t.Grad, Is.Not.Null);
    }

    [Test]
    public void RecordedOrder_IsTheOrderHooksSeeIt()
    {
        var (loss, _, _, _, _, _) = Graph();
        // hooks on every op output run just before that node's backward: an observer-independent record of the order
        var hookOrder = new List<Function>();
        var outputs = new List<Tensor> { loss };
        for (int i = 0; i < outputs.Count; i++)
            foreach (Tensor input in outputs[i].GradFn!.Inputs)
                if (input.GradFn is not null && !outputs.Any(o => ReferenceEquals(o, input))) outputs.Add(input);
        foreach (Tensor o in outputs)
        {
            Function fn = o.GradFn!;
            o.RegisterHook(_ => { hookOrder.Add(fn); return null; });
        }
        BackwardRecording rec = BackwardRecording.Run(loss);
        Function[] recorded = [.. rec.Steps.Select(s => rec.Nodes[s.Node].Function!)];
        Assert.That(recorded, Is.EqualTo(hookOrder).Using<Function>((a, b) => ReferenceEquals(a, b)));
        Assert.That(recorded, Has.Length.EqualTo(outputs.Count));
    }

    [Test]
    public void Nodes_AreInTopologicalOrder_AndEveryStepFollowsItsConsumers()
    {
        var (loss, _, _, _, _, _) = Graph();
        BackwardRecording rec = BackwardRecording.Run(loss);
        foreach (GraphNode node in rec.Nodes) Assert.That(node.Inputs, Has.All.LessThan(node.Id), node.Label);
        Assert.That(rec.Nodes[^1].Tensor, Is.SameAs(loss));
        foreach (BackwardStep step in rec.Steps)
            foreach (GraphNode consumer in rec.Nodes.Where(n => n.Inputs.Contains(step.Node)))
                Assert.That(rec.Steps.Single(s => s.Node == consumer.Id).Step, Is.LessThan(step.Step), "a node's backward runs after all its consumers'");
        Assert.That(rec.Steps[0].Upstream, Is.EqualTo(new[] { 1.0 }), "the root's upstream gradient is the seed 1");
    }

    [Test]
    public void Observer_IsOnlyActiveInsideItsScope()
    {
        var outer = new CountingObserver();
        var inner = new CountingObserver();
        using (BackwardObserver.Observe(outer))
        {
            using (BackwardObserver.Observe(inner)) Graph().Loss.Backward();
            Graph().Loss.Backward();
        }
        Graph().Loss.Backward();
        Assert.That((inner.Calls, outer.Calls), Is.EqualTo((6, 6)), "6 ops per graph (matmul, tanh, mul, add, add, sum); the inner scope hides the outer, disposal restores it, none after");
    }

    private sealed class CountingObserver : IBackwardObserver
    {
        public int Calls;
        public void OnBackward(Function node, Tensor gradOutput, IReadOnlyList<Tensor?> inputGradients) => Calls++;
    }
}
