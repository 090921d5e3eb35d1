namespace BinaryGrad.Autograd;

public sealed partial class Tensor
{
    /// <summary>True while this tensor is an intermediate gradient that the engine alone holds: its storage came from
    /// <see cref="GradientPool"/> and goes back there once the backward that consumed it has run (see
    /// <see cref="Engine"/>). Only built-in ops' backwards create such tensors (<see cref="RentGradient"/>), always
    /// fresh and returned once; the engine clears the flag before anything else can see the tensor (a leaf's
    /// <see cref="Grad"/>, a hook, a retained gradient), so a tensor a user can reach is never recycled.</summary>
    internal bool Pooled;

    /// <summary>A contiguous gradient buffer from <see cref="GradientPool"/>, cleared when <paramref name="clear"/> (for
    /// kernels that add into it), otherwise holding stale values that the caller overwrites completely.</summary>
    internal static Tensor RentGradient(ReadOnlySpan<int> shape, DType dtype, bool clear)
    {
        int count = Shapes.ElementCount(shape);
        if (TensorPool.Rent(dtype, count, clear) is { } block) // inside a step scope: the scope's pool instead
            return new Tensor(block, shape.ToArray(), Shapes.ContiguousStrides(shape), 0, dtype) { Pooled = true };
        Array storage = dtype == DType.Float32 ? GradientPool.Rent<float>(count, clear) : GradientPool.Rent<double>(count, clear);
        return new Tensor(storage, shape.ToArray(), Shapes.ContiguousStrides(shape), 0, dtype) { Pooled = true };
    }
}

/// <summary>Recycles the storage of intermediate gradients between backward passes: a training step's backward needs
/// the same buffer sizes every step, so after the first step they come from here instead of the allocator (large
/// arrays live on the LOH, where each allocation is cleared and the volume triggers full collections).</summary>
/// <remarks>Arrays are kept by exact length (a tensor's storage is exactly its element count), at most
/// <see cref="PerLength"/> per length and <see cref="MaxBytes"/> in all; beyond that they are left to the GC. Contents
/// are never relied on: a renter either clears or overwrites, so the pool cannot affect results.</remarks>
internal static class GradientPool
{
    private const int PerLength = 4;
    private const long MaxBytes = 512L << 20;
    private const int MinLength = 1024; // small arrays are cheap to allocate; pooling them only costs locking
    private static readonly Dictionary<(Type, int), Stack<Array>> s_free = [];
    private static long s_bytes;

    public static T[] Rent<T>(int length, bool clear) where T : unmanaged
    {
        if (length >= MinLength)
        {
            lock (s_free)
            {
                if (s_free.TryGetValue((typeof(T), length), out Stack<Array>? stack) && stack.Count > 0)
                {
                    var array = (T[])stack.Pop();
                    s_bytes -= (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
                    if (clear) array.AsSpan().Clear();
                    return array;
                }
            }
        }
        return clear ? new T[length] : GC.AllocateUninitializedArray<T>(length);
    }

    public static void Return(Array array)
    {
        int length = array.Length;
        if (length < MinLength) return;
        long bytes = (long)length * (array is float[] ? sizeof(float) : sizeof(double));
        lock (s_free)
        {
            var key = (array.GetType().GetElementType()!, length);
            if (!s_free.TryGetValue(key, out Stack<Array>? stack)) s_free[key] = stack = new Stack<Array>();
            if (stack.Count >= PerLength || s_bytes + bytes > MaxBytes) return;
            foreach (Array held in stack) if (ReferenceEquals(held, array)) return; // never hand one array to two renters
            stack.Push(array);
            s_bytes += bytes;
        }
    }
}
