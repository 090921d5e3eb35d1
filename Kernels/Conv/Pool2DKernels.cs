using System.Numerics;
using System.Numerics.Tensors;

namespace BinaryGrad.Kernels;

/// <summary>Shapes of a 2-D pooling over NCHW tensors: input N×C×H×W, output N×C×H_out×W_out with
/// <c>H_out = ⌊(H + 2·padH − kH) / strideH⌋ + 1</c> (W likewise). Window (p, q) covers input rows
/// <c>p·strideH − padH .. + kH − 1</c> and the matching columns.</summary>
public readonly record struct Pool2DGeometry
{
    /// <summary>Validates and stores the shapes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size, window or stride is below 1, a padding is negative or
    /// more than half the window (a window must hold at least one real element), the window exceeds the padded input,
    /// or the input would exceed 2³¹ − 1 elements.</exception>
    public Pool2DGeometry(int batch, int channels, int inHeight, int inWidth, int kernelHeight, int kernelWidth,
        int strideHeight, int strideWidth, int padHeight = 0, int padWidth = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(strideHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(strideWidth, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(padHeight);
        ArgumentOutOfRangeException.ThrowIfNegative(padWidth);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(padHeight, kernelHeight / 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(padWidth, kernelWidth / 2);
        if (inHeight + 2 * padHeight < kernelHeight || inWidth + 2 * padWidth < kernelWidth)
            throw new ArgumentOutOfRangeException(nameof(kernelHeight),
                $"The {kernelHeight}×{kernelWidth} window exceeds the padded {inHeight}×{inWidth} input (padding {padHeight}×{padWidth}).");
        (Batch, Channels, InHeight, InWidth, KernelHeight, KernelWidth) = (batch, channels, inHeight, inWidth, kernelHeight, kernelWidth);
        (StrideHeight, StrideWidth, PadHeight, PadWidth) = (strideHeight, strideWidth, padHeight, padWidth);
        OutHeight = (inHeight + 2 * padHeight - kernelHeight) / strideHeight + 1;
        OutWidth = (inWidth + 2 * padWidth - kernelWidth) / strideWidth + 1;
        if ((long)batch * channels * inHeight * inWidth > int.MaxValue) // spans are int-indexed
            throw new ArgumentOutOfRangeException(nameof(batch), $"The {batch}×{channels}×{inHeight}×{inWidth} input has more elements than a span can index.");
    }

    public int Batch { get; }
    public int Channels { get; }
    public int InHeight { get; }
    public int InWidth { get; }
    public int KernelHeight { get; }
    public int KernelWidth { get; }
    public int StrideHeight { get; }
    public int StrideWidth { get; }
    public int PadHeight { get; }
    public int PadWidth { get; }
    public int OutHeight { get; }
    public int OutWidth { get; }

    /// <summary>N·C·H·W.</summary>
    public int InputLength => Batch * Channels * InHeight * InWidth;
    /// <summary>N·C·H_out·W_out.</summary>
    public int OutputLength => Batch * Channels * OutHeight * OutWidth;

    internal void CheckLength(int actual, int needed, string argument, string what)
    {
        if (actual < needed)
            throw new ArgumentException($"{what} needs {needed} elements for pooling {Batch}×{Channels}×{InHeight}×{InWidth} " +
                $"with a {KernelHeight}×{KernelWidth} window, stride {StrideHeight}×{StrideWidth}, pad {PadHeight}×{PadWidth}, but the span has {actual}.", argument);
    }
}

/// <summary>Max and average pooling over NCHW planes, forward and backward. Window rows are contiguous, so each
/// row's reduction goes to TensorPrimitives (vectorized on whatever ISA it finds; reductions of copies and
/// maxima are exact, and the average's row sums differ from a serial sum by rounding only). Single-threaded:
/// pooling is memory-bound and cheap next to the convolutions around it.</summary>
public static class Pool2DKernels
{
    /// <summary>Max pooling: <c>y[n,c,p,q] = max</c> over the window's real (non-padding) elements, and
    /// <paramref name="argmax"/>[same index] = the flat index into <paramref name="input"/> of that maximum.</summary>
    /// <remarks>Ties go to the first element in row-major window order (top row first, then leftmost), so the
    /// gradient goes to exactly one element. NaN wins: the first NaN in the window is the result.</remarks>
    /// <exception cref="ArgumentException">A span is shorter than the geometry needs.</exception>
    public static void MaxForward(in Pool2DGeometry g, ReadOnlySpan<float> input, Span<float> output, Span<int> argmax) => MaxForward<float>(g, input, output, argmax);

    /// <inheritdoc cref="MaxForward(in Pool2DGeometry, ReadOnlySpan{float}, Span{float}, Span{int})"/>
    public static void MaxForward(in Pool2DGeometry g, ReadOnlySpan<double> input, Span<double> output, Span<int> argmax) => MaxForward<double>(g, input, output, argmax);

    /// <summary>Max-pooling gradient: <c>dx[argmax[i]] += dy[i]</c> for every output i (adds into <paramref name="gradInput"/>).</summary>
    /// <exception cref="ArgumentException">A span is shorter than the geometry needs.</exception>
    public static void MaxBackward(in Pool2DGeometry g, ReadOnlySpan<float> gradOutput, ReadOnlySpan<int> argmax, Span<float> gradInput) => MaxBackward<float>(g, gradOutput, argmax, gradInput);

    /// <inheritdoc cref="MaxBackward(in Pool2DGeometry, ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float})"/>
    public static void MaxBackward(in Pool2DGeometry g, ReadOnlySpan<double> gradOutput, ReadOnlySpan<int> argmax, Span<double> gradInput) => MaxBackward<double>(g, gradOutput, argmax, gradInput);

    /// <summary>Average pooling: <c>y = (Σ window's real elements) / (kH·kW)</c>. Padding counts as zeros in the
    /// divisor (PyTorch's default <c>count_include_pad = True</c>), so the map is linear with constant weights.</summary>
    /// <exception cref="ArgumentException">A span is shorter than the geometry needs.</exception>
    public static void AverageForward(in Pool2DGeometry g, ReadOnlySpan<float> input, Span<float> output) => AverageForward<float>(g, input, output);

    /// <inheritdoc cref="AverageForward(in Pool2DGeometry, ReadOnlySpan{float}, Span{float})"/>
    public static void AverageForward(in Pool2DGeometry g, ReadOnlySpan<double> input, Span<double> output) => AverageForward<double>(g, input, output);

    /// <summary>Average-pooling gradient: every real element of window i gets <c>dy[i] / (kH·kW)</c> added into <paramref name="gradInput"/>.</summary>
    /// <exception cref="ArgumentException">A span is shorter than the geometry needs.</exception>
    public static void AverageBackward(in Pool2DGeometry g, ReadOnlySpan<float> gradOutput, Span<float> gradInput) => AverageBackward<float>(g, gradOutput, gradInput);

    /// <inheritdoc cref="AverageBackward(in Pool2DGeometry, ReadOnlySpan{float}, Span{float})"/>
    public static void AverageBackward(in Pool2DGeometry g, ReadOnlySpan<double> gradOutput, Span<double> gradInput) => AverageBackward<double>(g, gradOutput, gradInput);

    internal static void MaxForward<T>(in Pool2DGeometry g, ReadOnlySpan<T> input, Span<T> output, Span<int> argmax) where T : unmanaged, INumber<T>
    {
        g.CheckLength(input.Length, g.InputLength, nameof(input), "The input");
        g.CheckLength(output.Length, g.OutputLength, nameof(output), "The output");
        g.CheckLength(argmax.Length, g.OutputLength, nameof(argmax), "The argmax indices");
        int o = 0, planeSize = g.InHeight * g.InWidth;
        for (int plane = 0; plane < g.Batch * g.Channels; plane++)
        for (int p = 0; p < g.OutHeight; p++)
        for (int q = 0; q < g.OutWidth; q++, o++)
        {
            var (r0, r1, c0, c1) = Window(g, p, q);
            T best = T.Zero;
            int bestIndex = -1;
            for (int r = r0; r < r1; r++)
            {
                int rowStart = plane * planeSize + r * g.InWidth + c0;
                ReadOnlySpan<T> row = input.Slice(rowStart, c1 - c0);
                int j = TensorPrimitives.IndexOfMax(row); // first occurrence of the row maximum (or of the first NaN)
                T value = row[j];
                if (bestIndex < 0 || (T.IsNaN(value) && !T.IsNaN(best)) || value > best)
                    (best, bestIndex) = (value, rowStart + j);
            }
            output[o] = best;
            argmax[o] = bestIndex;
        }
    }

    internal static void MaxBackward<T>(in Pool2DGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<int> argmax, Span<T> gradInput) where T : unmanaged, INumber<T>
    {
        g.CheckLength(gradOutput.Length, g.OutputLength, nameof(gradOutput), "The output gradient");
        g.CheckLength(argmax.Length, g.OutputLength, nameof(argmax), "The argmax indices");
        g.CheckLength(gradInput.Length, g.InputLength, nameof(gradInput), "The input gradient");
        for (int i = 0; i < g.OutputLength; i++) gradInput[argmax[i]] += gradOutput[i];
    }

    internal static void AverageForward<T>(in Pool2DGeometry g, ReadOnlySpan<T> input, Span<T> output) where T : unmanaged, INumber<T>
    {
        g.CheckLength(input.Length, g.InputLength, nameof(input), "The input");
        g.CheckLength(output.Length, g.OutputLength, nameof(output), "The output");
        T divisor = T.CreateChecked(g.KernelHeight * g.KernelWidth);
        int o = 0, planeSize = g.InHeight * g.InWidth;
        for (int plane = 0; plane < g.Batch * g.Channels; plane++)
        for (int p = 0; p < g.OutHeight; p++)
        for (int q = 0; q < g.OutWidth; q++, o++)
        {
            var (r0, r1, c0, c1) = Window(g, p, q);
            T sum = T.Zero;
            for (int r = r0; r < r1; r++) sum += TensorPrimitives.Sum(input.Slice(plane * planeSize + r * g.InWidth + c0, c1 - c0));
            output[o] = sum / divisor;
        }
    }

    internal static void AverageBackward<T>(in Pool2DGeometry g, ReadOnlySpan<T> gradOutput, Span<T> gradInput) where T : unmanaged, INumber<T>
    {
        g.CheckLength(gradOutput.Length, g.OutputLength, nameof(gradOutput), "The output gradient");
        g.CheckLength(gradInput.Length, g.InputLength, nameof(gradInput), "The input gradient");
        T divisor = T.CreateChecked(g.KernelHeight * g.KernelWidth);
        int o = 0, planeSize = g.InHeight * g.InWidth;
        for (int plane = 0; plane < g.Batch * g.Channels; plane++)
        for (int p = 0; p < g.OutHeight; p++)
        for (int q = 0; q < g.OutWidth; q++, o++)
        {
            var (r0, r1, c0, c1) = Window(g, p, q);
            T share = gradOutput[o] / divisor;
            for (int r = r0; r < r1; r++)
            {
                Span<T> row = gradInput.Slice(plane * planeSize + r * g.InWidth + c0, c1 - c0);
                TensorPrimitives.Add(row, share, row);
            }
        }
    }

    /// <summary>The real (non-padding) rows [r0, r1) and columns [c0, c1) of window (p, q); never empty because padding ≤ half the window.</summary>
    private static (int R0, int R1, int C0, int C1) Window(in Pool2DGeometry g, int p, int q)
    {
        int top = p * g.StrideHeight - g.PadHeight, left = q * g.StrideWidth - g.PadWidth;
        return (Math.Max(top, 0), Math.Min(top + g.KernelHeight, g.InHeight), Math.Max(left, 0), Math.Min(left + g.KernelWidth, g.InWidth));
    }
}
