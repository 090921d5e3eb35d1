namespace BinaryGrad.Autograd;

public sealed partial class Tensor
{
    private bool _requiresGrad;
    private bool _retainsGrad;
    private List<Func<Tensor, Tensor?>>? _hooks;

    /// <summary>Whether gradients flow to this tensor. Set it on leaves (inputs, parameters); results of ops on
    /// such tensors require gradients automatically.</summary>
    /// <exception cref="InvalidOperationException">Setting it on a tensor computed by an op (use <see cref="Detach"/>).</exception>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (GradFn is not null && !value)
                throw new InvalidOperationException($"RequiresGrad can only be cleared on leaf tensors; this one was computed by '{GradFn.Name}'. Use Detach() to get a tensor outside the graph.");
            _requiresGrad = value;
        }
    }

    /// <summary>dL/d(this) after <see cref="Backward(Tensor?, bool)"/>, for leaves that require gradients and for
    /// intermediates that called <see cref="RetainGrad"/>; accumulates over calls until <see cref="ZeroGrad"/>.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The op that computed this tensor, or null for a leaf.</summary>
    public Function? GradFn { get; private set; }

    /// <summary>True for tensors not computed by a recorded op.</summary>
    public bool IsLeaf => GradFn is null;

    internal bool RetainsGrad => _retainsGrad;

    internal bool HasHooks => _hooks is { Count: > 0 };

    internal void AttachGradFn(Function fn)
    {
        GradFn = fn;
        _requiresGrad = true;
    }

    /// <summary>Keeps this intermediate's gradient in <see cref="Grad"/> during backward (leaves always keep theirs).</summary>
    public Tensor RetainGrad()
    {
        if (!RequiresGrad) throw new InvalidOperationException("RetainGrad() on a tensor that does not require grad: nothing would flow into it.");
        _retainsGrad = true;
        return this;
    }

    /// <summary>Registers <paramref name="hook"/> to see this tensor's gradient during backward. It may return a
    /// replacement gradient (same shape) or null to keep it. Dispose the result to remove the hook.</summary>
    public IDisposable RegisterHook(Func<Tensor, Tensor?> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if (!RequiresGrad) throw new InvalidOperationException("RegisterHook() on a tensor that does not require grad: its gradient is never computed.");
        (_hooks ??= []).Add(hook);
        return new HookHandle(this, hook);
    }

    internal Tensor RunHooks(Tensor grad)
    {
        if (_hooks is null) return grad;
        foreach (Func<Tensor, Tensor?> hook in _hooks.ToArray())
        {
            Tensor? replaced = hook(grad);
            if (replaced is null) continue;
            if (!Shapes.Equal(replaced.Shape, grad.Shape) || replaced.DType != grad.DType)
                throw new InvalidOperationException($"A gradient hook returned shape {Shapes.Format(replaced.Shape)} {replaced.DType.Name()}; expected {Shapes.Format(grad.Shape)} {grad.DType.Name()}.");
            grad = replaced;
        }
        return grad;
    }

    private sealed class HookHandle(Tensor owner, Func<Tensor, Tensor?> hook) : IDisposable
    {
        public void Dispose() => owner._hooks?.Remove(hook);
    }

    /// <summary>Computes dL/dx for every leaf x that requires a gradient, where L is this tensor (a scalar), or
    /// Σ seed ⊙ this for an explicit <paramref name="gradient"/> seed of this tensor's shape.</summary>
    /// <param name="gradient">dL/d(this); required unless this tensor has one element.</param>
    /// <param name="retainGraph">Keep the graph so that Backward can run through it again.</param>
    /// <exception cref="InvalidOperationException">This tensor does not require grad, it is not a scalar and no
    /// seed was given, or the graph was already freed by an earlier backward.</exception>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) => Engine.Run(this, gradient, retainGraph);

    /// <summary>Backward with a seed given as values (float32 or float64 alike, converted to this tensor's type).</summary>
    public void Backward(ReadOnlySpan<double> gradient, bool retainGraph = false) =>
        Engine.Run(this, FromValues(gradient, _shape, DType), retainGraph);

    /// <summary>A tensor sharing this one's storage but outside the graph (no gradient flows through it).</summary>
    public Tensor Detach()
    {
        ThrowIfReturned();
        Tensor detached = SameStorage(_shape, _strides, _offset);
        detached.Name = Name;
        return detached;
    }

    /// <summary>Forgets the accumulated <see cref="Grad"/>. A gradient computed inside a <see cref="TensorPool"/> step scope
    /// goes back to the pool here (using the old gradient tensor afterwards throws; <see cref="Keep"/> it to hold on).</summary>
    public void ZeroGrad()
    {
        TensorPool.ReleaseLeafGradient(this, Grad);
        Grad = null;
    }
}
