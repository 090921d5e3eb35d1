using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace BinaryGrad.Kernels;

/// <summary>2-D convolution (cross-correlation, as in every DL framework) over NCHW tensors, by im2col + GEMM:
/// <c>y[n,o,p,q] = b[o] + Σ_{c,i,j} w[o,c,i,j] · x[n, c, p·sH − padH + i·dH, q·sW − padW + j·dW]</c>
/// (zero outside the image); shapes in <see cref="Conv2DGeometry"/>.</summary>
/// <remarks>
/// Per image, with X = im2col(x[n]) (<c>C_in·kH·kW × H_out·W_out</c>) and W viewed as <c>C_out × C_in·kH·kW</c>:
/// forward <c>Y = W·X + b</c>; input gradient <c>dx[n] += col2im(Wᵀ·dY)</c>; weight gradient <c>dW += dY·Xᵀ</c>,
/// bias gradient <c>db[o] += Σ dY[o,:]</c>. A 1×1 stride-1 unpadded convolution skips im2col (X is the image).
/// Threads: with at least <see cref="KernelThreads.Count"/> images, images are split statically across threads
/// (each thread: its own column buffer, single-threaded GEMMs; the weight gradient is summed per thread and the
/// per-thread sums are added in thread order, so results are reproducible for a given thread count); with fewer
/// images the GEMMs themselves are threaded. Column buffers are per-thread and reused.
/// </remarks>
public static partial class Conv2DKernels
{
    /// <summary>Forward: overwrites <paramref name="output"/> (N×C_out×H_out×W_out) with the convolution of
    /// <paramref name="input"/> (N×C_in×H×W) by <paramref name="weight"/> (C_out×C_in×kH×kW) plus
    /// <paramref name="bias"/> (C_out values, or empty for no bias).</summary>
    /// <exception cref="ArgumentException">A span is shorter than the geometry needs, or the bias is neither empty nor C_out long.</exception>
    public static void Forward(in Conv2DGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output)
        => Conv2DCore<float>.Forward(g, input, weight, bias, output);

    /// <inheritdoc cref="Forward(in Conv2DGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>
    public static void Forward(in Conv2DGeometry g, ReadOnlySpan<double> input, ReadOnlySpan<double> weight, ReadOnlySpan<double> bias, Span<double> output)
        => Conv2DCore<double>.Forward(g, input, weight, bias, output);

    /// <summary>Input gradient: adds <c>∂L/∂x</c> = the transposed convolution of <paramref name="gradOutput"/> by
    /// <paramref name="weight"/> into <paramref name="gradInput"/> (N×C_in×H×W). Adds, so several consumers of x
    /// can accumulate; clear <paramref name="gradInput"/> first for a plain gradient.</summary>
    /// <exception cref="ArgumentException">A span is shorter than the geometry needs.</exception>
    public static void BackwardInput(in Conv2DGeometry g, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> weight, Span<float> gradInput)
        => Conv2DCore<float>.BackwardInput(g, gradOutput, weight, gradInput);

    /// <inheritdoc cref="BackwardInput(in Conv2DGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>
    public static void BackwardInput(in Conv2DGeometry g, ReadOnlySpan<double> gradOutput, ReadOnlySpan<double> weight, Span<double> gradInput)
        => Conv2DCore<double>.BackwardInput(g, gradOutput, weight, gradInput);

    /// <summary>Parameter gradients: adds <c>∂L/∂w[o,c,i,j] = Σ_{n,p,q} dY[n,o,p,q]·x[n,c,p·sH−padH+i·dH, q·sW−padW+j·dW]</c>
    /// into <paramref name="gradWeight"/> and, unless <paramref name="gradBias"/> is empty, <c>∂L/∂b[o] = Σ_{n,p,q} dY[n,o,p,q]</c>
    /// into <paramref name="gradBias"/>.</summary>
    /// <exception cref="ArgumentException">A span is shorter than the geometry needs, or the bias gradient is neither empty nor C_out long.</exception>
    public static void BackwardWeight(in Conv2DGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, Span<float> gradWeight, Span<float> gradBias)
        => Conv2DCore<float>.BackwardWeight(g, input, gradOutput, gradWeight, gradBias);

