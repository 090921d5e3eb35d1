using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
/// maxima are exact, and the average's row sums differ from a serial sum by rounding only).</summary>
/// <remarks>Max pooling is split across <see cref="KernelThreads"/> by planes (N·C of them): a window never leaves its
/// plane, so every output and every <c>dx[argmax] += dy</c> of one plane is done by one thread in the serial order,
/// and results do not depend on the thread count. The common unpadded 2×2 stride-2 window has its own loop
/// (<see cref="MaxForward2x2"/>: four compares per output instead of two TensorPrimitives calls on 2-element rows,
/// which cost ~20× more); <see cref="Simd.Path"/> = Scalar keeps the general reference loop for every geometry.</remarks>
public static unsafe class Pool2DKernels
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
        bool fast = Simd.Path != SimdPath.Scalar && g is { KernelHeight: 2, KernelWidth: 2, StrideHeight: 2, StrideWidth: 2, PadHeight: 0, PadWidth: 0 };
        fixed (T* px = input, py = output)
        fixed (int* pa = argmax)
        {
            var body = new MaxForwardBody<T>(g, px, py, pa, fast);
            if (g.OutputLength < ThreadedMinOutputs) body.Run(0, g.Batch * g.Channels);
            else KernelThreads.For(g.Batch * g.Channels, 1, body);
        }
    }

    /// <summary>Planes [first, end) of the max-pool forward, as a value so that a call allocates nothing.</summary>
    private readonly struct MaxForwardBody<T>(Pool2DGeometry geometry, T* x, T* y, int* argmax, bool fast) : KernelThreads.IRangeBody
        where T : unmanaged, INumber<T>
    {
        public void Run(int first, int end)
        {
            var xs = new ReadOnlySpan<T>(x, geometry.InputLength);
            var ys = new Span<T>(y, geometry.OutputLength);
            var indices = new Span<int>(argmax, geometry.OutputLength);
            if (fast) MaxForward2x2(geometry, first, end, xs, ys, indices);
            else MaxForwardReference(geometry, first, end, xs, ys, indices);
        }
    }

    /// <summary>The reference loop over planes [<paramref name="first"/>, <paramref name="end"/>): per window row, the
    /// first maximum (or first NaN) by TensorPrimitives.IndexOfMax, then the rows combined so that a NaN or a strictly
    /// larger value replaces the best so far.</summary>
    private static void MaxForwardReference<T>(in Pool2DGeometry g, int first, int end, ReadOnlySpan<T> input, Span<T> output, Span<int> argmax) where T : unmanaged, INumber<T>
    {
        int planeSize = g.InHeight * g.InWidth, o = first * g.OutHeight * g.OutWidth;
        for (int plane = first; plane < end; plane++)
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

    /// <summary>Unpadded 2×2 stride-2 windows over planes [<paramref name="first"/>, <paramref name="end"/>), with the
    /// reference's exact rule: within a row of two, the right element wins when it is a NaN and the left is not, or it is
    /// larger, or both are zeros and only the left is −0 (IndexOfMax orders −0 below +0); across the two rows the bottom
    /// winner replaces the top one when it is a NaN and the top is not, or strictly larger.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxForward2x2<T>(in Pool2DGeometry g, int first, int end, ReadOnlySpan<T> input, Span<T> output, Span<int> argmax) where T : unmanaged, INumber<T>
    {
        int inW = g.InWidth, outH = g.OutHeight, outW = g.OutWidth, planeSize = g.InHeight * inW;
        int o = first * outH * outW;
        for (int plane = first; plane < end; plane++)
        for (int p = 0; p < outH; p++)
        {
            int top = plane * planeSize + 2 * p * inW, bottom = top + inW;
            ReadOnlySpan<T> rowTop = input.Slice(top, 2 * outW), rowBottom = input.Slice(bottom, 2 * outW);
            Span<T> ys = output.Slice(o, outW);
            Span<int> indices = argmax.Slice(o, outW);
            int done = typeof(T) == typeof(float) && Vector256.IsHardwareAccelerated
                ? MaxRow2x2Vector(MemoryMarshal.Cast<T, float>(rowTop), MemoryMarshal.Cast<T, float>(rowBottom), MemoryMarshal.Cast<T, float>(ys), indices, top, bottom)
                : 0;
            for (int q = done; q < ys.Length; q++)
            {
                int c = 2 * q;
                T a = rowTop[c], b = rowTop[c + 1];
                int best = RightWins(a, b) ? 1 : 0;
                T bestValue = best == 1 ? b : a;
                a = rowBottom[c];
                b = rowBottom[c + 1];
                int lower = RightWins(a, b) ? 1 : 0;
                T lowerValue = lower == 1 ? b : a;
                if ((T.IsNaN(lowerValue) && !T.IsNaN(bestValue)) || lowerValue > bestValue)
                {
                    ys[q] = lowerValue;
                    indices[q] = bottom + c + lower;
                }
                else
                {
                    ys[q] = bestValue;
                    indices[q] = top + c + best;
                }
            }
            o += outW;
        }
    }

    /// <summary>The 2×2 windows of one output row, four at a time with 256-bit vectors (float only; on both vector
    /// paths): each input row's 8 values hold 4 horizontal pairs, a lane swap puts each pair's right element beside its
    /// left one, and <see cref="RightWins{T}"/>'s rule — the first NaN, else the first maximum, +0 above −0 — is
    /// evaluated lane by lane with masks; then the bottom pair replaces the top pair exactly when the scalar loop's
    /// test (a NaN over a number, or strictly larger) holds, so values, signed zeros and argmax indices are the scalar
    /// loop's, and a branch-free loop replaces its data-dependent branches (which mispredicted on half of all windows).
    /// Returns the outputs done; the caller finishes the row.</summary>
    private static int MaxRow2x2Vector(ReadOnlySpan<float> rowTop, ReadOnlySpan<float> rowBottom, Span<float> ys, Span<int> indices, int top, int bottom)
    {
        int q = 0;
        Vector256<int> swap = Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6), evens = Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6);
        Vector256<int> lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        ref float t = ref MemoryMarshal.GetReference(rowTop), b = ref MemoryMarshal.GetReference(rowBottom);
        for (; q + 4 <= ys.Length; q += 4)
        {
            int c = 2 * q;
            (Vector256<float> topValue, Vector256<int> topIndex) = PairWinners(Vector256.LoadUnsafe(ref t, (nuint)c), swap, lane + Vector256.Create(top + c));
            (Vector256<float> lowValue, Vector256<int> lowIndex) = PairWinners(Vector256.LoadUnsafe(ref b, (nuint)c), swap, lane + Vector256.Create(bottom + c));
            // the bottom pair wins when it is NaN and the top is not, or strictly larger
            Vector256<float> lower = Vector256.AndNot(IsNaN(lowValue), IsNaN(topValue)) | Vector256.GreaterThan(lowValue, topValue);
            Vector256<float> value = Vector256.ConditionalSelect(lower, lowValue, topValue);
            Vector256<int> index = Vector256.ConditionalSelect(lower.AsInt32(), lowIndex, topIndex);
            Vector256.Shuffle(value, evens).GetLower().StoreUnsafe(ref ys[q]);
            Vector256.Shuffle(index, evens).GetLower().StoreUnsafe(ref indices[q]);
        }
        return q;

        // even lanes: the winner of (lane, lane + 1) and its flat index
        static (Vector256<float>, Vector256<int>) PairWinners(Vector256<float> v, Vector256<int> swap, Vector256<int> index)
        {
            Vector256<float> right = Vector256.Shuffle(v, swap);
            Vector256<int> bits = v.AsInt32(), rightBits = right.AsInt32();
            // RightWins(left, right): !NaN(left) && (NaN(right) || right > left || (left is −0 && right is +0))
            Vector256<float> negativeZeroThenPositiveZero =
                (Vector256.Equals(bits, Vector256.Create(int.MinValue)) & Vector256.Equals(rightBits, Vector256<int>.Zero)).AsSingle();
            Vector256<float> rightWins = Vector256.AndNot(IsNaN(right) | Vector256.GreaterThan(right, v) | negativeZeroThenPositiveZero, IsNaN(v));
            return (Vector256.ConditionalSelect(rightWins, right, v), index - rightWins.AsInt32()); // mask −1 adds one
        }

        static Vector256<float> IsNaN(Vector256<float> v) => ~Vector256.Equals(v, v);
    }

    /// <summary>TensorPrimitives.IndexOfMax([<paramref name="left"/>, <paramref name="right"/>]) == 1: the first NaN, else
    /// the first maximum, with +0 above −0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool RightWins<T>(T left, T right) where T : unmanaged, INumber<T>
    {
        if (T.IsNaN(left)) return false;
        if (T.IsNaN(right) || right > left) return true;
        return right == left && T.IsZero(left) && T.IsNegative(left) && !T.IsNegative(right);
    }

    internal static void MaxBackward<T>(in Pool2DGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<int> argmax, Span<T> gradInput) where T : unmanaged, INumber<T>
    {
        g.CheckLength(gradOutput.Length, g.OutputLength, nameof(gradOutput), "The output gradient");
        g.CheckLength(argmax.Length, g.OutputLength, nameof(argmax), "The argmax indices");
        g.CheckLength(gradInput.Length, g.InputLength, nameof(gradInput), "The input gradient");
        Pool2DGeometry geometry = g;
        int perPlane = g.OutHeight * g.OutWidth;
        fixed (T* pdy = gradOutput, pdx = gradInput)
        fixed (int* pa = argmax)
        {
            nint dy = (nint)pdy, dx = (nint)pdx, a = (nint)pa;
            ForPlanes(g, (first, end) =>
            {
                var dys = new ReadOnlySpan<T>((void*)dy, geometry.OutputLength);
                var indices = new ReadOnlySpan<int>((void*)a, geometry.OutputLength);
                var dxs = new Span<T>((void*)dx, geometry.InputLength);
                for (int i = first * perPlane; i < end * perPlane; i++) dxs[indices[i]] += dys[i];
            });
        }
    }

    /// <summary>Outputs below which a pooling runs on the calling thread.</summary>
    private const int ThreadedMinOutputs = 32 * 1024;

    /// <summary>Runs <paramref name="body"/>(first, end) over plane ranges on <see cref="KernelThreads"/>, or inline when
    /// the whole job is small (below ~32 K outputs a thread hop costs more than it saves).</summary>
    private static void ForPlanes(in Pool2DGeometry g, Action<int, int> body)
    {
        int planes = g.Batch * g.Channels;
        if (g.OutputLength < ThreadedMinOutputs) body(0, planes);
        else KernelThreads.For(planes, 1, body);
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
