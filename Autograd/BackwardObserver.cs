namespace BinaryGrad.Autograd;

/// <summary>Sees every node's backward as the engine runs it: the node, the gradient it received (dL/d output, after
/// the output's hooks) and the gradients it produced for its inputs, in the engine's real order. Used by teaching and
/// debugging tools (<c>binarygrad explain</c>, docs/explain.md) that must show what the engine did, not a re-computation.</summary>
/// <remarks>The tensors passed are the engine's own buffers, valid only during the call: an observer that keeps
/// values copies them (e.g. <c>ToDoubleArray()</c>). It must not modify them.</remarks>
public interface IBackwardObserver
{
    /// <summary>Called after <paramref name="node"/>'s backward ran.</summary>
    /// <param name="node">The node, in the order the engine visits it (reverse topological).</param>
    /// <param name="gradOutput">dL/d(node output), the sum of every path's gradient, as passed to the backward.</param>
    /// <param name="inputGradients">dL/d(input i) as returned by the backward (null where no gradient is needed).</param>
    void OnBackward(Function node, Tensor gradOutput, IReadOnlyList<Tensor?> inputGradients);
}

/// <summary>Installs an <see cref="IBackwardObserver"/> on the current thread for the lifetime of a scope.</summary>
/// <remarks>Zero cost when unused: the engine tests one thread-static field per node for null. Scopes nest; disposing
/// restores the previous observer. Thread-local, like <see cref="GradMode"/>, so a backward on another thread is not
/// observed.</remarks>
public static class BackwardObserver
{
    [ThreadStatic] private static IBackwardObserver? t_current;

    /// <summary>The observer of the current thread, or null.</summary>
    internal static IBackwardObserver? Current => t_current;

    /// <summary>Makes <paramref name="observer"/> see every backward on this thread until the result is disposed.</summary>
    public static IDisposable Observe(IBackwardObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        var scope = new Scope(t_current);
        t_current = observer;
        return scope;
    }

    private sealed class Scope(IBackwardObserver? previous) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            t_current = previous;
        }
    }
}
