using BinaryGrad.Kernels;

namespace BinaryGrad.Autograd;

/// <summary>Reverse-mode differentiation over the recorded graph.</summary>
/// <remarks>
/// Nodes are visited in reverse topological order, found by an explicit-stack depth-first search, so a chain of
/// any depth (100 000 ops and more) never recurses. Every node's incoming gradients are summed before its
/// backward runs; that is what makes a tensor used several times get the sum of its paths' gradients.
/// </remarks>
internal static class Engine
{
    public static void Run(Tensor root, Tensor? seed, bool retainGraph)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException(
                "Backward() on a tensor that does not require grad: none of its inputs had RequiresGrad = true, or it was computed inside GradMode.NoGrad(). " +
                "Set RequiresGrad = true on the leaves you want gradients for.");
        if (seed is null)
        {
            if (root.Length != 1)
                throw new InvalidOperationException(
                    $"Backward() without a seed needs a scalar, but this tensor has shape {Shapes.Format(root.Shape)}. " +
                    "Reduce it first (e.g. Sum() or Mean()), or pass the gradient dL/d(output) as Backward(seed).");
            seed = Tensor.Ones(root.Shape, root.DType);
        }
        else if (!Shapes.Equal(seed.Shape, root.Shape) || seed.DType != root.DType)
            throw new InvalidOperationException(
                $"Backward(seed): the seed has shape {Shapes.Format(seed.Shape)} {seed.DType.Name()}, but the tensor has shape {Shapes.Format(root.Shape)} {root.DType.Name()}.");

        using GradMode.NoGradScope _ = GradMode.NoGrad();
        if (root.GradFn is null)
        {
            AccumulateIntoLeaf(root, seed);
            return;
        }

