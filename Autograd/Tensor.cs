using System.Numerics;
using System.Runtime.CompilerServices;

namespace BinaryGrad.Autograd;

/// <summary>An n-dimensional array of float32 or float64 that can record the operations applied to it, so
/// that <see cref="Backward(Tensor?, bool)"/> computes exact gradients by reverse-mode differentiation.</summary>
/// <remarks>
/// Storage is one flat row-major array; a tensor is a view of it described by a shape, strides (in elements)
/// and an offset. <see cref="Reshape"/>, <see cref="Permute"/>, <see cref="Transpose"/>, <see cref="Slice"/>
/// and broadcasting (<see cref="Expand"/>) return views that share storage without copying. Element access
/// through spans (<see cref="AsSpan{T}"/>) needs a contiguous tensor; <see cref="Contiguous"/> copies a view
/// into fresh row-major storage when it is not one already.
/// </remarks>
public sealed partial class Tensor
{
    private readonly Array _storage;
    private readonly int[] _shape;
    private readonly int[] _strides;
    private readonly int _offset;

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Dimensions, outermost first. A scalar has rank 0 and one element.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Distance in elements between neighbours along each axis (0 along a broadcast axis).</summary>
    public ReadOnlySpan<int> Strides => _strides;

    /// <summary>Number of axes.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>An optional name shown in graphs and messages (e.g. a parameter's <c>features.0.weight</c>).</summary>
    public string? Name { get; set; }

    internal int[] ShapeArray => _shape;
    internal Array Storage => _storage;
    internal int Offset => _offset;

    internal Tensor(Array storage, int[] shape, int[] strides, int offset, DType dtype)
    {
        _storage = storage;
        _shape = shape;
        _strides = strides;
        _offset = offset;
        DType = dtype;
        Length = Shapes.ElementCount(shape);
    }

    /// <summary>Wraps <paramref name="data"/> (not copied) as a contiguous float32 tensor of <paramref name="shape"/>.</summary>
    /// <exception cref="ArgumentException">The data length differs from the shape's element count.</exception>
    public Tensor(float[] data, ReadOnlySpan<int> shape, bool requiresGrad = false)
        : this(CheckLength(data, shape), shape.ToArray(), Shapes.ContiguousStrides(shape), 0, DType.Float32) => RequiresGrad = requiresGrad;

    /// <summary>Wraps <paramref name="data"/> (not copied) as a contiguous float64 tensor of <paramref name="shape"/>.</summary>
    /// <exception cref="ArgumentException">The data length differs from the shape's element count.</exception>
    public Tensor(double[] data, ReadOnlySpan<int> shape, bool requiresGrad = false)
        : this(CheckLength(data, shape), shape.ToArray(), Shapes.ContiguousStrides(shape), 0, DType.Float64) => RequiresGrad = requiresGrad;

    private static Array CheckLength(Array data, ReadOnlySpan<int> shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        int count = Shapes.ElementCount(shape);
        if (data.Length != count)
            throw new ArgumentException($"Tensor: {data.Length} values cannot fill shape {Shapes.Format(shape)} ({count} elements).", nameof(data));
        return data;
    }

    /// <summary>The dimension of <paramref name="axis"/> (negative counts from the end).</summary>
    public int Dim(int axis) => _shape[Shapes.NormalizeAxis(axis, Rank, "Dim")];

    /// <summary>True when the elements lie in row-major order from <see cref="Offset"/> with no gaps.</summary>
    public bool IsContiguous
    {
        get
        {
            int expected = 1;
            for (int i = _shape.Length - 1; i >= 0; i--)
            {
                if (_shape[i] != 1 && _strides[i] != expected) return false;
                expected *= _shape[i];
            }
            return true;
        }
    }