    /// <summary>Both gradients of <c>y = conv(sign(x), W)</c> under the clipped straight-through estimator, with x the
    /// real input: <b>writes</b> <c>1[|x| ≤ clip] · convᵀ(dY, W)</c> into <paramref name="gradInput"/> (no clearing
    /// needed: a fresh gradient tensor skips a zeroing pass and a read) and adds
    /// <c>Σ_{n,p,q} dY[n,o,p,q]·sign(x)[n,c,…]</c> into <paramref name="gradWeight"/> (either may be empty to skip it).
    /// sign follows the bit packer: <c>x ≥ 0</c> → +1, else −1. One call shares the stacked output gradient between
    /// the two products and replaces the separate sign forward (a tensor written) and mask backward (a pass). With
    /// <paramref name="accumulate"/> the input gradient is <b>added</b> to what <paramref name="gradInput"/> holds (x's
    /// gradient from its other consumers, e.g. a residual shortcut) in the same write, instead of a separate pass
    /// adding the two; the sums are the same floats (addition commutes).</summary>
    /// <exception cref="ArgumentException">A span is shorter than the geometry needs.</exception>
    public static void BackwardOfSign(in Conv2DGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> weight, float clip,
                                      Span<float> gradInput, Span<float> gradWeight, bool accumulate = false)
        => Conv2DCore<float>.BackwardOfSign(g, input, gradOutput, weight, clip, gradInput, gradWeight, accumulate);

    /// <inheritdoc cref="BackwardWeight(in Conv2DGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/>
    public static void BackwardWeight(in Conv2DGeometry g, ReadOnlySpan<double> input, ReadOnlySpan<double> gradOutput, Span<double> gradWeight, Span<double> gradBias)
        => Conv2DCore<double>.BackwardWeight(g, input, gradOutput, gradWeight, gradBias);

    /// <summary><see cref="BackwardInput(in Conv2DGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/> for code written once over the element type.</summary>
    public static void BackwardInput<T>(in Conv2DGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight, Span<T> gradInput) where T : unmanaged, INumber<T>
        => Conv2DCore<T>.BackwardInput(g, gradOutput, weight, gradInput);

    /// <summary><see cref="BackwardWeight(in Conv2DGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/> for code written once over the element type.</summary>
    public static void BackwardWeight<T>(in Conv2DGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput, Span<T> gradWeight, Span<T> gradBias) where T : unmanaged, INumber<T>
        => Conv2DCore<T>.BackwardWeight(g, input, gradOutput, gradWeight, gradBias);
}

/// <summary>The element-type-generic implementation behind <see cref="Conv2DKernels"/>.</summary>
internal static unsafe partial class Conv2DCore<T> where T : unmanaged, INumber<T>
{
    private static readonly ScratchPool<T> s_columns = new(pinned: false);

    public static void Forward(in Conv2DGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> output)
    {
        g.CheckLength(input.Length, g.InputLength, nameof(input), "The input");
        g.CheckLength(weight.Length, g.WeightLength, nameof(weight), "The weight");
        g.CheckLength(output.Length, g.OutputLength, nameof(output), "The output");
        CheckBias(g, bias.Length, nameof(bias));
        if (TryForwardByLookup(g, input, weight, bias, output)) return;
        if (DirectConv3x3.Applies<T>(g, g.InChannels, g.OutChannels))
        {
            ForwardDirect(g, input, weight, bias, output);
            return;
        }
        // Images split across threads, each GEMM on one thread; or, for fewer images than threads, every GEMM threaded.
        bool split = SplitImages(g);
        fixed (T* px = input, pw = weight, pb = bias, py = output)
        {
            var body = new Im2ColForwardBody(g, px, pw, pb, bias.Length, py, split ? 1 : KernelThreads.Count);
            if (split) KernelThreads.For(g.Batch, 1, body);
            else body.Run(0, g.Batch);
        }
    }

