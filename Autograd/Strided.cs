using System.Runtime.CompilerServices;

namespace BinaryGrad.Autograd;

/// <summary>Element loops over strided views (any rank, no recursion): the one place that walks strides.</summary>
internal static class Strided
{
    /// <summary>Writes the row-major elements of <paramref name="source"/> into the positions of the view
    /// (<paramref name="shape"/>, <paramref name="strides"/>, <paramref name="offset"/>) of <paramref name="storage"/>;
    /// adds instead of assigning when <paramref name="accumulate"/>.</summary>
    public static void Scatter<T>(T[] storage, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, int offset, ReadOnlySpan<T> source, bool accumulate)
        where T : unmanaged, System.Numerics.INumberBase<T>
    {
        int count = Shapes.ElementCount(shape);
        if (count == 0) return;
        if (shape.Length == 0)
        {
            storage[offset] = accumulate ? storage[offset] + source[0] : source[0];
            return;
        }
        int rank = shape.Length, inner = shape[rank - 1], innerStride = strides[rank - 1];
        Span<int> counter = stackalloc int[rank];
        counter.Clear();
        int baseOffset = offset, read = 0;
        while (read < count)
        {
            for (int j = 0, at = baseOffset; j < inner; j++, at += innerStride)
                storage[at] = accumulate ? storage[at] + source[read + j] : source[read + j];
            read += inner;
            for (int axis = rank - 2; axis >= 0; axis--)
            {
                counter[axis]++;
                baseOffset += strides[axis];
                if (counter[axis] < shape[axis]) break;
                baseOffset -= counter[axis] * strides[axis];
                counter[axis] = 0;
            }
        }
    }

    /// <summary>Writes <paramref name="source"/> (row-major, the view's shape) into the view <paramref name="view"/>.</summary>
    public static void ScatterInto(Tensor view, Tensor source, bool accumulate = false)
    {
        Tensor src = source.IsContiguous ? source : source.MaterializeRaw();
        if (view.DType == DType.Float32)
            Scatter(Unsafe.As<float[]>(view.Storage), view.Shape, view.Strides, view.Offset, src.AsSpan<float>(), accumulate);
        else
            Scatter(Unsafe.As<double[]>(view.Storage), view.Shape, view.Strides, view.Offset, src.AsSpan<double>(), accumulate);
    }
}
