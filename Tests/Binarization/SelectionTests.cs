using BinaryGrad.Binarization;
using BinaryGrad.Kernels;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>Selection replaces SiMaN's sorts: every order statistic, percentile and top-half mark must equal the
/// sort-based definition (a full sort, and a stable descending LINQ order), including heavy ties, on every SIMD path
/// (the counting selection's vector compares against their scalar reference).</summary>
[TestFixture, Category("Kernels")]
public class SelectionTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    private static double[] Values(int n, int seed, bool ties)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => ties ? rng.Next(5) * 0.25 : rng.NextDouble() * 2 - 1)];
    }

    [Test]
    public void Select_EqualsSortedElement([Values(1, 2, 3, 17, 64, 257)] int n, [Values(false, true)] bool ties)
    {
        double[] sorted = [.. Values(n, n, ties).Order()];
        for (int k = 0; k < n; k++)
        {
            double[] v = Values(n, n, ties);
            Assert.That(Selection.Select(v, k), Is.EqualTo(sorted[k]), $"k = {k}");
            for (int i = 0; i < k; i++) Assert.That(v[i], Is.LessThanOrEqualTo(v[k]));
            for (int i = k + 1; i < n; i++) Assert.That(v[i], Is.GreaterThanOrEqualTo(v[k]));
        }
    }

    [Test]
    public void Percentile_EqualsSimanPercentileOfSortedValues([Values(1, 2, 9, 100, 1001)] int n, [Values(false, true)] bool ties,
        [Values(0, 0.5, 7.3, 15, 50, 85, 100)] double p, [ValueSource(nameof(Paths))] SimdPath path)
    {
        using IDisposable _ = Simd.Force(path);
        double expected = SimanSign.Percentile([.. Values(n, 3 * n, ties).Order()], p);
        Assert.That(Selection.Percentile(Values(n, 3 * n, ties), p), Is.EqualTo(expected));
    }

    [Test]
    public void MarkLargest_EqualsStableDescendingSort([Values(1, 2, 7, 64, 101)] int n, [Values(false, true)] bool ties,
        [ValueSource(nameof(Paths))] SimdPath path)
    {
        using IDisposable _ = Simd.Force(path);
        double[] keys = Values(n, 5 * n, ties);
        int count = n / 2;
        double[] expected = new double[n];
        Array.Fill(expected, -1.0);
        foreach (int i in Enumerable.Range(0, n).OrderByDescending(i => keys[i]).Take(count)) expected[i] = 1;
        double[] marks = new double[n];
        Selection.MarkLargest(keys, count, marks);
        Assert.That(marks, Is.EqualTo(expected));
    }

    /// <summary>Every order statistic by counting (<c>SelectKey</c>) equals the sorted element, negative values, ±0
    /// and infinities included; the keys keep the values' order.</summary>
    [Test]
    public void SelectKey_EqualsSortedElement([Values(1, 3, 8, 13, 67)] int n, [Values(false, true)] bool ties, [ValueSource(nameof(Paths))] SimdPath path)
    {
        using IDisposable _ = Simd.Force(path);
        double[] values = Values(n, 7 * n, ties);
        double[] special = [-0.0, 0.0, double.PositiveInfinity, double.NegativeInfinity, -1e-300, 1e300];
        for (int i = 0; i < Math.Min(n, special.Length); i += 2) values[i] = special[i];
        double[] sorted = [.. values.Order()];
        ulong[] keys = [.. values.Select(Selection.ToKey)];
        for (int k = 0; k < n; k++) Assert.That(Selection.FromKey(Selection.SelectKey(keys, k)), Is.EqualTo(sorted[k]), $"k = {k}");
    }

    /// <summary>The vector counts against the scalar reference on odd lengths (vector tails) and bounds at, between and
    /// beyond the keys.</summary>
    [Test]
    public void CountBelow_EqualsScalarReference([Values(0, 1, 3, 4, 7, 8, 9, 31, 100)] int n, [ValueSource(nameof(Paths))] SimdPath path)
    {
        var rng = new Random(n);
        ulong[] keys = [.. Enumerable.Range(0, n).Select(_ => (ulong)rng.NextInt64() ^ (rng.Next(2) == 0 ? 0 : 1UL << 63))];
        ulong[] bounds = [0, 1, ulong.MaxValue, 1UL << 63, .. keys, .. keys.Select(k => k + 1)];
        using IDisposable _ = Simd.Force(path);
        foreach (ulong bound in bounds)
            Assert.That(Selection.CountBelow(keys, bound), Is.EqualTo(Selection.CountBelowScalar(keys, bound)), $"bound {bound}");
    }
}
