using System.Collections.Concurrent;
using BinaryGrad.Kernels;
using NUnit.Framework;

namespace BinaryGrad.Tests.Kernels;

[TestFixture, Category("Kernels")]
public class KernelThreadsTests
{
    private int _saved;
    private int? _savedLimit;

    [SetUp]
    public void Save()
    {
        (_saved, _savedLimit) = (KernelThreads.Count, KernelThreads.ThreadLimit);
        KernelThreads.ThreadLimit = null; // every test here runs the count's threads unless it sets a limit itself
    }

    [TearDown] public void Restore() => (KernelThreads.Count, KernelThreads.ThreadLimit) = (_saved, _savedLimit);

    /// <summary>The static partition written out: part p of P covers blocks ⌊B·p/P⌋ .. ⌊B·(p+1)/P⌋ of the grain.</summary>
    private static List<(int, int)> Expected(int length, int grain, int threads)
    {
        int blocks = (length + grain - 1) / grain, parts = Math.Min(threads, blocks);
        var ranges = new List<(int, int)>();
        for (int p = 0; p < parts; p++)
        {
            int start = (int)((long)blocks * p / parts) * grain, end = Math.Min(length, (int)((long)blocks * (p + 1) / parts) * grain);
            if (start < end) ranges.Add((start, end));
        }
        return ranges;
    }

    [TestCase(1, 1, 1), TestCase(10, 3, 2), TestCase(1000, 7, 2), TestCase(1000, 7, 3), TestCase(5, 1, 8), TestCase(64, 64, 4), TestCase(65, 64, 4)]
    public void Ranges_AreTheStaticPartition_EachOnce(int length, int grain, int threads)
    {
        KernelThreads.Count = threads;
        for (int repeat = 0; repeat < 50; repeat++) // back-to-back calls: spinning and woken workers alike
        {
            var seen = new ConcurrentBag<(int, int)>();
            KernelThreads.For(length, grain, (s, e) => seen.Add((s, e)));
            Assert.That(seen.OrderBy(r => r.Item1), Is.EqualTo(Expected(length, grain, threads)));
        }
    }

    /// <summary>Under a thread limit the partition is still <see cref="KernelThreads.Count"/>'s, each range once, but
    /// the ranges run on at most the limit's threads; at limit 1 all on the caller.</summary>
    [TestCase(1000, 7, 5, 2), TestCase(1000, 7, 5, 1), TestCase(10, 1, 8, 3), TestCase(65, 64, 4, 1), TestCase(100, 1, 2, 1), TestCase(100, 1, 2, 9)]
    public void ThreadLimit_KeepsThePartition_OnFewerThreads(int length, int grain, int threads, int limit)
    {
        KernelThreads.Count = threads;
        KernelThreads.ThreadLimit = limit;
        Assert.That(KernelThreads.RunningThreads, Is.EqualTo(Math.Min(threads, limit)));
        int caller = Environment.CurrentManagedThreadId;
        for (int repeat = 0; repeat < 50; repeat++)
        {
            var seen = new ConcurrentBag<(int Start, int End, int Thread)>();
            KernelThreads.For(length, grain, (s, e) => seen.Add((s, e, Environment.CurrentManagedThreadId)));
            Assert.That(seen.Select(r => (r.Start, r.End)).OrderBy(r => r.Start), Is.EqualTo(Expected(length, grain, threads)));
            Assert.That(seen.Select(r => r.Thread).Distinct().Count(), Is.LessThanOrEqualTo(Math.Min(threads, limit)));
            if (limit == 1) Assert.That(seen.Select(r => r.Thread), Is.All.EqualTo(caller));
            // the caller runs range 0 and every limit-th after it
            int stride = Math.Min(limit, seen.Count);
            var ordered = seen.OrderBy(r => r.Start).ToList();
            for (int p = 0; p < ordered.Count; p += stride) Assert.That(ordered[p].Thread, Is.EqualTo(caller), $"range {p}");
        }
    }