    /// <summary>Images [first, end) of the im2col forward, as a value so that a call allocates nothing.</summary>
    private readonly struct Im2ColForwardBody(Conv2DGeometry geometry, T* x, T* w, T* b, int biasLength, T* y, int gemmThreads) : KernelThreads.IRangeBody
    {
        public void Run(int first, int end)
        {
            ReadOnlySpan<T> input = new(x, geometry.InputLength), weight = new(w, geometry.WeightLength), bias = new(b, biasLength);
            Span<T> output = new(y, geometry.OutputLength);
            int group = Math.Min(GroupSize(geometry), end - first);
            if (group > 1)
            {
                T[] grouped = RentColumns(geometry, group), products = RentGathered(geometry, group);
                for (int n = first; n < end; n += group)
                    ForwardGroup(geometry, n, Math.Min(group, end - n), gemmThreads, grouped, products, input, weight, bias, output);
                ReturnColumns(grouped);
                ReturnColumns(products);
                return;
            }
            T[] columns = RentColumns(geometry);
            for (int n = first; n < end; n++) ForwardImage(geometry, n, gemmThreads, columns, input, weight, bias, output);
            ReturnColumns(columns);
        }
    }

    /// <summary><paramref name="count"/> images from <paramref name="first"/> in one GEMM: their columns side by side
    /// (patch × count·plane), <c>W · columns</c> into <paramref name="productBuffer"/> (C_out × count·plane), then each
    /// image's block copied out to NCHW with its bias. Why: a small image alone (16×16: 256 columns; 8×8: 64) makes a
    /// GEMM whose packed weights (C_out × patch, 590 KB for 128 → 128) cost as much as the multiply; side by side they
    /// are packed once per group. Every output is the same k-ordered dot as in <see cref="ForwardImage"/>.</summary>
    private static void ForwardGroup(in Conv2DGeometry g, int first, int count, int gemmThreads, T[] columnBuffer, T[] productBuffer,
                                     ReadOnlySpan<T> input, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> output)
    {
        int patch = g.PatchLength, plane = g.OutputPlaneLength, width = count * plane;
        Span<T> columns = columnBuffer.AsSpan(0, patch * width);
        for (int i = 0; i < count; i++)
            Conv2DKernels.Im2Col<T>(g, input.Slice((first + i) * g.InputImageLength, g.InputImageLength), columns, width, i * plane);
        Span<T> products = productBuffer.AsSpan(0, g.OutChannels * width);
        Gemm.Multiply(Simd.Path, gemmThreads, false, false, g.OutChannels, width, patch, T.One, weight, patch, columns, width, T.Zero, products, width);
        for (int i = 0; i < count; i++)
        {
            Span<T> result = output.Slice((first + i) * g.OutputImageLength, g.OutputImageLength);
            for (int o = 0; o < g.OutChannels; o++)
            {
                ReadOnlySpan<T> source = products.Slice(o * width + i * plane, plane);
                Span<T> channel = result.Slice(o * plane, plane);
                if (bias.IsEmpty) source.CopyTo(channel);
                else TensorPrimitives.Add(source, bias[o], channel);
            }
        }
    }