        // The traversal's collections are reused from one backward to the next (cleared, capacity kept), so a training
        // step's backward does not allocate them; a nested backward (from a hook) finds none cached and makes its own.
        Traversal traversal = t_traversal ?? new Traversal();
        t_traversal = null;
        try
        {
            RunNodes(root.GradFn, seed, retainGraph, TopologicalOrder(root.GradFn, traversal));
        }
        finally
        {
            // Clearing drops the references to the graph; a huge graph's collections are not worth keeping around.
            if (traversal.Order.Count <= 1 << 16) t_traversal = traversal;
            traversal.Clear();
        }
    }

    [ThreadStatic] private static Traversal? t_traversal;

    /// <summary>The order, visited set and stack of <see cref="TopologicalOrder(Function, Traversal)"/>.</summary>
    internal sealed class Traversal
    {
        public readonly List<Function> Order = [];
        public readonly HashSet<Function> Visited = new(ReferenceEqualityComparer.Instance);
        public readonly Stack<(Function Node, int NextInput)> Stack = new();

        public void Clear()
        {
            Order.Clear();
            Visited.Clear();
            Stack.Clear();
        }
    }

    /// <summary>Runs the backward of every node of <paramref name="order"/> (inputs first), last to first, from
    /// <paramref name="seed"/> = dL/d(output of <paramref name="rootNode"/>).</summary>
    private static void RunNodes(Function rootNode, Tensor seed, bool retainGraph, List<Function> order)
    {
        rootNode.PendingGrad = seed;
        rootNode.PendingGradOwned = false;
        for (int n = order.Count - 1; n >= 0; n--)
        {
            Function fn = order[n];
            Tensor? grad = fn.PendingGrad;
            if (grad is null) continue;
            fn.PendingGrad = null;
            if (fn.Released)
                throw new InvalidOperationException(
                    $"Backward() through the graph a second time: node '{fn.Name}' was freed by the previous backward. " +
                    "Pass retainGraph: true to the first Backward() if you need to differentiate the same graph twice.");
            Tensor output = fn.Output!;
            if (output.HasHooks || output.RetainsGrad) grad.Pooled = false; // a hook may keep what it is shown
            grad = output.RunHooks(grad);
            if (output.RetainsGrad) output.Grad = Sum(output.Grad, grad);

            long started = OpProfiler.Enabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0, bytes = started != 0 ? OpProfiler.AllocatedBytes() : 0;
            Tensor?[] inputGrads = fn.Backward(grad);
            if (started != 0) OpProfiler.Add(fn.Name + " bwd", started, bytes);
            if (BackwardObserver.Current is { } observer) observer.OnBackward(fn, grad, inputGrads);
            IReadOnlyList<Tensor> inputs = fn.Inputs;
            if (inputGrads.Length != inputs.Count)
                throw new InvalidOperationException($"{fn.Name}: backward returned {inputGrads.Length} gradients for {inputs.Count} inputs.");
            for (int i = 0; i < inputs.Count; i++)
            {
                Tensor input = inputs[i];
                Tensor? g = inputGrads[i];
                if (!input.RequiresGrad || g is null) continue;
                if (!Shapes.Equal(g.Shape, input.Shape) || g.DType != input.DType)
                    throw new InvalidOperationException(
                        $"{fn.Name}: backward returned a gradient of shape {Shapes.Format(g.Shape)} {g.DType.Name()} for input {i} of shape {Shapes.Format(input.Shape)} {input.DType.Name()}.");
                if (g.Pooled)
                    for (int j = 0; j < inputGrads.Length; j++)
                        if (j != i && inputGrads[j] is { } other && ReferenceEquals(other.Storage, g.Storage)) g.Pooled = false; // handed out twice
                if (input.GradFn is { } producer)
                {
                    if (producer.PendingGrad is null)
                    {
                        producer.PendingGrad = g;
                        producer.PendingGradOwned = false; // may alias a tensor another input also received
                    }
                    else
                    {
                        Tensor previous = producer.PendingGrad;
                        producer.PendingGrad = AddInto(previous, producer.PendingGradOwned, g);
                        producer.PendingGradOwned = true;
                        if (!ReferenceEquals(previous, producer.PendingGrad)) Recycle(previous, producer.PendingGrad);
                        Recycle(g, producer.PendingGrad);
                    }
                }
                else AccumulateIntoLeaf(input, g);
            }
            // The consumed gradient goes back to the pool unless the backward passed it (or a view of it) on, or the op
            // may have kept it (only built-in ops promise not to).
            if (grad.Pooled && fn.DropsGradOutput)
            {
                bool passedOn = false;
                foreach (Tensor? g in inputGrads) passedOn |= g is not null && ReferenceEquals(g.Storage, grad.Storage);
                if (!passedOn) Recycle(grad, null);
            }
            if (!retainGraph) fn.Release();
        }
    }

    private static void AccumulateIntoLeaf(Tensor leaf, Tensor grad)
    {
        if (leaf.HasHooks) grad.Pooled = false;
        grad = leaf.RunHooks(grad);
        if (leaf.Grad is null && grad.Pooled)
        {
            // The engine alone holds this fresh buffer: it becomes the leaf's gradient without the copy Sum would make.
            grad.Pooled = false;
            leaf.Grad = grad;
            TensorPool.AdoptAsLeafGradient(leaf, grad); // in a step scope: outlives it, recycled by ZeroGrad
            return;
        }
        leaf.Grad = Sum(leaf.Grad, grad);
        TensorPool.AdoptAsLeafGradient(leaf, leaf.Grad);
        Recycle(grad, leaf.Grad);
    }

    /// <summary>Returns a pooled gradient's storage to <see cref="GradientPool"/> once the engine is done with it
    /// (<paramref name="keep"/>: a tensor that must not lose its storage, e.g. the sum it was just added into).</summary>
    private static void Recycle(Tensor grad, Tensor? keep)
    {
        if (!grad.Pooled || (keep is not null && ReferenceEquals(keep.Storage, grad.Storage))) return;
        grad.Pooled = false;
        if (grad.Block is null) GradientPool.Return(grad.Storage);
        else TensorPool.ReturnEarly(grad);
    }

    /// <summary>existing + grad in a tensor the caller owns (the first gradient is copied so that .Grad never
    /// aliases a buffer the graph still uses).</summary>
    private static Tensor Sum(Tensor? existing, Tensor grad) =>
        existing is null ? grad.MaterializeRaw() : AddInto(existing, owned: true, grad);

    private static Tensor AddInto(Tensor existing, bool owned, Tensor grad)
    {
        // A pooled incoming gradient is held by the engine alone (a buffer handed to two inputs is unpooled first), so
        // when the pending one may not be written, the sum goes into the incoming one: one pass instead of a copy and a
        // pass. (The sum is the same: float addition commutes.)
        if ((!owned || !existing.IsContiguous) && grad.Pooled && grad.IsContiguous && existing.IsContiguous)
            (existing, grad) = (grad, existing);
        else if (!owned || !existing.IsContiguous) existing = existing.MaterializeRaw();
        Tensor target = existing;
        Tensor g = grad.IsContiguous ? grad : grad.MaterializeRaw();
        if (target.DType == DType.Float32) AddInPlace(target.AsSpan<float>(), g.AsSpan<float>());
        else AddInPlace(target.AsSpan<double>(), g.AsSpan<double>());
        return target;
    }

    /// <summary>Elements a kernel thread takes at least in <see cref="AddInPlace{T}"/>.</summary>
    private const int AddGrain = 1 << 15;

    /// <summary>target += g, spread over the kernel threads. Why: a residual network sums two gradients at every unit
    /// input, and on one thread those sums were 3 % of a SiMaN ResNet-20 step with the other core idle. Element by
    /// element, so the sums are the same for any split.</summary>
    private static unsafe void AddInPlace<T>(Span<T> target, ReadOnlySpan<T> g) where T : unmanaged, System.Numerics.IAdditionOperators<T, T, T>, System.Numerics.IAdditiveIdentity<T, T>
    {
        if (target.Length < 2 * AddGrain)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(target, g, target);
            return;
        }
        fixed (T* pt = target, pg = g) KernelThreads.For(target.Length, AddGrain, new AddBody<T>(pt, pg));
    }

    private readonly unsafe struct AddBody<T>(T* target, T* g) : KernelThreads.IRangeBody where T : unmanaged, System.Numerics.IAdditionOperators<T, T, T>, System.Numerics.IAdditiveIdentity<T, T>
    {
        public void Run(int start, int end)
        {
            var part = new Span<T>(target + start, end - start);
            System.Numerics.Tensors.TensorPrimitives.Add(part, new ReadOnlySpan<T>(g + start, end - start), part);
        }
    }

    /// <summary>Nodes reachable from <paramref name="root"/>, each after all nodes it depends on (inputs first).</summary>
    internal static List<Function> TopologicalOrder(Function root) => TopologicalOrder(root, new Traversal());

    /// <summary><see cref="TopologicalOrder(Function)"/> into <paramref name="traversal"/>'s (empty) collections.</summary>
    private static List<Function> TopologicalOrder(Function root, Traversal traversal)
    {
        List<Function> order = traversal.Order;
        HashSet<Function> visited = traversal.Visited;
        Stack<(Function Node, int NextInput)> stack = traversal.Stack;
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            (Function node, int next) = stack.Pop();
            IReadOnlyList<Tensor> inputs = node.Inputs;
            bool descended = false;
            for (int i = next; i < inputs.Count; i++)
            {
                if (inputs[i].GradFn is { } child && visited.Add(child))
                {
                    stack.Push((node, i + 1));
                    stack.Push((child, 0));
                    descended = true;
                    break;
                }
            }
            if (!descended) order.Add(node); // post-order: all inputs' producers are already in the list
        }
        return order;
    }
}
