namespace BinaryGrad.Autograd;

public sealed partial class Tensor
{
    /// <summary>A new contiguous tensor whose elements are zero (inside a <see cref="TensorPool"/> step scope its storage
    /// is rented from the pool and cleared).</summary>
    public static Tensor Empty(ReadOnlySpan<int> shape, DType dtype = DType.Float32)
    {
        int count = Shapes.ElementCount(shape);
        if (TensorPool.Rent(dtype, count, clear: true) is { } block)
            return new Tensor(block, shape.ToArray(), Shapes.ContiguousStrides(shape), 0, dtype);
        Array storage = dtype == DType.Float32 ? new float[count] : new double[count];
        return new Tensor(storage, shape.ToArray(), Shapes.ContiguousStrides(shape), 0, dtype);
    }

    /// <summary>A new contiguous tensor whose elements are NOT cleared (whatever the allocator hands out): for op
    /// outputs that the op overwrites completely, so large buffers skip the clearing pass. Reading an element before
    /// writing it gives an unspecified value.</summary>
    public static Tensor Uninitialized(ReadOnlySpan<int> shape, DType dtype = DType.Float32)
    {
        int count = Shapes.ElementCount(shape);
        if (TensorPool.Rent(dtype, count, clear: false) is { } block)
            return new Tensor(block, shape.ToArray(), Shapes.ContiguousStrides(shape), 0, dtype);
        Array storage = dtype == DType.Float32 ? GC.AllocateUninitializedArray<float>(count) : GC.AllocateUninitializedArray<double>(count);
        return new Tensor(storage, shape.ToArray(), Shapes.ContiguousStrides(shape), 0, dtype);
    }

    /// <summary>Zeros of the given shape.</summary>
    public static Tensor Zeros(ReadOnlySpan<int> shape, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        Tensor t = Empty(shape, dtype);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>Every element equal to <paramref name="value"/>.</summary>
    public static Tensor Full(ReadOnlySpan<int> shape, double value, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        Tensor t = Empty(shape, dtype);
        if (dtype == DType.Float32) t.AsSpan<float>().Fill((float)value); else t.AsSpan<double>().Fill(value);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>Ones of the given shape.</summary>
    public static Tensor Ones(ReadOnlySpan<int> shape, DType dtype = DType.Float32, bool requiresGrad = false) =>
        Full(shape, 1.0, dtype, requiresGrad);

    /// <summary>A rank-0 tensor holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, bool requiresGrad = false) =>
        Full([], value, dtype, requiresGrad);

    /// <summary>A zero tensor with this tensor's shape and type.</summary>
    public Tensor ZerosLike() => Empty(_shape, DType);

    /// <summary>0, 1, …, n−1.</summary>
    public static Tensor Arange(int n, DType dtype = DType.Float32)
    {
        Tensor t = Empty([n], dtype);
        for (int i = 0; i < n; i++) t[i] = i;
        return t;
    }

    /// <summary>Copies <paramref name="values"/> into a new tensor of <paramref name="shape"/>.</summary>
    public static Tensor FromValues(ReadOnlySpan<double> values, ReadOnlySpan<int> shape, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        Tensor t = Empty(shape, dtype);
        if (values.Length != t.Length)
            throw new ArgumentException($"FromValues: {values.Length} values cannot fill shape {Shapes.Format(shape)} ({t.Length} elements).");
        if (dtype == DType.Float64) values.CopyTo(t.AsSpan<double>());
        else
        {
            Span<float> f = t.AsSpan<float>();
            for (int i = 0; i < values.Length; i++) f[i] = (float)values[i];
        }
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>Independent draws from U[<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static Tensor Uniform(ReadOnlySpan<int> shape, Rng rng, double low = 0, double high = 1, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        Tensor t = Empty(shape, dtype);
        Fill(t, () => rng.Uniform(low, high));
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>Independent draws from N(<paramref name="mean"/>, <paramref name="std"/>²).</summary>
    public static Tensor Normal(ReadOnlySpan<int> shape, Rng rng, double mean = 0, double std = 1, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        Tensor t = Empty(shape, dtype);
        Fill(t, () => mean + std * rng.Normal());
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>Kaiming (He) uniform initialisation: U[−b, b] with b = gain·√(3 / fanIn), gain = √2 for ReLU
    /// (He et al. 2015), so activations keep unit variance through ReLU layers.</summary>
    public static Tensor KaimingUniform(ReadOnlySpan<int> shape, int fanIn, Rng rng, double gain = 1.4142135623730951, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        double bound = gain * Math.Sqrt(3.0 / fanIn);
        return Uniform(shape, rng, -bound, bound, dtype, requiresGrad);
    }

    /// <summary>Kaiming (He) normal initialisation: N(0, (gain / √fanIn)²).</summary>
    public static Tensor KaimingNormal(ReadOnlySpan<int> shape, int fanIn, Rng rng, double gain = 1.4142135623730951, DType dtype = DType.Float32, bool requiresGrad = false) =>
        Normal(shape, rng, 0, gain / Math.Sqrt(fanIn), dtype, requiresGrad);

    /// <summary>Xavier (Glorot) uniform initialisation: U[−b, b] with b = gain·√(6 / (fanIn + fanOut)).</summary>
    public static Tensor XavierUniform(ReadOnlySpan<int> shape, int fanIn, int fanOut, Rng rng, double gain = 1, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        double bound = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
        return Uniform(shape, rng, -bound, bound, dtype, requiresGrad);
    }

    private static void Fill(Tensor t, Func<double> next)
    {
        if (t.DType == DType.Float32)
        {
            Span<float> f = t.AsSpan<float>();
            for (int i = 0; i < f.Length; i++) f[i] = (float)next();
        }
        else
        {
            Span<double> d = t.AsSpan<double>();
            for (int i = 0; i < d.Length; i++) d[i] = next();
        }
    }
}