    public static void BackwardInput(in Conv2DGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight, Span<T> gradInput)
    {
        g.CheckLength(gradOutput.Length, g.OutputLength, nameof(gradOutput), "The output gradient");
        g.CheckLength(weight.Length, g.WeightLength, nameof(weight), "The weight");
        g.CheckLength(gradInput.Length, g.InputLength, nameof(gradInput), "The input gradient");
        if (TryBackwardInputByLookup(g, gradOutput, weight, gradInput)) return;
        if (StackedConv3x3.Applies(g))
        {
            BackwardInputStacked(g, gradOutput, weight, gradInput);
            return;
        }
        if (DirectConv3x3.Applies<T>(g, g.OutChannels, g.InChannels))
        {
            BackwardInputDirect(g, gradOutput, weight, gradInput);
            return;
        }
        Conv2DGeometry geometry = g;
        fixed (T* pdy = gradOutput, pw = weight, pdx = gradInput)
        {
            nint dy = (nint)pdy, w = (nint)pw, dx = (nint)pdx;
            ForEachImage(g, gemmThreads => (first, end) =>
            {
                int group = GroupSize(geometry);
                T[] columns = RentColumns(geometry, group), gathered = RentGathered(geometry, group);
                for (int n = first; n < end; n += group)
                    BackwardInputGroup(geometry, n, Math.Min(group, end - n), gemmThreads, columns, gathered, Span(dy, geometry.OutputLength),
                        Span(w, geometry.WeightLength), Span(dx, geometry.InputLength));
                ReturnColumns(columns);
                ReturnColumns(gathered);
            });
        }
    }

    public static void BackwardWeight(in Conv2DGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput, Span<T> gradWeight, Span<T> gradBias)
    {
        g.CheckLength(input.Length, g.InputLength, nameof(input), "The input");
        g.CheckLength(gradOutput.Length, g.OutputLength, nameof(gradOutput), "The output gradient");
        g.CheckLength(gradWeight.Length, g.WeightLength, nameof(gradWeight), "The weight gradient");
        CheckBias(g, gradBias.Length, nameof(gradBias));
        Conv2DGeometry geometry = g;
        int weightLength = g.WeightLength, biasLength = gradBias.Length;
        if (StackedConv3x3.Applies(g))
        {
            BackwardWeightStacked(g, input, gradOutput, gradWeight, gradBias);
            return;
        }
        if (!SplitImages(g))
        {
            int group = GroupSize(g);
            T[] columns = RentColumns(g, group), gathered = RentGathered(g, group);
            for (int n = 0; n < g.Batch; n += group)
                BackwardWeightGroup(g, n, Math.Min(group, g.Batch - n), KernelThreads.Count, columns, gathered, input, gradOutput, gradWeight, gradBias);
            ReturnColumns(columns);
            ReturnColumns(gathered);
            return;
        }
        // Each chunk of images is summed into a private buffer (weight gradient, then bias gradient); the buffers are
        // added in image order afterwards, so the result does not depend on thread timing. The buffers belong to the
        // calling thread and are reused by its next call (renting them from ArrayPool.Shared on the workers and returning
        // them here parked one in this thread's private cache, where no worker finds it: a new one every step).
        PartialSums partials = t_partials ??= new PartialSums();
        int chunks = KernelThreads.Count, length = weightLength + biasLength;
        partials.Prepare(chunks, length);
        fixed (T* px = input, pdy = gradOutput)
        {
            nint x = (nint)px, dy = (nint)pdy;
            KernelThreads.For(g.Batch, 1, (first, end) =>
            {
                Span<T> sums = partials.Take(first).AsSpan(0, length);
                sums.Clear();
                int group = GroupSize(geometry);
                T[] columns = RentColumns(geometry, group), gathered = RentGathered(geometry, group);
                for (int n = first; n < end; n += group)
                    BackwardWeightGroup(geometry, n, Math.Min(group, end - n), 1, columns, gathered, Span(x, geometry.InputLength), Span(dy, geometry.OutputLength),
                        sums[..weightLength], sums[weightLength..]);
                ReturnColumns(columns);
                ReturnColumns(gathered);
            });
        }
        for (int i = 0, count = partials.SortByImage(); i < count; i++)
        {
            T[] partial = partials[i];
            TensorPrimitives.Add(gradWeight[..weightLength], partial.AsSpan(0, weightLength), gradWeight[..weightLength]);
            if (biasLength > 0) TensorPrimitives.Add(gradBias, partial.AsSpan(weightLength, biasLength), gradBias);
        }
    }

