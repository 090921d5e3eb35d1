using System.Runtime.CompilerServices;

namespace BinaryGrad.Autograd;

/// <summary>Reuses tensor storage from one training step to the next. Inside a scope opened by
/// <see cref="BeginStep"/>, every tensor storage the library allocates (op outputs, saved intermediates, gradients,
/// <see cref="Tensor.Empty"/>, <see cref="Tensor.Zeros"/>, …) is rented from a pool of arrays bucketed by element type
/// and exact length, and goes back to the pool when the scope ends. A training step needs the same sizes every step,
/// so after the first step it allocates no storage at all.</summary>
/// <remarks>
/// <para>What outlives the scope (storage that escapes): a <see cref="Parameter"/>'s values and a module's buffers (made
/// permanent when registered), optimizer state (made permanent when created), a leaf's <see cref="Tensor.Grad"/> (kept
/// until <see cref="Tensor.ZeroGrad"/> or <see cref="Parameter.ZeroGrad"/> recycles it), and any tensor the caller marks
/// with <see cref="Tensor.Keep"/>. Everything else computed in the scope (activations, the loss, logits, views of them)
/// is dead once the scope ends: read what you need (e.g. <c>loss.Item()</c>) inside it.</para>
/// <para>Safety: each pooled array carries a generation number that is bumped whenever it goes back to the pool; a
/// tensor remembers the generation it was made at, and every element access (<see cref="Tensor.AsSpan{T}"/>, indexer,
/// <see cref="Tensor.Item"/>, copies) compares them, so using a tensor after its scope ended throws an
/// <see cref="ObjectDisposedException"/> that says so, instead of reading another step's values.</para>
/// <para>Without a scope nothing changes: tensors are ordinary garbage-collected arrays. Scopes are per thread and nest
/// (an inner scope returns only what it rented). Contents of rented arrays are never relied on: a renter either clears
/// them (<see cref="Tensor.Empty"/> still returns zeros) or overwrites every element, so pooling cannot change results.</para>
/// </remarks>
/// <example><code>
/// foreach (Batch batch in loader.Epoch())
/// {
///     using var step = TensorPool.BeginStep();
///     Tensor loss = Ops.CrossEntropy(model.Forward(x), labels);
///     double value = loss.Item();          // read inside the scope
///     optimizer.ZeroGrad();
///     loss.Backward();
///     optimizer.Step();
/// }                                        // activations and gradients go back to the pool here
/// </code></example>
public static class TensorPool
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<long, Stack<PoolBlock>> s_free = [];
    private static long s_freeBytes, s_maxFreeBytes = DefaultMaxFreeBytes(), s_rents, s_reuses;

    [ThreadStatic] private static List<StepFrame>? t_frames;
    [ThreadStatic] private static int t_depth;

    /// <summary>Opens a step scope on this thread: until it is disposed, tensor storage is rented from the pool and
    /// returned when it ends (see the class remarks for what escapes). Scopes nest; dispose them innermost first.</summary>
    public static StepScope BeginStep()
    {
        List<StepFrame> frames = t_frames ??= [];
        if (t_depth == frames.Count) frames.Add(new StepFrame(t_depth));
        StepFrame frame = frames[t_depth++];
        frame.Serial++;
        frame.Open = true;
        return new StepScope(frame, frame.Serial);
    }

    private static long DefaultMaxFreeBytes() => Math.Clamp(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4, 1L << 30, 8L << 30);

    /// <summary>True while a <see cref="BeginStep"/> scope is open on this thread.</summary>
    public static bool IsActive => t_depth > 0;

    /// <summary>Bytes held in the pool, free for the next renter.</summary>
    public static long FreeBytes
    {
        get { lock (s_lock) return s_freeBytes; }
    }

    /// <summary>The most bytes the pool keeps free (default: a quarter of the memory available to the process, between
    /// 1 and 8 GiB); storage returned beyond it is left to the garbage collector. A training step's working set must
    /// fit for the step to run allocation-free: a binary VGG-Small step at batch 128 holds about 3 GiB of activations
    /// and gradients, and with a 1 GiB cap it allocated 384 MB of fresh (page-faulting) arrays every step.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative value.</exception>
    public static long MaxFreeBytes
    {
        get { lock (s_lock) return s_maxFreeBytes; }
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            lock (s_lock) s_maxFreeBytes = value;
        }
    }

    /// <summary>Storage requests served inside scopes since the process started, and how many of them reused a pooled
    /// array (the rest allocated a new one).</summary>
    public static (long Rents, long Reuses) Counters
    {
        get { lock (s_lock) return (s_rents, s_reuses); }
    }

    /// <summary>Drops every free array (they are left to the garbage collector); rented storage is unaffected.</summary>
    public static void Clear()
    {
        lock (s_lock)
        {
            s_free.Clear();
            s_freeBytes = 0;
        }
    }

    /// <summary>An array of <paramref name="length"/> elements of <paramref name="dtype"/> from the pool, owned by the
    /// innermost open scope; null when no scope is open (the caller then allocates as usual). Cleared when
    /// <paramref name="clear"/>, else holding stale values the caller overwrites.</summary>
    internal static PoolBlock? Rent(DType dtype, int length, bool clear)
    {
        if (t_depth == 0 || length == 0) return null;
        StepFrame frame = t_frames![t_depth - 1];
        PoolBlock? block = null;
        long key = Key(dtype, length);
        lock (s_lock)
        {
            s_rents++;
            if (s_free.TryGetValue(key, out Stack<PoolBlock>? stack) && stack.TryPop(out block))
            {
                s_freeBytes -= Bytes(block);
                s_reuses++;
            }
        }
        if (block is null)
        {
            Array array = dtype == DType.Float32
                ? clear ? new float[length] : GC.AllocateUninitializedArray<float>(length)
                : clear ? new double[length] : GC.AllocateUninitializedArray<double>(length);
            block = new PoolBlock(array);
        }
        else if (clear) Array.Clear(block.Array);
        block.State = PoolBlockState.Scoped;
        block.Owner = frame;
        frame.Rented.Add(block);
        return block;
    }

    /// <summary>Returns the storage of <paramref name="tensor"/> before its scope ends (the engine, for an intermediate gradient it alone
    /// held): tensors on it become stale at once, and later rentals in the same step may reuse it.</summary>
    internal static void ReturnEarly(Tensor tensor)
    {
        if (tensor.Block is { State: PoolBlockState.Scoped } block && tensor.IsLive) Return(block);
    }

    /// <summary>Makes a scope-owned block permanent (<see cref="Tensor.Keep"/>): it never goes back to the pool.</summary>
    internal static void Keep(PoolBlock block)
    {
        lock (s_lock)
        {
            if (block.State is PoolBlockState.Scoped or PoolBlockState.LeafGradient)
            {
                block.State = PoolBlockState.Kept;
                block.Owner = null;
                block.LeafOwner = null;
            }
        }
    }

    /// <summary>Lets <paramref name="gradient"/>, just made <paramref name="leaf"/>'s <see cref="Tensor.Grad"/>, outlive
    /// its scope: it goes back to the pool when the leaf forgets it (<see cref="Tensor.ZeroGrad"/>).</summary>
    internal static void AdoptAsLeafGradient(Tensor leaf, Tensor gradient)
    {
        if (gradient.Block is not { } block) return;
        lock (s_lock)
        {
            if (block.State != PoolBlockState.Scoped) return;
            block.State = PoolBlockState.LeafGradient;
            block.Owner = null;
            block.LeafOwner = leaf;
        }
    }

    /// <summary>Recycles <paramref name="gradient"/> if it is <paramref name="leaf"/>'s pooled gradient (called when the
    /// leaf forgets it); tensors on it become stale.</summary>
    internal static void ReleaseLeafGradient(Tensor leaf, Tensor? gradient)
    {
        if (gradient?.Block is not { } block || !gradient.IsLive) return;
        if (block.State == PoolBlockState.LeafGradient && ReferenceEquals(block.LeafOwner, leaf)) Return(block);
    }

    private static void Return(PoolBlock block)
    {
        long bytes = Bytes(block);
        lock (s_lock)
        {
            if (block.State is PoolBlockState.Free or PoolBlockState.Kept) return;
            block.Generation++; // every tensor made on it so far is now stale
            block.State = PoolBlockState.Free;
            block.Owner = null;
            block.LeafOwner = null;
            if (s_freeBytes + bytes > s_maxFreeBytes) return; // over the cap: the GC takes it
            long key = Key(block.Array is float[] ? DType.Float32 : DType.Float64, block.Array.Length);
            if (!s_free.TryGetValue(key, out Stack<PoolBlock>? stack)) s_free[key] = stack = new Stack<PoolBlock>();
            stack.Push(block);
            s_freeBytes += bytes;
        }
    }

    private static void End(StepFrame frame, int serial)
    {
        if (!frame.Open || frame.Serial != serial) return; // this scope was already disposed
        if (t_frames is null || t_depth == 0 || !ReferenceEquals(t_frames[t_depth - 1], frame))
            throw new InvalidOperationException(
                frame.Depth < t_depth
                    ? $"TensorPool: a step scope was disposed while {t_depth - 1 - frame.Depth} scope(s) opened inside it are still open; dispose scopes innermost first (a 'using' block does)."
                    : "TensorPool: a step scope was disposed on a thread other than the one that opened it.");
        List<PoolBlock> rented = frame.Rented;
        foreach (PoolBlock block in rented)
            if (block.State == PoolBlockState.Scoped && ReferenceEquals(block.Owner, frame)) Return(block);
        rented.Clear();
        frame.Open = false;
        t_depth--;
    }

    private static long Key(DType dtype, int length) => ((long)length << 1) | (dtype == DType.Float64 ? 1L : 0L);

    private static long Bytes(PoolBlock block) => (long)block.Array.Length * (block.Array is float[] ? sizeof(float) : sizeof(double));

    /// <summary>An open <see cref="BeginStep"/> scope; disposing it returns the storage rented in it to the pool.</summary>
    public readonly struct StepScope : IDisposable
    {
        private readonly StepFrame? _frame;
        private readonly int _serial;

        internal StepScope(StepFrame frame, int serial) => (_frame, _serial) = (frame, serial);

        /// <summary>Returns every array rented in this scope (except storage that escaped) to the pool; tensors on
        /// them become stale. Disposing twice does nothing.</summary>
        /// <exception cref="InvalidOperationException">A scope opened inside this one is still open, or the call comes
        /// from another thread.</exception>
        public void Dispose()
        {
            if (_frame is not null) End(_frame, _serial);
        }
    }

    /// <summary>One nesting level of scopes on a thread (reused by later scopes at the same depth, so opening a scope
    /// allocates nothing in the steady state).</summary>
    internal sealed class StepFrame(int depth)
    {
        public readonly int Depth = depth;
        public readonly List<PoolBlock> Rented = [];
        public int Serial;
        public bool Open;
    }
}

