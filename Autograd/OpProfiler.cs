using System.Diagnostics;

namespace BinaryGrad.Autograd;

/// <summary>Where a training step's time goes, per op: while <see cref="Enabled"/>, every <see cref="Function"/>'s
/// forward and every backward the engine runs add their wall time under the op's name (<c>conv2d fwd</c>,
/// <c>conv2d bwd</c>, …). Off by default: the cost when off is one static read per op call.</summary>
/// <remarks>Used by <c>binarygrad bench train --profile</c>. Nested ops (an op whose forward applies other ops) count
/// in both; the ops of a training step do not nest. Not thread-safe: enable it around single-threaded graph
/// building (the kernels may still use their worker threads inside an op).</remarks>
public static class OpProfiler
{
    private static readonly Dictionary<string, (long Ticks, long Calls, long Bytes)> s_totals = [];

    /// <summary>Records op times while true.</summary>
    public static bool Enabled { get; set; }

    /// <summary>Clears the totals.</summary>
    public static void Reset() => s_totals.Clear();

    /// <summary>The totals so far: op name and direction, seconds, calls, managed bytes allocated (process-wide, so
    /// kernel worker threads count); slowest first.</summary>
    public static IReadOnlyList<(string Op, double Seconds, long Calls, long AllocatedBytes)> Totals() =>
        [.. s_totals.Select(kv => (kv.Key, (double)kv.Value.Ticks / Stopwatch.Frequency, kv.Value.Calls, kv.Value.Bytes)).OrderByDescending(t => t.Item2)];

    /// <summary>The allocation counter to pass to <see cref="Add"/> with the start timestamp.</summary>
    internal static long AllocatedBytes() => GC.GetTotalAllocatedBytes(precise: false);

    internal static void Add(string op, long startTimestamp, long startBytes)
    {
        long elapsed = Stopwatch.GetTimestamp() - startTimestamp, bytes = AllocatedBytes() - startBytes;
        s_totals[op] = s_totals.TryGetValue(op, out var t) ? (t.Ticks + elapsed, t.Calls + 1, t.Bytes + bytes) : (elapsed, 1, bytes);
    }
}