    [ThreadStatic] private static PartialSums? t_partials;

    private static void ForwardImage(in Conv2DGeometry g, int n, int gemmThreads, T[] columnBuffer, ReadOnlySpan<T> input, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> output)
    {
        int patch = g.PatchLength, plane = g.OutputPlaneLength;
        ReadOnlySpan<T> image = input.Slice(n * g.InputImageLength, g.InputImageLength);
        Span<T> result = output.Slice(n * g.OutputImageLength, g.OutputImageLength);
        ReadOnlySpan<T> columns = g.IsPointwise ? image : Unfolded(g, image, columnBuffer);
        Gemm.Multiply(Simd.Path, gemmThreads, false, false, g.OutChannels, plane, patch, T.One, weight, patch, columns, plane, T.Zero, result, plane);
        if (bias.IsEmpty) return;
        for (int o = 0; o < g.OutChannels; o++)
        {
            Span<T> channel = result.Slice(o * plane, plane);
            TensorPrimitives.Add(channel, bias[o], channel);
        }
    }

    /// <summary>The forward by <see cref="DirectConv3x3"/>: per image, pad, convolve, add the bias; images split over the
    /// kernel threads.</summary>
    private static void ForwardDirect(in Conv2DGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> output)
    {
        fixed (T* px = input, pw = weight, pb = bias, py = output)
            KernelThreads.For(g.Batch, 1, new DirectForwardBody(g, px, pw, pb, bias.Length, py));
    }

    /// <summary>Images [first, end) of <see cref="ForwardDirect"/>, as a value so that a call allocates nothing.</summary>
    private readonly struct DirectForwardBody(Conv2DGeometry geometry, T* x, T* w, T* b, int biasLength, T* y) : KernelThreads.IRangeBody
    {
        public void Run(int first, int end)
        {
            int plane = geometry.OutputPlaneLength;
            T[] padded = s_columns.Rent(geometry.InChannels * (geometry.InHeight + 2) * (geometry.InWidth + 2));
            ReadOnlySpan<T> weights = new(w, geometry.WeightLength), biases = new(b, biasLength);
            for (int n = first; n < end; n++)
            {
                DirectConv3x3.Pad(new ReadOnlySpan<T>(x, geometry.InputLength).Slice(n * geometry.InputImageLength, geometry.InputImageLength),
                    geometry.InChannels, geometry.InHeight, geometry.InWidth, padded);
                Span<T> image = new Span<T>(y, geometry.OutputLength).Slice(n * geometry.OutputImageLength, geometry.OutputImageLength);
                DirectConv3x3.Image<T>(padded, weights, image, geometry.InChannels, geometry.OutChannels, geometry.OutHeight, geometry.OutWidth, accumulate: false);
                for (int o = 0; o < biases.Length; o++)
                {
                    Span<T> channel = image.Slice(o * plane, plane);
                    TensorPrimitives.Add(channel, biases[o], channel);
                }
            }
            s_columns.Return(padded);
        }
    }