/// <summary>Where a pooled array is in its life.</summary>
internal enum PoolBlockState : byte
{
    /// <summary>In the pool (or dropped), no live tensor uses it.</summary>
    Free,
    /// <summary>Rented by an open scope; returned when it ends.</summary>
    Scoped,
    /// <summary>Escaped for good (<see cref="Tensor.Keep"/>); the garbage collector owns it.</summary>
    Kept,
    /// <summary>A leaf's gradient; returned when the leaf forgets it.</summary>
    LeafGradient,
}

/// <summary>One pooled storage array with its lease: the generation (bumped on every return, so tensors made before
/// are recognisably stale) and who holds it.</summary>
internal sealed class PoolBlock(Array array)
{
    public readonly Array Array = array;
    public int Generation;
    public PoolBlockState State;
    public TensorPool.StepFrame? Owner;
    public Tensor? LeafOwner;
}

public sealed partial class Tensor
{
    private readonly PoolBlock? _block;
    private readonly int _generation;

    /// <summary>The pooled array this tensor's storage is, or null for ordinary storage.</summary>
    internal PoolBlock? Block => _block;

    /// <summary>False once the pooled storage went back to the pool (always true for ordinary storage).</summary>
    internal bool IsLive => _block is null || _block.Generation == _generation;

    internal Tensor(PoolBlock block, int[] shape, int[] strides, int offset, DType dtype)
        : this(block.Array, shape, strides, offset, dtype)
    {
        _block = block;
        _generation = block.Generation;
    }

