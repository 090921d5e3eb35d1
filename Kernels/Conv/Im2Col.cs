using System.Runtime.CompilerServices;
using System.Numerics;
using System.Numerics.Tensors;

namespace BinaryGrad.Kernels;

/// <summary>Convolution kernels, part 1: im2col (unfolding one NCHW image into the patch matrix) and col2im.</summary>
/// <remarks>The column matrix has <c>C_in·kH·kW</c> rows and <c>H_out·W_out</c> columns; row
/// <c>(c·kH + i)·kW + j</c>, column <c>y·W_out + x</c> holds the input value at channel c, row
/// <c>y·strideH − padH + i·dilationH</c>, column <c>x·strideW − padW + j·dilationW</c>, or zero outside the image.
/// Then the forward convolution of one image is the GEMM <c>Y (C_out × H_out·W_out) = W (C_out × C_in·kH·kW) · cols</c>.
/// These are copies and sums of distinct elements, so every ISA gives identical results; a vector loop adds the
/// contiguous runs (stride-1 rows) and scalar loops the strided ones.</remarks>
public static partial class Conv2DKernels
{
    /// <summary>Unfolds one image (<c>C_in×H×W</c>) into <paramref name="columns"/> (<c>C_in·kH·kW × H_out·W_out</c>), overwriting it.</summary>
    /// <exception cref="ArgumentException">A span is shorter than the geometry needs.</exception>
    public static void Im2Col(in Conv2DGeometry g, ReadOnlySpan<float> image, Span<float> columns) => Im2Col<float>(g, image, columns);

    /// <inheritdoc cref="Im2Col(in Conv2DGeometry, ReadOnlySpan{float}, Span{float})"/>
    public static void Im2Col(in Conv2DGeometry g, ReadOnlySpan<double> image, Span<double> columns) => Im2Col<double>(g, image, columns);

    /// <summary>Folds <paramref name="columns"/> back by adding every entry into the image position it was read
    /// from (col2im, the adjoint of <see cref="Im2Col(in Conv2DGeometry, ReadOnlySpan{float}, Span{float})"/>);
    /// entries that came from padding are dropped. Adds into <paramref name="image"/>.</summary>
    /// <exception cref="ArgumentException">A span is shorter than the geometry needs.</exception>
    public static void Col2Im(in Conv2DGeometry g, ReadOnlySpan<float> columns, Span<float> image) => Col2Im<float>(g, columns, image);

    /// <inheritdoc cref="Col2Im(in Conv2DGeometry, ReadOnlySpan{float}, Span{float})"/>
    public static void Col2Im(in Conv2DGeometry g, ReadOnlySpan<double> columns, Span<double> image) => Col2Im<double>(g, columns, image);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: no slow tier-0 code while tiering catches up
    internal static void Im2Col<T>(in Conv2DGeometry g, ReadOnlySpan<T> image, Span<T> columns) where T : unmanaged, INumber<T> =>
        Im2Col(g, image, columns, g.OutputPlaneLength, 0);

