using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>Quickselect replaces SiMaN's sorts: every order statistic, percentile and top-half mark must equal the
/// sort-based definition (a full sort, and a stable descending LINQ order), including heavy ties.</summary>
[TestFixture, Category("Binarization")]
public class SelectionTests
{
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
        [Values(0, 0.5, 7.3, 15, 50, 85, 100)] double p)
    {
        double expected = SimanSign.Percentile([.. Values(n, 3 * n, ties).Order()], p);
        Assert.That(Selection.Percentile(Values(n, 3 * n, ties), p), Is.EqualTo(expected));
    }

    [Test]
    public void MarkLargest_EqualsStableDescendingSort([Values(1, 2, 7, 64, 101)] int n, [Values(false, true)] bool ties)
    {
        double[] keys = Values(n, 5 * n, ties);
        int count = n / 2;
        double[] expected = new double[n];
        Array.Fill(expected, -1.0);
        foreach (int i in Enumerable.Range(0, n).OrderByDescending(i => keys[i]).Take(count)) expected[i] = 1;
        double[] marks = new double[n], scratch = new double[n];
        Selection.MarkLargest(keys, count, marks, scratch);
        Assert.That(marks, Is.EqualTo(expected));
    }
}
