using System.Runtime.Intrinsics;
using BinaryGrad.Kernels;

namespace BinaryGrad.Binarization;

/// <summary>Order statistics without sorting: what SiMaN needs per step (a layer-wide percentile and a per-filter top
/// half), where a full sort of a million latent weights per layer dominated the step. <see cref="Percentile"/> and
/// <see cref="MarkLargest"/> find their order statistic by counting (<see cref="SelectKey"/>, exact, branch-free);
/// <see cref="Select"/> is the quickselect they replaced, kept as an independent reference.</summary>
/// <remarks>Inputs must not contain NaN (callers check and fall back to sorting, whose order puts NaN first).</remarks>
internal static class Selection
{
    /// <summary>The k-th smallest (0-based) of <paramref name="values"/>, which is reordered in place: afterwards
    /// values[k] holds it, everything left of k is ≤ it and everything right of k is ≥ it.</summary>
    public static double Select(Span<double> values, int k)
    {
        if ((uint)k >= (uint)values.Length) throw new ArgumentOutOfRangeException(nameof(k), k, $"Selection: k must be in [0, {values.Length}).");
        int lo = 0, hi = values.Length - 1;
        while (hi > lo)
        {
            // median of three as the pivot, then a Hoare partition
            int mid = lo + (hi - lo) / 2;
            if (values[mid] < values[lo]) Swap(values, mid, lo);
            if (values[hi] < values[lo]) Swap(values, hi, lo);
            if (values[hi] < values[mid]) Swap(values, hi, mid);
            double pivot = values[mid];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (values[i] < pivot) i++;
                while (values[j] > pivot) j--;
                if (i <= j)
                {
                    Swap(values, i, j);
                    i++;
                    j--;
                }
            }
            // now [lo, j] ≤ pivot ≤ [i, hi] and every element strictly between j and i equals the pivot
            if (k <= j) hi = j;
            else if (k >= i) lo = i;
            else return values[k];
        }
        return values[k];
    }

    /// <summary>Percentile p ∈ [0, 100] with linear interpolation between order statistics, exactly
    /// <see cref="SimanSign.Percentile"/> of the sorted values (same arithmetic); <paramref name="values"/> is not
    /// changed.</summary>
    public static double Percentile(ReadOnlySpan<double> values, double p)
    {
        double rank = p / 100 * (values.Length - 1);
        int lo = (int)Math.Floor(rank), hi = Math.Min(lo + 1, values.Length - 1);
        var pool = ScratchPool<ulong>.ThisThread;
        ulong[] keyArray = pool.Rent(values.Length);
        Span<ulong> keys = keyArray.AsSpan(0, values.Length);
        ToKeys(values, keys);
        ulong low = SelectKey(keys, lo), high = low;
        if (hi != lo)
        {
            // the next order statistic: low again if it occurs more than lo + 1 times among the smallest, else the
            // smallest key above it
            if (CountBelow(keys, low + 1) < lo + 2)
            {
                high = ulong.MaxValue;
                foreach (ulong key in keys) if (key > low && key < high) high = key;
            }
        }
        pool.Return(keyArray);
        double lowValue = FromKey(low), highValue = FromKey(high);
        return lowValue + (rank - lo) * (highValue - lowValue);
    }

    /// <summary>Marks the <paramref name="count"/> largest of <paramref name="keys"/> (ties to the lower index, as a
    /// stable descending sort) with +1 and the rest with −1 in <paramref name="marks"/>.</summary>
    public static void MarkLargest(ReadOnlySpan<double> keys, int count, Span<double> marks)
    {
        marks.Fill(-1);
        if (count <= 0) return;
        var pool = ScratchPool<ulong>.ThisThread;
        ulong[] orderArray = pool.Rent(keys.Length);
        Span<ulong> order = orderArray.AsSpan(0, keys.Length);
        ToKeys(keys, order);
        ulong threshold = SelectKey(order, keys.Length - count);
        int ties = count - (keys.Length - CountBelow(order, threshold + 1));
        for (int i = 0; i < order.Length; i++)
            if (order[i] > threshold || (order[i] == threshold && ties-- > 0)) marks[i] = 1;
        pool.Return(orderArray);
    }

    private const ulong SignBit = 1UL << 63;

    /// <summary>The order-preserving key of a non-NaN double: unsigned key order is the values' order, and −0 has the
    /// key of +0 (they are equal). Negative values get every bit flipped, the others the sign bit set.</summary>
    internal static ulong ToKey(double value)
    {
        ulong bits = value == 0 ? 0 : BitConverter.DoubleToUInt64Bits(value);
        return (bits & SignBit) != 0 ? ~bits : bits | SignBit;
    }

    /// <summary>The double of a key (<see cref="ToKey"/>'s inverse; a zero key gives +0).</summary>
    internal static double FromKey(ulong key) => BitConverter.UInt64BitsToDouble((key & SignBit) != 0 ? key & ~SignBit : ~key);

    private static void ToKeys(ReadOnlySpan<double> values, Span<ulong> keys)
    {
        for (int i = 0; i < values.Length; i++) keys[i] = ToKey(values[i]);
    }

    /// <summary>The k-th smallest (0-based) of <paramref name="keys"/> by radix selection, a byte at a time from the
    /// top: count the candidates' byte values, take the byte whose counts hold rank k, keep only the candidates with
    /// that byte (branch-free compaction), and go on with the next byte. Exact, and without quickselect's mispredicted
    /// partitions; bytes that every candidate shares (the common exponent bits) cost one counting pass.</summary>
    internal static ulong SelectKey(ReadOnlySpan<ulong> keys, int k)
    {
        if ((uint)k >= (uint)keys.Length) throw new ArgumentOutOfRangeException(nameof(k), k, $"Selection: k must be in [0, {keys.Length}).");
        var pool = ScratchPool<ulong>.ThisThread;
        ulong[] bufferArray = pool.Rent(keys.Length);
        Span<int> counts = stackalloc int[512];
        ReadOnlySpan<ulong> candidates = keys;
        ulong prefix = 0;
        for (int shift = 56; shift >= 0 && candidates.Length > 1; shift -= 8)
        {
            // two interleaved histograms, so that runs of one byte value do not chain every increment on the last
            counts.Clear();
            int i = 0;
            for (; i + 2 <= candidates.Length; i += 2)
            {
                counts[(int)(candidates[i] >> shift) & 255]++;
                counts[256 + ((int)(candidates[i + 1] >> shift) & 255)]++;
            }
            if (i < candidates.Length) counts[(int)(candidates[i] >> shift) & 255]++;
            int digit = 0, inDigit;
            while (k >= (inDigit = counts[digit] + counts[256 + digit]))
            {
                k -= inDigit;
                digit++;
            }
            prefix |= (ulong)digit << shift;
            if (inDigit == candidates.Length) continue;
            Span<ulong> kept = bufferArray.AsSpan(0, inDigit + 1); // one slot of slack for the branch-free store
            int m = 0;
            foreach (ulong key in candidates)
            {
                kept[m] = key;
                m += ((int)(key >> shift) & 255) == digit ? 1 : 0;
                if (m == inDigit) break;
            }
            candidates = kept[..inDigit];
        }
        ulong answer = candidates.Length == 1 ? candidates[0] : prefix;
        pool.Return(bufferArray);
        return answer;
    }

    /// <summary>How many keys are below <paramref name="bound"/> (unsigned), on the vector path
    /// <see cref="Simd.Path"/> selects; <see cref="CountBelowScalar"/> is the reference.</summary>
    internal static int CountBelow(ReadOnlySpan<ulong> keys, ulong bound)
    {
        int i = 0;
        long count = 0;
        if (Simd.Path == SimdPath.Vector512 && keys.Length >= 8)
        {
            Vector512<ulong> limit = Vector512.Create(bound), below = Vector512<ulong>.Zero;
            for (; i + 8 <= keys.Length; i += 8) below -= Vector512.LessThan(Vector512.Create(keys.Slice(i, 8)), limit); // all-ones lanes are −1
            count = (long)Vector512.Sum(below);
        }
        else if (Simd.Path != SimdPath.Scalar && keys.Length >= 4)
        {
            Vector256<ulong> limit = Vector256.Create(bound), below = Vector256<ulong>.Zero;
            for (; i + 4 <= keys.Length; i += 4) below -= Vector256.LessThan(Vector256.Create(keys.Slice(i, 4)), limit);
            count = (long)Vector256.Sum(below);
        }
        return (int)count + CountBelowScalar(keys[i..], bound);
    }

    /// <summary>The scalar reference of <see cref="CountBelow"/>.</summary>
    internal static int CountBelowScalar(ReadOnlySpan<ulong> keys, ulong bound)
    {
        int count = 0;
        foreach (ulong key in keys) count += key < bound ? 1 : 0;
        return count;
    }

    private static void Swap(Span<double> values, int a, int b) => (values[a], values[b]) = (values[b], values[a]);
}
