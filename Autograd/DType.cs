namespace BinaryGrad.Autograd;

/// <summary>Element type of a tensor. Every op works on both; float64 exists so that gradients can be
/// checked against finite differences to ~1e-8 instead of ~1e-3.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float: training and inference.</summary>
    Float32,
    /// <summary>64-bit IEEE float: gradient checking and reference math.</summary>
    Float64,
}

/// <summary>Helpers for <see cref="DType"/>.</summary>
public static class DTypes
{
    /// <summary>The lower-case name used in messages and files: <c>float32</c> or <c>float64</c>.</summary>
    public static string Name(this DType dtype) => dtype == DType.Float32 ? "float32" : "float64";

    /// <summary>Bytes per element.</summary>
    public static int Size(this DType dtype) => dtype == DType.Float32 ? 4 : 8;

    /// <summary>The <see cref="DType"/> of a CLR element type.</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public static DType Of<T>() =>
        typeof(T) == typeof(float) ? DType.Float32 :
        typeof(T) == typeof(double) ? DType.Float64 :
        throw new NotSupportedException($"Tensors hold float or double, not {typeof(T).Name}.");
}
