namespace BinaryGrad.Kernels;

/// <summary>Scratch arrays (GEMM packing panels, im2col columns) shared by every thread: a kernel call rents one for its
/// duration and gives it back, so after the first calls no scratch is allocated, whichever threads the work lands on.</summary>
/// <remarks>Per-thread caches (<see cref="ThreadStaticAttribute"/>) were not enough: kernel work runs on thread-pool
/// threads, which the pool retires and replaces over time, and each new thread allocated its own buffers again (a few
/// hundred KB per CNN training step). Here the number of arrays is the peak number of concurrent renters. An array
/// that turns out too small is replaced by one of the requested size, so the arrays grow to the largest request and
/// stay there. Renting takes a lock for a push/pop: negligible beside the GEMM it serves.</remarks>
/// <typeparam name="T">Element type.</typeparam>
internal sealed class ScratchPool<T>(bool pinned) where T : unmanaged
{
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
