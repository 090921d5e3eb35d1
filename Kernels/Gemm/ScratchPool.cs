namespace BinaryGrad.Kernels;

/// <summary>Scratch arrays (GEMM packing panels, im2col columns, packed patches and count tiles of the bit kernels,
/// per-channel sums of the ops): a call rents one for its duration and gives it back, so after the first calls no
/// scratch is allocated. The GEMM keeps pools shared by every thread; everything else uses the calling thread's
/// (<see cref="ThisThread"/>).</summary>
/// <remarks>Per-thread caches (<see cref="ThreadStaticAttribute"/>) were not enough: kernel work runs on thread-pool
/// threads, which the pool retires and replaces over time, and each new thread allocated its own buffers again (a few
/// hundred KB per CNN training step). Here the number of arrays is the peak number of concurrent renters. An array
/// that turns out too small is replaced by one of the requested size, so the arrays grow to the largest request and
/// stay there. Renting takes a lock for a push/pop: negligible beside the GEMM it serves.
/// <para>Not <see cref="System.Buffers.ArrayPool{T}.Shared"/> either (the bit kernels and the ops used it before): that
/// pool trims itself after full garbage collections, dropping arrays it judges idle or, when memory is short, all of
/// them, and the next forward rents them anew. This pool never trims, which is part of what lets
/// <c>InferenceModel.Predict</c> promise that a warm forward allocates nothing.</para></remarks>
/// <typeparam name="T">Element type.</typeparam>
public sealed class ScratchPool<T>(bool pinned) where T : unmanaged
{
    [ThreadStatic] private static ScratchPool<T>? t_shared;

    /// <summary>The calling thread's pool of unpinned arrays, which every kernel, op and layer uses for scratch it
    /// rents and returns within one call on one thread.</summary>
    /// <remarks>One per thread, not one for all: a thread makes the same requests in the same order on every call (the
    /// partition of work over threads is static), so after one call its pool holds exactly what that thread needs, and
    /// which arrays are out at once never depends on how the threads happened to interleave. The kernel workers are
    /// long-lived threads of our own (<see cref="KernelThreads"/>), so their pools live as long as the process.</remarks>
    public static ScratchPool<T> ThisThread => t_shared ??= new ScratchPool<T>(pinned: false);

    private const int MaxKept = 64;
    private readonly List<T[]> _free = [];

    /// <summary>An array of at least <paramref name="length"/> elements, contents undefined: the smallest free one that
    /// is long enough, else a new one. (Taking just the last one returned dropped it whenever it was too short, so a
    /// kernel renting buffers of different sizes — the stacked convolution backward rents three per thread — allocated
    /// fresh arrays on every call.)</summary>
    public T[] Rent(int length)
    {
        lock (_free)
        {
            int best = -1;
            for (int i = 0; i < _free.Count; i++)
                if (_free[i].Length >= length && (best < 0 || _free[i].Length < _free[best].Length)) best = i;
            if (best >= 0)
            {
                T[] array = _free[best];
                _free[best] = _free[^1];
                _free.RemoveAt(_free.Count - 1);
                return array;
            }
        }
        return GC.AllocateUninitializedArray<T>(length, pinned);
    }

    /// <summary>Gives back an array from <see cref="Rent"/>; the caller must not use it afterwards. When the pool is
    /// full, the shortest array kept is dropped if it is shorter than this one.</summary>
    public void Return(T[] array)
    {
        lock (_free)
        {
            if (_free.Count < MaxKept)
            {
                _free.Add(array);
                return;
            }
            int shortest = 0;
            for (int i = 1; i < _free.Count; i++)
                if (_free[i].Length < _free[shortest].Length) shortest = i;
            if (_free[shortest].Length < array.Length) _free[shortest] = array;
        }
    }
}