    /// <summary><see cref="Im2Col{T}(in Conv2DGeometry, ReadOnlySpan{T}, Span{T})"/> into columns
    /// [<paramref name="offset"/>, <paramref name="offset"/> + plane) of a wider column matrix whose rows are
    /// <paramref name="leadingDimension"/> apart (several images side by side, one GEMM for all of them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Im2Col<T>(in Conv2DGeometry g, ReadOnlySpan<T> image, Span<T> columns, int leadingDimension, int offset) where T : unmanaged, INumber<T>
    {
        g.CheckLength(image.Length, g.InputImageLength, nameof(image), "The image");
        g.CheckLength(columns.Length, checked((g.PatchLength - 1) * leadingDimension + offset + g.OutputPlaneLength), nameof(columns), "The column matrix");
        int outH = g.OutHeight, outW = g.OutWidth, inH = g.InHeight, inW = g.InWidth, sw = g.StrideWidth;
        int row = 0;
        for (int c = 0; c < g.InChannels; c++)
        for (int i = 0; i < g.KernelHeight; i++)
        for (int j = 0; j < g.KernelWidth; j++, row++)
        {
            Span<T> destination = columns.Slice(row * leadingDimension + offset, outH * outW);
            int columnOffset = j * g.DilationWidth - g.PadWidth;
            var (xStart, xEnd) = ValidRange(columnOffset, sw, inW, outW);
            for (int y = 0; y < outH; y++)
            {
                Span<T> line = destination.Slice(y * outW, outW);
                int inRow = y * g.StrideHeight - g.PadHeight + i * g.DilationHeight;
                if ((uint)inRow >= (uint)inH || xStart >= xEnd)
                {
                    line.Clear();
                    continue;
                }
                ReadOnlySpan<T> source = image.Slice((c * inH + inRow) * inW, inW);
                line[..xStart].Clear();
                line[xEnd..].Clear();
                int first = xStart * sw + columnOffset;
                if (sw == 1) source.Slice(first, xEnd - xStart).CopyTo(line[xStart..xEnd]);
                else for (int x = xStart; x < xEnd; x++) line[x] = source[x * sw + columnOffset];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Col2Im<T>(in Conv2DGeometry g, ReadOnlySpan<T> columns, Span<T> image) where T : unmanaged, INumber<T> =>
        Col2Im(g, columns, g.OutputPlaneLength, 0, image);

    /// <summary><see cref="Col2Im{T}(in Conv2DGeometry, ReadOnlySpan{T}, Span{T})"/> from columns
    /// [<paramref name="offset"/>, <paramref name="offset"/> + plane) of a wider column matrix whose rows are
    /// <paramref name="leadingDimension"/> apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Col2Im<T>(in Conv2DGeometry g, ReadOnlySpan<T> columns, int leadingDimension, int offset, Span<T> image) where T : unmanaged, INumber<T>
    {
        g.CheckLength(image.Length, g.InputImageLength, nameof(image), "The image");
        g.CheckLength(columns.Length, checked((g.PatchLength - 1) * leadingDimension + offset + g.OutputPlaneLength), nameof(columns), "The column matrix");
        int outH = g.OutHeight, outW = g.OutWidth, inH = g.InHeight, inW = g.InWidth, sw = g.StrideWidth;
        int row = 0;
        for (int c = 0; c < g.InChannels; c++)
        for (int i = 0; i < g.KernelHeight; i++)
        for (int j = 0; j < g.KernelWidth; j++, row++)
        {
            ReadOnlySpan<T> source = columns.Slice(row * leadingDimension + offset, outH * outW);
            int columnOffset = j * g.DilationWidth - g.PadWidth;
            var (xStart, xEnd) = ValidRange(columnOffset, sw, inW, outW);
            if (xStart >= xEnd) continue;
            for (int y = 0; y < outH; y++)
            {
                int inRow = y * g.StrideHeight - g.PadHeight + i * g.DilationHeight;
                if ((uint)inRow >= (uint)inH) continue;
                ReadOnlySpan<T> line = source.Slice(y * outW, outW);
                Span<T> target = image.Slice((c * inH + inRow) * inW, inW);
                int first = xStart * sw + columnOffset;
                if (sw == 1) AddInto(target.Slice(first, xEnd - xStart), line[xStart..xEnd]);
                else for (int x = xStart; x < xEnd; x++) target[x * sw + columnOffset] += line[x];
            }
        }
    }

    /// <summary><c>target[i] += source[i]</c>: one add per element, so every path gives the same sums. A plain vector
    /// loop: the rows here are short (an output row, 8–64 values), where a library call's dispatch and alignment
    /// prologue cost more than the adds (col2im through TensorPrimitives.Add took 3× the GEMM's time at 32×32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddInto<T>(Span<T> target, ReadOnlySpan<T> source) where T : unmanaged, INumber<T>
    {
        int i = 0, n = target.Length;
        if (Simd.Path != SimdPath.Scalar && Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            ref T t = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(target);
            ref T s = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(source);
            for (; i <= n - Vector<T>.Count; i += Vector<T>.Count)
                (Vector.LoadUnsafe(ref t, (nuint)i) + Vector.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref t, (nuint)i);
        }
        for (; i < n; i++) target[i] += source[i];
    }

    /// <summary>The output columns x in [start, end) whose input column <c>x·stride + offset</c> lies in [0, inWidth).</summary>
    private static (int Start, int End) ValidRange(int offset, int stride, int inWidth, int outWidth)
    {
        int start = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int last = inWidth - 1 - offset; // need x·stride ≤ last
        int end = last < 0 ? 0 : Math.Min(outWidth, last / stride + 1);
        return (Math.Min(start, end), end);
    }
}