    /// <summary>The elements of a contiguous tensor, in row-major order, sharing its storage.</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> does not match <see cref="DType"/>,
    /// or the tensor is a non-contiguous view.</exception>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        // the caller may write the elements: signs packed from the old values no longer hold. Stored only when set:
        // kernel threads call AsSpan on the same tensor plane by plane, and an unconditional store (even of null) takes
        // the object's cache line from the other core every call — 5 % of a SiMaN ResNet-20 step went to that.
        if (SignPlanes is not null) SignPlanes = null;
        return Elements<T>();
    }

    /// <summary><see cref="AsSpan{T}"/> for reading: the same checks, and <see cref="SignPlanes"/> kept.</summary>
    internal Span<T> Elements<T>() where T : unmanaged
    {
        ThrowIfReturned();
        if (DTypes.Of<T>() != DType)
            throw new InvalidOperationException($"This tensor holds {DType.Name()}; AsSpan<{typeof(T).Name}>() needs {DTypes.Of<T>().Name()}. Convert with To(DType).");
        if (!IsContiguous)
            throw new InvalidOperationException($"This tensor of shape {Shapes.Format(_shape)} is a non-contiguous view; call Contiguous() first.");
        return Unsafe.As<T[]>(_storage).AsSpan(_offset, Length);
    }

    /// <summary>A copy of the elements in row-major order.</summary>
    public T[] ToArray<T>() where T : unmanaged => Contiguous().Elements<T>().ToArray();

    /// <summary>The elements converted to double, in row-major order (handy in tests and printing).</summary>
    public double[] ToDoubleArray()
    {
        Tensor c = Contiguous();
        if (DType == DType.Float64) return c.Elements<double>().ToArray();
        ReadOnlySpan<float> f = c.Elements<float>();
        var result = new double[f.Length];
        for (int i = 0; i < f.Length; i++) result[i] = f[i];
        return result;
    }

    /// <summary>Reads or writes one element by its full index, converting through double.</summary>
    /// <exception cref="ArgumentException">The index has the wrong rank or is out of range.</exception>
    [IndexerName("Element")]
    public double this[params int[] index]
    {
        get
        {
            ThrowIfReturned();
            int at = StorageIndex(index);
            return DType == DType.Float32 ? ((float[])_storage)[at] : ((double[])_storage)[at];
        }
        set
        {
            ThrowIfReturned();
            SignPlanes = null;
            int at = StorageIndex(index);
            if (DType == DType.Float32) ((float[])_storage)[at] = (float)value;
            else ((double[])_storage)[at] = value;
        }
    }

    private int StorageIndex(int[] index)
    {
        if (index.Length != Rank)
            throw new ArgumentException($"Index of rank {index.Length} used on a tensor of shape {Shapes.Format(_shape)}.");
        int at = _offset;
        for (int i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)_shape[i])
                throw new ArgumentException($"Index {Shapes.Format(index)} is out of range for shape {Shapes.Format(_shape)}.");
            at += index[i] * _strides[i];
        }
        return at;
    }

    /// <summary>Returns this tensor if it is contiguous, else a row-major copy (differentiable: gradients flow
    /// back to the view).</summary>
    public Tensor Contiguous() => IsContiguous ? this : Ops.Copy(this);

    /// <summary>A contiguous copy of this view's elements, outside the graph.</summary>
    internal Tensor MaterializeRaw()
    {
        Tensor result = Empty(_shape, DType);
        if (DType == DType.Float32) StridedCopy<float>(result.AsSpan<float>());
        else StridedCopy<double>(result.AsSpan<double>());
        return result;
    }

    private void StridedCopy<T>(Span<T> destination) where T : unmanaged
    {
        ThrowIfReturned();
        T[] source = Unsafe.As<T[]>(_storage);
        if (IsContiguous)
        {
            source.AsSpan(_offset, Length).CopyTo(destination);
            return;
        }
        if (Length == 0) return;
        int rank = Rank, inner = _shape[rank - 1], innerStride = _strides[rank - 1];
        Span<int> counter = stackalloc int[rank];
        counter.Clear();
        int baseOffset = _offset, written = 0;
        while (written < Length)
        {
            if (innerStride == 1) source.AsSpan(baseOffset, inner).CopyTo(destination.Slice(written, inner));
            else if (innerStride == 0) destination.Slice(written, inner).Fill(source[baseOffset]);
            else
                for (int j = 0, at = baseOffset; j < inner; j++, at += innerStride) destination[written + j] = source[at];
            written += inner;
            // advance the multi-index over the outer axes (odometer); no recursion, any rank
            for (int axis = rank - 2; axis >= 0; axis--)
            {
                counter[axis]++;
                baseOffset += _strides[axis];
                if (counter[axis] < _shape[axis]) break;
                baseOffset -= counter[axis] * _strides[axis];
                counter[axis] = 0;
            }
        }
    }

    /// <summary>Copies into a new tensor of element type <paramref name="dtype"/> (outside the graph unless the
    /// type is unchanged, in which case this tensor is returned).</summary>
    public Tensor To(DType dtype)
    {
        if (dtype == DType) return this;
        Tensor source = Contiguous(), result = Empty(_shape, dtype);
        if (dtype == DType.Float64)
        {
            ReadOnlySpan<float> s = source.AsSpan<float>(); Span<double> d = result.AsSpan<double>();
            for (int i = 0; i < s.Length; i++) d[i] = s[i];
        }
        else
        {
            ReadOnlySpan<double> s = source.AsSpan<double>(); Span<float> d = result.AsSpan<float>();
            for (int i = 0; i < s.Length; i++) d[i] = (float)s[i];
        }
        return result;
    }

    /// <summary>A new view over the same storage (no autograd link): used by view ops.</summary>
    internal Tensor ViewRaw(int[] shape, int[] strides, int offset)
    {
        ThrowIfReturned();
        return SameStorage(shape, strides, offset);
    }

    /// <summary>The value of a one-element tensor.</summary>
    /// <exception cref="InvalidOperationException">The tensor has more than one element.</exception>
    public double Item()
    {
        if (Length != 1) throw new InvalidOperationException($"Item() needs a one-element tensor; this one has shape {Shapes.Format(_shape)}.");
        ThrowIfReturned();
        return DType == DType.Float32 ? ((float[])_storage)[_offset] : ((double[])_storage)[_offset];
    }

    internal static T Cast<T>(double value) where T : INumberBase<T> => T.CreateTruncating(value);
}
