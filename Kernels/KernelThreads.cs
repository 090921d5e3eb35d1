using System.Runtime.ExceptionServices;

namespace BinaryGrad.Kernels;

/// <summary>How many threads the kernels use, and the one way they split work across them.</summary>
/// <remarks>
/// <para>Work is cut into <see cref="Count"/> contiguous chunks up front (static partitioning), so a run with the same
/// thread count always splits — and so sums — the same way, which keeps results bit-for-bit reproducible.</para>
/// <para>The chunks run on the caller and on <c>Count − 1</c> long-lived worker threads of our own (fewer under
/// <see cref="ThreadLimit"/>, each then running several chunks, in the same partition), not on the shared
/// thread pool: a worker waits for the next call spinning for a short while (<see cref="SpinIterations"/>, tens of
/// microseconds) before it blocks, so back-to-back kernel calls — every layer of an inference forward, every op of
/// a training step — start in microseconds, where handing chunks to the thread pool cost up to a millisecond when
/// its threads had gone to sleep (a batch-1 forward of the MNIST MLP took 0.9 ms on two threads and 0.07 ms on one).
/// A call allocates nothing beyond the caller's delegate, and <see cref="For{TBody}"/> with a struct body nothing at all. A call made while another is running (from a chunk, or
/// from a second thread) runs its chunks one after another on its own thread: the same partition, so the same
/// results.</para>
/// </remarks>
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

    private static int? _threadLimit;

    /// <summary>At most this many threads run a call's ranges (null, the default: <see cref="Count"/>). Below
    /// <see cref="Count"/> the partition stays <see cref="Count"/>'s — and so do the results, bit for bit — and each
    /// thread runs several ranges one after another (range p on thread p mod the limit). This is how a run trained
    /// with two threads continues on one core with the same arithmetic (<c>train --threads 1 --work-split 2</c>), or
    /// shares the machine with a second run.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1.</exception>
    public static int? ThreadLimit
    {
        get => _threadLimit;
        set
        {
            if (value is { } limit) ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1, nameof(ThreadLimit));
            _threadLimit = value;
        }
    }

    /// <summary>Threads that run a call's ranges: <see cref="Count"/>, or <see cref="ThreadLimit"/> if lower.</summary>
    public static int RunningThreads => Math.Min(_count, _threadLimit ?? _count);

    /// <summary>Calls <paramref name="body"/>(start, end) on disjoint ranges covering [0, <paramref name="length"/>),
    /// one range per thread, each a multiple of <paramref name="grain"/> long except the last. Runs inline when
    /// one range suffices.</summary>
    /// <exception cref="AggregateException">A range threw; it wraps the first exception.</exception>
    public static void For(int length, int grain, Action<int, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        For(length, grain, new DelegateBody(body));
    }

    /// <summary>The index (0, 1, …) of the range that starts at <paramref name="start"/> in the partition
    /// <see cref="For(int, int, Action{int, int})"/> makes of <paramref name="length"/> with <paramref name="grain"/> at
    /// the current <see cref="Count"/>. The partition is static, so a body can keep state per range (buffers, copies
    /// of layers) that the same range finds again on the next call, whichever thread runs it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No range starts at <paramref name="start"/>.</exception>
    public static int RangeIndex(int length, int grain, int start)
    {
        grain = Math.Max(1, grain);
        int blocks = (int)(((long)length + grain - 1) / grain);
        var job = new Partition(length, grain, blocks, Math.Max(1, Math.Min(Count, blocks)));
        for (int part = 0; part < job.Parts; part++)
            if (job.Range(part).Start == start) return part;
        throw new ArgumentOutOfRangeException(nameof(start), start,
            $"No range of the partition of {length} (grain {grain}, {job.Parts} parts) starts at {start}.");
    }

    /// <summary>A range body as a value: <see cref="For{TBody}"/> then needs no closure or delegate per call, so a
    /// steady-state forward that runs its kernels through it allocates nothing.</summary>
    public interface IRangeBody
    {
        /// <summary>Runs the range [start, end).</summary>
        void Run(int start, int end);
    }

    /// <summary><see cref="For(int, int, Action{int, int})"/> with the body as a struct (captured state in its fields).
    /// The body is copied once per call; each range runs on a copy, so the body must not rely on state written by
    /// another range through its own fields (pointers and arrays it holds are shared, as a closure's would be).</summary>
    /// <exception cref="AggregateException">A range threw; it wraps the first exception.</exception>
    public static void For<TBody>(int length, int grain, TBody body) where TBody : struct, IRangeBody
    {
        if (length <= 0) return;
        grain = Math.Max(1, grain);
        int blocks = (length + grain - 1) / grain;
        int parts = Math.Min(Count, blocks);
        if (parts <= 1)
        {
            body.Run(0, length);
            return;
        }
        var job = new Partition(length, grain, blocks, parts);
        if (RunningThreads <= 1)
        {
            RunInline(job, body); // the same partition, on the caller alone (ThreadLimit 1)
            return;
        }
        if (!Monitor.TryEnter(Gate))
        {
            RunInline(job, body); // nested or concurrent call: the workers are busy
            return;
        }
        bool owner = false; // only the call that started the workers may mark them idle again
        try
        {
            if (s_running)
            {
                RunInline(job, body); // nested on the dispatching thread (Monitor is re-entrant)
                return;
            }
            s_running = owner = true;
            // One dispatch at a time holds the gate, so one static slot per body type carries the body to the workers
            // through a delegate created once per type.
            BodySlot<TBody>.Body = body;
            try
            {
                Dispatch(job, BodySlot<TBody>.Invoke);
            }
            finally
            {
                BodySlot<TBody>.Body = default; // drop the references the body holds
            }
        }
        finally
        {
            if (owner) s_running = false;
            Monitor.Exit(Gate);
        }
    }

    private static class BodySlot<TBody> where TBody : struct, IRangeBody
    {
        public static TBody Body;
        public static readonly Action<int, int> Invoke = static (start, end) =>
        {
            TBody copy = Body;
            copy.Run(start, end);
        };
    }

    private readonly struct DelegateBody(Action<int, int> body) : IRangeBody
    {
        public void Run(int start, int end) => body(start, end);
    }

    /// <summary>The static partition: part p covers blocks [blocks·p/parts, blocks·(p+1)/parts).</summary>
    private readonly record struct Partition(int Length, int Grain, int Blocks, int Parts)
    {
        public (int Start, int End) Range(int part)
        {
            int startBlock = (int)((long)Blocks * part / Parts), endBlock = (int)((long)Blocks * (part + 1) / Parts);
            return (startBlock * Grain, Math.Min(Length, endBlock * Grain));
        }
    }

    private static void RunInline<TBody>(Partition job, TBody body) where TBody : struct, IRangeBody
    {
        for (int part = 0; part < job.Parts; part++)
        {
            (int start, int end) = job.Range(part);
            if (start < end) body.Run(start, end);
        }
    }

    // ---- the workers -------------------------------------------------------------------------------------------

    /// <summary>Spin iterations (<see cref="Thread.SpinWait"/> of 20) a worker waits for the next call before it blocks:
    /// tens of microseconds on current x64 cores.</summary>
    private const int SpinIterations = 200;

    private static readonly object Gate = new();
    private static bool s_running;
    private static Worker[] s_workers = [];

    // The current call, published to the workers by bumping each worker's generation.
    private static Partition s_job;
    private static int s_stride; // threads running the current call: thread t runs parts t, t + stride, …
    private static Action<int, int>? s_body;
    private static int s_pending;
    private static Exception? s_failure;

    private static void Dispatch(Partition job, Action<int, int> body)
    {
        int threads = Math.Min(job.Parts, RunningThreads);
        EnsureWorkers(threads - 1);
        s_job = job;
        s_stride = threads;
        s_body = body;
        s_failure = null;
        Volatile.Write(ref s_pending, threads - 1);
        for (int w = 0; w < threads - 1; w++) s_workers[w].Start(part: w + 1);
        Exception? own = null;
        try
        {
            for (int part = 0; part < job.Parts; part += threads)
            {
                (int start, int end) = job.Range(part);
                if (start < end) body(start, end);
            }
        }
        catch (Exception e)
        {
            own = e;
        }
        var spin = new SpinWait();
        while (Volatile.Read(ref s_pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
        s_body = null;
        Exception? failure = own ?? s_failure;
        if (failure is not null) throw new AggregateException(failure);
    }

    private static void EnsureWorkers(int needed)
    {
        if (s_workers.Length >= needed) return;
        var workers = new Worker[needed];
        s_workers.CopyTo(workers, 0);
        for (int w = s_workers.Length; w < needed; w++) workers[w] = new Worker(w);
        s_workers = workers;
    }

    private static void RunPart(int part, Worker worker)
    {
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            for (; part < s_job.Parts; part += s_stride)
            {
                (int start, int end) = s_job.Range(part);
                if (start < end) s_body!(start, end);
            }
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref s_failure, e, null);
        }
        finally
        {
            // Recorded before the part is reported done, so the dispatcher sees it once the call returns.
            Volatile.Write(ref worker.AllocatedBytes, worker.AllocatedBytes + GC.GetAllocatedBytesForCurrentThread() - allocatedBefore);
            Interlocked.Decrement(ref s_pending);
        }
    }

    /// <summary>Bytes allocated so far on the worker threads inside the parts they ran (the growth of each worker's
    /// <see cref="GC.GetAllocatedBytesForCurrentThread"/> over each part, summed). With the caller's own count this
    /// measures what a kernel call allocates on our threads alone: the process-wide count also sees the runtime's and
    /// a test host's threads, which allocate at any time, and a worker's wait between calls is the runtime's.</summary>
    internal static long AllocatedBytesOnWorkers()
    {
        long total = 0;
        foreach (Worker worker in s_workers) total += Volatile.Read(ref worker.AllocatedBytes);
        return total;
    }

    /// <summary>One background thread running the part it is given (and every <c>s_stride</c>-th after it), then waiting (spin, then block) for the next.</summary>
    /// <remarks>The hand-off is a Dekker pair: the caller publishes the part, then reads <c>_blocked</c>; the worker
    /// publishes <c>_blocked</c>, then re-reads the part (both through full fences), so at least one of them sees the
    /// other and a wake-up cannot be lost. A surplus wake-up only makes the worker spin once more.</remarks>
    private sealed class Worker
    {
        private readonly SemaphoreSlim _wake = new(0);
        private int _part;    // 0: idle; otherwise the part to run
        private int _blocked; // 1 while the worker waits on _wake
        public long AllocatedBytes; // see AllocatedBytesOnWorkers

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"BinaryGrad kernel worker {index + 1}" };
            thread.Start();
        }

        public void Start(int part)
        {
            Interlocked.Exchange(ref _part, part);
            if (Volatile.Read(ref _blocked) == 1) _wake.Release();
        }

        private void Loop()
        {
            while (true)
            {
                int part = 0;
                for (int i = 0; i < SpinIterations && (part = Volatile.Read(ref _part)) == 0; i++) Thread.SpinWait(20);
                if (part == 0)
                {
                    Interlocked.Exchange(ref _blocked, 1);
                    if (Volatile.Read(ref _part) == 0) _wake.Wait();
                    Volatile.Write(ref _blocked, 0);
                    continue;
                }
                Volatile.Write(ref _part, 0);
                RunPart(part, this);
            }
        }
    }
}