    /// <summary>The input gradient by <see cref="DirectConv3x3"/>: the forward of the zero-bordered output gradient with
    /// the filters transposed and rotated (<see cref="DirectConv3x3.FlipTranspose{T}"/>), added into dx per image.</summary>
    private static void BackwardInputDirect(in Conv2DGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight, Span<T> gradInput)
    {
        Conv2DGeometry geometry = g;
        T[] flipped = s_columns.Rent(g.WeightLength);
        DirectConv3x3.FlipTranspose(weight, g.OutChannels, g.InChannels, flipped);
        fixed (T* pdy = gradOutput, pw = flipped, pdx = gradInput)
        {
            nint dy = (nint)pdy, w = (nint)pw, dx = (nint)pdx;
            KernelThreads.For(g.Batch, 1, (first, end) =>
            {
                T[] padded = s_columns.Rent(geometry.OutChannels * (geometry.OutHeight + 2) * (geometry.OutWidth + 2));
                ReadOnlySpan<T> weights = Span(w, geometry.WeightLength);
                for (int n = first; n < end; n++)
                {
                    DirectConv3x3.Pad(Span(dy, geometry.OutputLength).Slice(n * geometry.OutputImageLength, geometry.OutputImageLength),
                        geometry.OutChannels, geometry.OutHeight, geometry.OutWidth, padded);
                    DirectConv3x3.Image<T>(padded, weights, Span(dx, geometry.InputLength).Slice(n * geometry.InputImageLength, geometry.InputImageLength),
                        geometry.OutChannels, geometry.InChannels, geometry.InHeight, geometry.InWidth, accumulate: true);
                }
                s_columns.Return(padded);
            });
        }
        s_columns.Return(flipped);
    }

    /// <summary>Images per GEMM in the im2col forward and the backward: enough that the GEMM's output side over the images' pixels reaches
    /// about <see cref="GroupPixels"/> columns. One 8×8 image alone gives a 64-column GEMM whose packed A operand (Wᵀ,
    /// C_in·k² × C_out) costs as much as the multiply; sixteen side by side pack it once. 1 for images of 1024 pixels
    /// and more, and for pointwise convolutions (which multiply the images in place).</summary>
    private static int GroupSize(in Conv2DGeometry g) => g.IsPointwise ? 1 : Math.Clamp(GroupPixels / g.OutputPlaneLength, 1, 64);

    private const int GroupPixels = 1024;

    /// <summary>The output gradient of <paramref name="count"/> images starting at <paramref name="first"/> as one
    /// C_out × (count·plane) matrix: <c>gathered[o, i·plane + p] = dY[first + i, o, p]</c> (a copy; for one image the
    /// image itself).</summary>
    private static ReadOnlySpan<T> Gathered(in Conv2DGeometry g, int first, int count, ReadOnlySpan<T> gradOutput, T[] buffer)
    {
        int plane = g.OutputPlaneLength;
        if (count == 1) return gradOutput.Slice(first * g.OutputImageLength, g.OutputImageLength);
        Span<T> gathered = buffer.AsSpan(0, g.OutChannels * count * plane);
        for (int i = 0; i < count; i++)
            for (int o = 0; o < g.OutChannels; o++)
                gradOutput.Slice((first + i) * g.OutputImageLength + o * plane, plane).CopyTo(gathered.Slice((o * count + i) * plane, plane));
        return gathered;
    }

    private static void BackwardInputGroup(in Conv2DGeometry g, int first, int count, int gemmThreads, T[] columnBuffer, T[] gatherBuffer,
                                           ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight, Span<T> gradInput)
    {
        int patch = g.PatchLength, plane = g.OutputPlaneLength, width = count * plane;
        ReadOnlySpan<T> dy = Gathered(g, first, count, gradOutput, gatherBuffer);
        if (g.IsPointwise)
        {
            // dx (C_in × H·W) += Wᵀ · dY: the GEMM adds straight into the image (β = 1); pointwise groups hold one image.
            Gemm.Multiply(Simd.Path, gemmThreads, true, false, patch, plane, g.OutChannels, T.One, weight, patch, dy, plane, T.One,
                gradInput.Slice(first * g.InputImageLength, g.InputImageLength), plane);
            return;
        }
        // columns (patch × count·plane) = Wᵀ · [dY_first … dY_last], then each image's block of columns folds back
        Span<T> columns = columnBuffer.AsSpan(0, patch * width);
        Gemm.Multiply(Simd.Path, gemmThreads, true, false, patch, width, g.OutChannels, T.One, weight, patch, dy, width, T.Zero, columns, width);
        for (int i = 0; i < count; i++)
            Conv2DKernels.Col2Im<T>(g, columns, width, i * plane, gradInput.Slice((first + i) * g.InputImageLength, g.InputImageLength));
    }

