using BinaryGrad.Kernels;

namespace BinaryGrad.Tests;

/// <summary>Sets <see cref="KernelThreads.Count"/> (with no <see cref="KernelThreads.ThreadLimit"/>) for a test's scope and restores both on dispose, so
/// tests that compare one thread with several (<c>using var _ = KernelThreadsScope.Set(threads);</c>) cannot leak
/// their count into the next test.</summary>
internal sealed class KernelThreadsScope : IDisposable
{
    private readonly int _saved;
    private readonly int? _savedLimit;

    private KernelThreadsScope(int threads)
    {
        (_saved, _savedLimit) = (KernelThreads.Count, KernelThreads.ThreadLimit);
        KernelThreads.Count = threads;
        KernelThreads.ThreadLimit = null; // the count's threads really run (a train test may have left a limit)
    }

    /// <summary>Runs the kernels on <paramref name="threads"/> threads until the returned scope is disposed.</summary>
    public static KernelThreadsScope Set(int threads) => new(threads);

    public void Dispose() => (KernelThreads.Count, KernelThreads.ThreadLimit) = (_saved, _savedLimit);
}
