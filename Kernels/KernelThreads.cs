namespace BinaryGrad.Kernels;

/// <summary>How many threads the kernels use, and the one way they split work across them.</summary>
/// <remarks>Work is cut into <see cref="Count"/> contiguous chunks up front (static partitioning) and run on
/// the shared thread pool, so no threads are created per call and a run with the same thread count always
/// splits — and so sums — the same way, which keeps results bit-for-bit reproducible.</remarks>
public static class KernelThreads
{
    private static int _count = Environment.ProcessorCount;

    /// <summary>Threads per kernel call (default: the logical core count). Set by <c>--threads</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1.</exception>
    public static int Count
    {
        get => _count;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(Count));
            _count = value;
        }
    }

    /// <summary>Calls <paramref name="body"/>(start, end) on disjoint ranges covering [0, <paramref name="length"/>),
    /// one range per thread, each a multiple of <paramref name="grain"/> long except the last. Runs inline when
    /// one range suffices.</summary>
    public static void For(int length, int grain, Action<int, int> body)
    {
        if (length <= 0) return;
        grain = Math.Max(1, grain);
        int blocks = (length + grain - 1) / grain;
        int parts = Math.Min(Count, blocks);
        if (parts <= 1)
        {
            body(0, length);
            return;
        }
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
        {
            int startBlock = (int)((long)blocks * part / parts), endBlock = (int)((long)blocks * (part + 1) / parts);
            int start = startBlock * grain, end = Math.Min(length, endBlock * grain);
            if (start < end) body(start, end);
        });
    }
}