    [Test]
    public void ThreadLimit_BelowOne_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelThreads.ThreadLimit = 0);
        KernelThreads.ThreadLimit = null;
        KernelThreads.Count = 3;
        Assert.That(KernelThreads.RunningThreads, Is.EqualTo(3));
    }

    /// <summary>A struct body records its ranges through a shared bag (its fields are copied per range).</summary>
    private readonly struct RecordingBody(ConcurrentBag<(int, int)> seen, int nestedLength) : KernelThreads.IRangeBody
    {
        public void Run(int start, int end)
        {
            seen.Add((start, end));
            if (nestedLength > 0) // a nested call of the same body type from inside a range runs inline, each range once
            {
                var inner = new ConcurrentBag<(int, int)>();
                KernelThreads.For(nestedLength, 1, new RecordingBody(inner, 0));
                if (inner.Sum(r => r.Item2 - r.Item1) != nestedLength) throw new InvalidOperationException("nested ranges do not cover the length");
            }
        }
    }

    [TestCase(1000, 7, 2, 0), TestCase(65, 64, 4, 0), TestCase(10, 1, 2, 5), TestCase(5, 1, 8, 3)]
    public void StructBody_RunsTheStaticPartition_EachOnce(int length, int grain, int threads, int nested)
    {
        KernelThreads.Count = threads;
        for (int repeat = 0; repeat < 50; repeat++)
        {
            var seen = new ConcurrentBag<(int, int)>();
            KernelThreads.For(length, grain, new RecordingBody(seen, nested));
            Assert.That(seen.OrderBy(r => r.Item1), Is.EqualTo(Expected(length, grain, threads)));
        }
    }

    [Test]
    public void NestedAndConcurrentCalls_RunTheSamePartition()
    {
        KernelThreads.Count = 2;
        var inner = new ConcurrentBag<(int, int, int)>();
        KernelThreads.For(4, 1, (s, e) => KernelThreads.For(10, 3, (a, b) => inner.Add((s, a, b))));
        Assert.That(inner.Where(r => r.Item1 == 0).Select(r => (r.Item2, r.Item3)).OrderBy(r => r.Item1), Is.EqualTo(Expected(10, 3, 2)));
        Assert.That(inner.Where(r => r.Item1 == 2).Select(r => (r.Item2, r.Item3)).OrderBy(r => r.Item1), Is.EqualTo(Expected(10, 3, 2)));

        long[] sums = new long[4];
        Parallel.For(0, 4, t =>
        {
            for (int repeat = 0; repeat < 200; repeat++)
            {
                long[] parts = new long[2];
                KernelThreads.For(1000, 1, (s, e) => { for (int i = s; i < e; i++) Interlocked.Add(ref parts[s == 0 ? 0 : 1], i); });
                Interlocked.Add(ref sums[t], parts[0] + parts[1]);
            }
        });
        Assert.That(sums, Is.All.EqualTo(200L * 999 * 1000 / 2));
    }

    /// <summary>Two nested calls in the dispatching thread's own range: the first must not mark the workers idle while
    /// the outer call still runs on them, or the second would dispatch over it.</summary>
    [Test]
    public void TwoNestedCallsOnTheDispatchingThread_EachRunEveryRange()
    {
        KernelThreads.Count = 2;
        for (int repeat = 0; repeat < 100; repeat++)
        {
            long outer = 0, inner = 0;
            KernelThreads.For(2, 1, (s, e) =>
            {
                if (s == 1) Thread.SpinWait(2000); // keep the worker busy with its outer range
                for (int call = 0; call < 2; call++)
                    KernelThreads.For(100, 1, (a, b) => { for (int i = a; i < b; i++) Interlocked.Add(ref inner, i); });
                Interlocked.Add(ref outer, e - s);
            });
            Assert.That(outer, Is.EqualTo(2));
            Assert.That(inner, Is.EqualTo(2L * 2 * 99 * 100 / 2), $"repeat {repeat}");
        }
    }

    [Test]
    public void ExceptionInAWorkersRange_ReachesTheCaller_AndThePoolStillWorks()
    {
        KernelThreads.Count = 2;
        var thrown = Assert.Throws<AggregateException>(() => KernelThreads.For(10, 1, (s, e) =>
        {
            if (s > 0) throw new InvalidOperationException("range " + s);
        }));
        Assert.That(thrown!.InnerException, Is.TypeOf<InvalidOperationException>().With.Message.EqualTo("range 5"));
        int total = 0;
        KernelThreads.For(10, 1, (s, e) => Interlocked.Add(ref total, e - s));
        Assert.That(total, Is.EqualTo(10));
    }

    /// <summary>What a worker's range allocates is counted (a 4 000-element long array is at least 32 000 bytes), and
    /// only there: the caller's range allocates on the caller's thread.</summary>
    [Test]
    public void AllocatedBytesOnWorkers_CountsWhatTheWorkersRangesAllocate()
    {
        KernelThreads.Count = 2;
        long[]?[] kept = new long[]?[2];
        KernelThreads.For(2, 1, (s, e) => { }); // start the workers
        long before = KernelThreads.AllocatedBytesOnWorkers();
        KernelThreads.For(2, 1, (s, e) => kept[s] = s == 1 ? new long[4000] : null);
        long workers = KernelThreads.AllocatedBytesOnWorkers() - before;
        Assert.That(workers, Is.GreaterThanOrEqualTo(32_000).And.LessThan(40_000));
        Assert.That(kept[1], Has.Length.EqualTo(4000));
    }

    /// <summary>RangeIndex names each range of the written-out partition by its position, and refuses a start that
    /// begins no range.</summary>
    [TestCase(10, 3, 2), TestCase(1000, 7, 3), TestCase(5, 1, 8), TestCase(3, 1, 2), TestCase(1, 1, 1)]
    public void RangeIndex_IsThePositionInThePartition(int length, int grain, int threads)
    {
        KernelThreads.Count = threads;
        List<(int Start, int End)> ranges = Expected(length, grain, threads);
        for (int p = 0; p < ranges.Count; p++)
            Assert.That(KernelThreads.RangeIndex(length, grain, ranges[p].Start), Is.EqualTo(p), $"range {ranges[p]}");
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => KernelThreads.RangeIndex(length, grain, length + 1));
        Assert.That(error!.Message, Does.Contain($"starts at {length + 1}"));
    }
}
