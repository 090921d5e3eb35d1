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
    private readonly Stack<T[]> _free = new();

    /// <summary>An array of at least <paramref name="length"/> elements, contents undefined.</summary>
    public T[] Rent(int length)
    {
        T[]? array;
        lock (_free) _free.TryPop(out array);
        if (array is not null && array.Length >= length) return array;
        return GC.AllocateUninitializedArray<T>(length, pinned);
    }

    /// <summary>Gives back an array from <see cref="Rent"/>; the caller must not use it afterwards.</summary>
    public void Return(T[] array)
    {
        lock (_free)
            if (_free.Count < MaxKept) _free.Push(array);
    }
}
