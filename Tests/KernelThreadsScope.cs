using BinaryGrad.Kernels;

namespace BinaryGrad.Tests;

/// <summary>Sets <see cref="KernelThreads.Count"/> for a test's scope and restores the previous count on dispose, so
/// tests that compare one thread with several (<c>using var _ = KernelThreadsScope.Set(threads);</c>) cannot leak
/// their count into the next test.</summary>
internal sealed class KernelThreadsScope : IDisposable
{
    private readonly int _saved;

    private KernelThreadsScope(int threads)
    {
        _saved = KernelThreads.Count;
        KernelThreads.Count = threads;
    }

    /// <summary>Runs the kernels on <paramref name="threads"/> threads until the returned scope is disposed.</summary>
    public static KernelThreadsScope Set(int threads) => new(threads);

    public void Dispose() => KernelThreads.Count = _saved;
}