    private static void BackwardWeightGroup(in Conv2DGeometry g, int first, int count, int gemmThreads, T[] columnBuffer, T[] gatherBuffer,
                                            ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput, Span<T> gradWeight, Span<T> gradBias)
    {
        int patch = g.PatchLength, plane = g.OutputPlaneLength, width = count * plane;
        ReadOnlySpan<T> dy = Gathered(g, first, count, gradOutput, gatherBuffer);
        ReadOnlySpan<T> columns;
        if (g.IsPointwise) columns = input.Slice(first * g.InputImageLength, g.InputImageLength); // groups of one image
        else
        {
            Span<T> unfolded = columnBuffer.AsSpan(0, patch * width);
            for (int i = 0; i < count; i++)
                Conv2DKernels.Im2Col<T>(g, input.Slice((first + i) * g.InputImageLength, g.InputImageLength), unfolded, width, i * plane);
            columns = unfolded;
        }
        // dW (C_out × patch) += [dY…] (C_out × count·plane) · [X…]ᵀ (count·plane × patch), X stored patch × count·plane.
        Gemm.Multiply(Simd.Path, gemmThreads, false, true, g.OutChannels, patch, width, T.One, dy, width, columns, width, T.One, gradWeight, patch);
        for (int o = 0; o < gradBias.Length; o++)
            for (int i = 0; i < count; i++) gradBias[o] += TensorPrimitives.Sum(gradOutput.Slice((first + i) * g.OutputImageLength + o * plane, plane));
    }

    /// <summary>Runs <paramref name="body"/> over the images: split across threads (single-threaded GEMMs) when
    /// there are at least as many images as threads, else sequentially with threaded GEMMs.</summary>
    private static void ForEachImage(in Conv2DGeometry g, Func<int, Action<int, int>> body)
    {
        if (SplitImages(g)) KernelThreads.For(g.Batch, 1, body(1));
        else body(KernelThreads.Count)(0, g.Batch);
    }

    private static bool SplitImages(in Conv2DGeometry g) => KernelThreads.Count > 1 && g.Batch >= KernelThreads.Count;

    /// <summary>The image unfolded by im2col into <paramref name="columnBuffer"/> (patch × plane).</summary>
    private static ReadOnlySpan<T> Unfolded(in Conv2DGeometry g, ReadOnlySpan<T> image, T[] columnBuffer)
    {
        Span<T> columns = columnBuffer.AsSpan(0, g.PatchLength * g.OutputPlaneLength);
        Conv2DKernels.Im2Col<T>(g, image, columns);
        return columns;
    }

    /// <summary>A column buffer (patch × plane) for one chunk of images, from the pool shared by all threads (empty for a
    /// pointwise convolution, which multiplies the image directly); give it back with <see cref="ReturnColumns"/>.</summary>
    private static T[] RentColumns(in Conv2DGeometry g, int images = 1) => g.IsPointwise ? [] : s_columns.Rent(g.PatchLength * g.OutputPlaneLength * images);

    /// <summary>A buffer for <see cref="Gathered"/> (empty when groups hold one image, which needs no copy).</summary>
    private static T[] RentGathered(in Conv2DGeometry g, int images) => images == 1 ? [] : s_columns.Rent(g.OutChannels * g.OutputPlaneLength * images);

    private static void ReturnColumns(T[] columns)
    {
        if (columns.Length > 0) s_columns.Return(columns);
    }

    private static Span<T> Span(nint address, int length) => new((void*)address, length);

    private static void CheckBias(in Conv2DGeometry g, int length, string argument)
    {
        if (length != 0 && length != g.OutChannels)
            throw new ArgumentException($"The bias must be empty or have C_out = {g.OutChannels} elements, but has {length}.", argument);
    }
}
