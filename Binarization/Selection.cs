namespace BinaryGrad.Binarization;

/// <summary>Order statistics without sorting (quickselect, expected O(n)): what SiMaN needs per step (a layer-wide
/// percentile and a per-filter top half), where a full sort of a million latent weights per layer dominated the step.</summary>
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
    /// <see cref="SimanSign.Percentile"/> of the sorted values (same arithmetic); <paramref name="values"/> is reordered.</summary>
    public static double Percentile(Span<double> values, double p)
    {
        double rank = p / 100 * (values.Length - 1);
        int lo = (int)Math.Floor(rank), hi = Math.Min(lo + 1, values.Length - 1);
        double low = Select(values, lo), high = low;
        if (hi != lo)
        {
            // after Select everything right of lo is ≥ values[lo]: the next order statistic is their minimum
            high = double.PositiveInfinity;
            foreach (double v in values[(lo + 1)..]) high = Math.Min(high, v);
        }
        return low + (rank - lo) * (high - low);
    }

    /// <summary>Marks the <paramref name="count"/> largest of <paramref name="keys"/> (ties to the lower index, as a
    /// stable descending sort) with +1 and the rest with −1 in <paramref name="marks"/>; <paramref name="scratch"/>
    /// (keys' length) is overwritten.</summary>
    public static void MarkLargest(ReadOnlySpan<double> keys, int count, Span<double> marks, Span<double> scratch)
    {
        marks.Fill(-1);
        if (count <= 0) return;
        keys.CopyTo(scratch);
        double threshold = Select(scratch, keys.Length - count);
        int greater = 0;
        foreach (double k in keys) if (k > threshold) greater++;
        int ties = count - greater;
        for (int i = 0; i < keys.Length; i++)
            if (keys[i] > threshold || (keys[i] == threshold && ties-- > 0)) marks[i] = 1;
    }

    private static void Swap(Span<double> values, int a, int b) => (values[a], values[b]) = (values[b], values[a]);
}
