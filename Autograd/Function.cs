namespace BinaryGrad.Autograd;

/// <summary>A differentiable operation: one node of the graph. Each op is a sealed subclass nested beside the
/// public <c>Ops</c> method that documents its math; users may derive their own (see the custom-op sample).</summary>
/// <remarks>
/// Contract (PyTorch's <c>autograd.Function</c>): <see cref="Forward"/> computes the output from the inputs'
/// values and keeps in fields what <see cref="Backward"/> needs; <see cref="Backward"/> returns one gradient per
/// input, of the input's shape and type, or null where no gradient is needed (<see cref="NeedsGrad"/>). The
/// engine does all accumulation: a backward never has to add into anything. Forward runs with recording off,
/// and so does Backward, so both may freely use other <c>Ops</c>. (One exception, for built-in kernels that can
/// accumulate in their own output pass: <see cref="TakePendingGradient"/>.)
/// </remarks>
public abstract partial class Function
{
    private Tensor[] _inputs = [];

    /// <summary>Short op name shown in graphs and gradient-check tables, e.g. <c>matmul</c>.</summary>
    public abstract string Name { get; }

    /// <summary>True for nodes whose backward is an estimator (a surrogate derivative), not the derivative of
    /// the forward: straight-through quantizers. Graph views mark them.</summary>
    public virtual bool IsEstimator => false;

    /// <summary>The inputs of the recorded call.</summary>
    public IReadOnlyList<Tensor> Inputs => _inputs;

    internal Tensor? Output { get; private set; }
    internal bool Released { get; private set; }
    internal Tensor? PendingGrad;
    internal bool PendingGradOwned;

    /// <summary>True when input <paramref name="index"/> needs a gradient.</summary>
    protected bool NeedsGrad(int index) => _inputs[index].RequiresGrad;

    /// <summary>Computes the output from the inputs' values (recording is off).</summary>
    protected abstract Tensor Forward(Tensor[] inputs);

    /// <summary>Given dL/dy, returns dL/dx for each input (null where <see cref="NeedsGrad"/> is false).</summary>
    protected internal abstract Tensor?[] Backward(Tensor gradOutput);

    /// <summary>Runs <see cref="Forward"/> and, if recording is on and any input requires a gradient, makes this
    /// node the output's <see cref="Tensor.GradFn"/>.</summary>
    public Tensor Apply(params Tensor[] inputs)
    {
        Tensor output;
        long started = OpProfiler.Enabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0, bytes = started != 0 ? OpProfiler.AllocatedBytes() : 0;
        using (GradMode.NoGrad()) output = Forward(inputs);
        if (started != 0) OpProfiler.Add(Name + " fwd", started, bytes);
        if (GradMode.IsEnabled)
            foreach (Tensor x in inputs)
            {
                if (!x.RequiresGrad) continue;
                if (Output is not null) throw new InvalidOperationException($"{Name}: a Function instance records one call; create a new one per call.");
                _inputs = inputs;
                Output = output;
                output.AttachGradFn(this);
                return output;
            }
        // Not recorded: no backward will ever run, so what the forward saved for it (pooled scratch) can go now.
        if (Output is null) ReleaseSaved();
        return output;
    }

    /// <summary>A contiguous gradient buffer with stale contents, for a <see cref="Backward"/> that writes every element
    /// and returns it as an input's gradient without keeping it (nor a view of it). The engine then owns it: it may add
    /// another gradient of the same input into it instead of copying, and recycles it when done.</summary>
    protected static Tensor RentGradient(ReadOnlySpan<int> shape, DType dtype) => Tensor.RentGradient(shape, dtype, clear: false);

    /// <summary>For a backward that can add an input's gradient into a buffer in the pass that writes it: the gradient
    /// the engine has already collected for input <paramref name="index"/> (from the input's other consumers, e.g. a
    /// residual shortcut), handed over when the engine alone holds it (a pooled, contiguous buffer of the input's shape
    /// and type). The backward must then add its own gradient into it and return it as that input's gradient; the
    /// engine would otherwise add the two in a separate pass (same floats: addition commutes). Null when nothing is
    /// collected yet, the input is a leaf, the buffer may not be written, or a <see cref="BackwardObserver"/> watches
    /// (it is shown each node's own gradients); then the backward returns its gradient as usual.</summary>
    protected Tensor? TakePendingGradient(int index)
    {
        // an observer (binarygrad explain) is shown each node's own input gradients, not sums with other paths'
        if (BackwardObserver.Current is not null) return null;
        Tensor input = _inputs[index];
        if (input.GradFn is not { } producer || producer.PendingGrad is not { } pending) return null;
        if (!pending.Pooled || !pending.IsContiguous || pending.DType != input.DType || !Shapes.Equal(pending.Shape, input.Shape)) return null;
        producer.PendingGrad = null;
        return pending;
    }

    /// <summary>True for built-in ops whose <see cref="Backward"/> never keeps its gradOutput (nor a view of it)
    /// beyond the call, so the engine may recycle a pooled gradient after it (see <see cref="GradientPool"/>).
    /// False for every user-defined op.</summary>
    internal virtual bool DropsGradOutput => false;

    /// <summary>Drops what the backward needed; a second backward through this node then fails clearly.</summary>
    internal void Release()
    {
        Released = true;
        ReleaseSaved();
    }

    /// <summary>Lets an op drop saved buffers after backward (optional; the default keeps them until the graph is collected).</summary>
    protected virtual void ReleaseSaved() { }
}