    /// <summary>A tensor on this tensor's storage (and pool lease) with another shape, strides and offset.</summary>
    private Tensor SameStorage(int[] shape, int[] strides, int offset) =>
        _block is null ? new Tensor(_storage, shape, strides, offset, DType) : new Tensor(_block, shape, strides, offset, DType);

    /// <summary>Makes this tensor's storage outlive the <see cref="TensorPool"/> step scope it was made in (it is never
    /// returned to the pool; the garbage collector frees it once unreachable). Views share the storage, so keeping one
    /// keeps all. No effect on ordinary tensors. Returns this tensor.</summary>
    /// <exception cref="ObjectDisposedException">The storage was already returned to the pool.</exception>
    public Tensor Keep()
    {
        ThrowIfReturned();
        if (_block is not null) TensorPool.Keep(_block);
        return this;
    }

    /// <summary>Throws if this tensor's pooled storage went back to the pool: one field compare, done on every element
    /// access path (spans, indexer, Item, copies), so a stale tensor is never read or written.</summary>
    /// <exception cref="ObjectDisposedException">Names the tensor and says why.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void ThrowIfReturned()
    {
        if (_block is not null && _block.Generation != _generation) ThrowReturned();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowReturned() =>
        throw new ObjectDisposedException($"Tensor {Name ?? GradFn?.Name ?? "(unnamed)"} {Shapes.Format(_shape)} {DType.Name()}",
            "Its storage went back to the TensorPool: the TensorPool.BeginStep() scope it was created in has ended (or, for a " +
            "leaf's gradient, ZeroGrad() recycled it). Read results inside the scope, or call Keep() on tensors that must outlive it.");
}
