using System.Numerics;
using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>The values of a scheme's <see cref="Quantizer.Parameters"/> for one call (in <see cref="Quantizer.Parameters"/>
/// order, as spans of the call's element type) and the place their gradients go.</summary>
/// <remarks>Two ways to return a gradient, as the schemes need them: small parameters (one value per channel) add into
/// the float64 accumulator <see cref="Gradient"/> — sums over many elements stay in float64 and are rounded once to
/// the parameter's dtype; parameters as large as the input (VISPA's factor Z) write every element of
/// <see cref="GradientStorage"/> in T, with no float64 copy. A parameter whose gradient the scheme never touches gets
/// zeros.</remarks>
public readonly struct QuantizerParameters<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly QuantizerParameterSet? _set;

    internal QuantizerParameters(QuantizerParameterSet? set) => _set = set;

    /// <summary>Number of parameters.</summary>
    public int Count => _set?.Count ?? 0;

    /// <summary>The values of parameter <paramref name="index"/> (row-major).</summary>
    public ReadOnlySpan<T> this[int index] => Set.Value(index).AsSpan<T>();

    /// <summary>The shape of parameter <paramref name="index"/>.</summary>
    public ReadOnlySpan<int> Shape(int index) => Set.Value(index).Shape;

    /// <summary>Backward only: the zeroed float64 accumulator of dL/d(parameter <paramref name="index"/>).</summary>
    public Span<double> Gradient(int index) => Set.Accumulator(index);

    /// <summary>Backward only: the gradient of parameter <paramref name="index"/> in T (zeroed); a scheme that uses it
    /// for a parameter must not also use <see cref="Gradient"/> for it.</summary>
    public Span<T> GradientStorage(int index) => Set.Storage(index).AsSpan<T>();

    private QuantizerParameterSet Set => _set ?? throw new ArgumentOutOfRangeException(nameof(Count), "This scheme has no parameters.");
}

/// <summary>The parameter tensors of one <see cref="Quantizer"/> call converted to the call's element type, and their
/// gradients.</summary>
internal sealed class QuantizerParameterSet(Tensor[] values, DType type)
{
    private readonly double[]?[] _accumulators = new double[values.Length][];
    private readonly Tensor?[] _storage = new Tensor?[values.Length];

    public int Count => values.Length;

    public Tensor Value(int index) => values[index];

    public Span<double> Accumulator(int index) => _accumulators[index] ??= new double[values[index].Length];

    public Tensor Storage(int index) => _storage[index] ??= Tensor.Empty(values[index].Shape, type);

    /// <summary>dL/d(parameter <paramref name="index"/>) in <paramref name="dtype"/>, the parameter's own.</summary>
    public Tensor GradientTensor(int index, DType dtype) =>
        _storage[index] is { } written ? written.To(dtype)
            : Tensor.FromValues(_accumulators[index] ?? new double[values[index].Length], values[index].Shape, dtype);
}

/// <summary>The two conversions of the "float64 compute, rounded once" rule in generic scheme code.</summary>
internal static class Num
{
    /// <summary>The element widened to float64 (exact for float and double).</summary>
    public static double D<T>(T value) where T : INumberBase<T> => double.CreateTruncating(value);

    /// <summary>A float64 result rounded once to T (round to nearest; the identity for double).</summary>
    public static T R<T>(double value) where T : INumberBase<T> => T.CreateTruncating(value);

    /// <summary>The elements widened to a new float64 array (for code that must hold them beyond a span's scope).</summary>
    public static double[] ToDoubles<T>(ReadOnlySpan<T> values) where T : INumberBase<T>
    {
        double[] result = new double[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = D(values[i]);
        return result;
    }
}
