using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels;

/// <summary>The backward of a 3×3 stride-1 convolution of sign(x) by ±1 filters through <see cref="SignLookup"/>: both
/// float products have a ±1 operand, so both become table look-ups.</summary>
/// <remarks>
/// <para><b>Input gradient.</b> <c>result[c][k] = Σ_{o,t} W[o, c, t] · Y_o[k + shift_t]</c> over the stacked layout of
/// <see cref="StackedConv3x3"/> (the zero rows and columns give the padding). K runs over (t, four output channels):
/// a table holds the 16 signed sums of four shifted dY planes over 32 positions, and each input channel c adds the
/// entry its four filter signs W[o₀…o₃, c, t] pick. Each table serves all C input channels.</para>
/// <para><b>Weight gradient.</b> <c>dW[o, c, i, j] = Σ_{n,y,x} dY[n, o, y, x] · sign x[n, c, y + i − 1, x + j − 1]</c>
/// (0 outside the image). K runs over groups of four pixels of an image row: a table holds the 16 signed sums of the
/// four pixels' dY over 32 output channels (dY transposed to pixel-major), and each row (c, i, j) adds the entry picked
/// by the signs of x at the four shifted pixels, read from a 64-bit word per image row. Outside the image that word
/// holds +1 (a ±1 pattern cannot say 0), so those pixels' dY is added once too much; it does not depend on c, and is
/// subtracted at the end: <c>corr[t, o] = Σ_{pixels whose tap t falls outside} dY[o, pixel]</c>. The pixel-major
/// copy of dY lets each table serve all 9·C rows.</para>
/// <para><b>Applies</b> when the filters are all ±1 (a binary convolution's quantized weights), the channels are at
/// least <see cref="LookupMinChannels"/> (a table is built once and read by every channel: at ResNet-20's 64
/// channels the builds ate the gain, 695–702 against 709–761 images/s), the output channels a multiple of 32 and the image width a multiple of 4 up to 60
/// (a row and its two padding bits in one word). Float32 only. The same correlation serves the forward and the input
/// gradient of a binary-weight, real-activation convolution (<see cref="TryForwardByLookup"/>,
/// <see cref="TryBackwardInputByLookup"/>).</para>
/// <para><b>Rounding.</b> Sums regrouped in fours (and, for dW, the padding correction): the same value as the
/// multiply-add kernels on small integers, a different rounding on reals; the SIMD paths agree bit for bit.
/// Non-finite values: a NaN anywhere in a sum gives NaN, as before; an infinite dY next to the image border gives NaN
/// in dW where the multiply-adds give ±∞ (the correction subtracts the ∞ the look-up added) — either way the step
/// has diverged, and the loss shows it. x's sign follows the bit packer (NaN → −1).</para>
/// </remarks>
internal static unsafe partial class Conv2DCore<T> where T : unmanaged, INumber<T>
{
    /// <summary>The smallest channel count (in and out) the look-up backward takes.</summary>
    public const int LookupMinChannels = 128;

    /// <summary>True when <see cref="TryBackwardOfSignByLookup"/> takes this geometry (weights aside).</summary>
    public static bool LookupApplies(in Conv2DGeometry g) =>
        typeof(T) == typeof(float) && StackedConv3x3.Applies(g) && g.InChannels >= LookupMinChannels && g.OutChannels >= LookupMinChannels
        && g.OutChannels % SignLookup.Width == 0 && g.OutWidth % 4 == 0 && g.OutWidth <= 60;

    /// <summary>True when every element is +1 or −1.</summary>
    private static bool AllSigns(ReadOnlySpan<float> weight) =>
        weight.Length > 0 && Math.Abs(TensorPrimitives.MaxMagnitude(weight)) == 1f && Math.Abs(TensorPrimitives.MinMagnitude(weight)) == 1f;

    /// <summary><see cref="BackwardOfSign"/> by table look-up, when it applies (see the type's remarks); false, having
    /// written nothing, when it does not.</summary>
    private static bool TryBackwardOfSignByLookup(in Conv2DGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight, T clip,
                                                  Span<T> gradInput, Span<T> gradWeight, bool accumulate)
    {
        if (!LookupApplies(g)) return false;
        ReadOnlySpan<float> filters = MemoryMarshal.Cast<T, float>(weight)[..g.WeightLength];
        if (!AllSigns(filters)) return false;
        BackwardOfSignByLookup(g, input, gradOutput, filters, clip, gradInput, gradWeight, accumulate);
        return true;
    }

    private static void BackwardOfSignByLookup(in Conv2DGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput, ReadOnlySpan<float> filters, T clip,
                                               Span<T> gradInput, Span<T> gradWeight, bool accumulate)
    {
        Conv2DGeometry geometry = g;
        bool needInput = !gradInput.IsEmpty, needWeight = !gradWeight.IsEmpty;
        int inC = g.InChannels, outC = g.OutChannels, weightLength = g.WeightLength;
        float bound = float.CreateTruncating(clip);
        byte[] patterns = needInput ? InputGradientPatterns(filters, outC, inC) : [];
        PartialSums partials = t_partials ??= new PartialSums();
        if (needWeight) partials.Prepare(KernelThreads.Count, weightLength);
        SimdPath path = Simd.Path;
        fixed (T* px = input, pdy = gradOutput, pdx = gradInput)
        {
            nint x = (nint)px, dy = (nint)pdy, dx = (nint)pdx;
            KernelThreads.For(g.Batch, 1, (first, end) =>
            {
                var pool = ScratchPool<float>.ThisThread;
                int height = geometry.OutHeight, width = geometry.OutWidth, group = StackedConv3x3.GroupSize(height, width);
                var full = new StackedConv3x3.Layout(Math.Min(group, end - first), height, width);
                int pixels = full.Images * height * width;
                float[] tables = pool.Rent(SignLookup.BlockGroups * SignLookup.TableLength + 16);
                float[] stackedY = needInput ? pool.Rent(outC * full.PlaneStride) : [];
                float[] result = needInput ? pool.Rent(inC * full.Positions + 16) : [];
                float[] transposed = needWeight ? pool.Rent(pixels * outC + 16) : [];
                float[] rowMajor = needWeight ? pool.Rent(weightLength + 16) : [], correction = needWeight ? pool.Rent(9 * outC) : [];
                ulong[] words = needWeight ? ScratchPool<ulong>.ThisThread.Rent(inC * full.Images * (height + 2)) : [];
                byte[] nibbles = needWeight ? ScratchPool<byte>.ThisThread.Rent(9 * SignBlockChannels * SignLookup.BlockGroups) : [];
                Span<int> xOffsets = stackalloc int[9], yShifts = stackalloc int[9];
                ReadOnlySpan<float> xs = MemoryMarshal.Cast<T, float>(Span(x, geometry.InputLength)), dys = MemoryMarshal.Cast<T, float>(Span(dy, geometry.OutputLength));
                fixed (float* ptables = tables, pstacked = stackedY, presult = result, ptransposed = transposed, prows = rowMajor, pcorr = correction)
                fixed (byte* ppatterns = patterns, pnibbles = nibbles)
                fixed (ulong* pwords = words)
                {
                    float* alignedTables = Align64(ptables), alignedResult = Align64(presult), alignedTransposed = Align64(ptransposed), alignedRows = Align64(prows);
                    if (needWeight)
                    {
                        new Span<float>(alignedRows, weightLength).Clear();
                        new Span<float>(pcorr, 9 * outC).Clear();
                    }
                    for (int n = first; n < end; n += group)
                    {
                        var layout = new StackedConv3x3.Layout(Math.Min(group, end - n), height, width);
                        if (needWeight)
                            WeightGradientByLookup(path, layout, dys[(n * geometry.OutputImageLength)..], xs[(n * geometry.InputImageLength)..], outC, inC,
                                alignedTransposed, pwords, pnibbles, alignedTables, alignedRows, pcorr);
                        if (!needInput) continue;
                        StackedConv3x3.Stack<float>(layout, dys[(n * geometry.OutputImageLength)..], geometry.OutputImageLength, outC, outC, stackedY);
                        StackedConv3x3.Stride1Offsets(layout.Pitch, xOffsets, yShifts);
                        CorrelateByLookup(path, layout, pstacked, outC, inC, ppatterns, alignedTables, alignedResult, yShifts);
                        Span<float> target = MemoryMarshal.Cast<T, float>(Span(dx, geometry.InputLength))[(n * geometry.InputImageLength)..];
                        StackedConv3x3.WriteUnstackedMasked<float>(layout, new ReadOnlySpan<float>(alignedResult, inC * layout.Positions), inC, target,
                            xs[(n * geometry.InputImageLength)..], geometry.InputImageLength, bound, accumulate);
                    }
                    if (needWeight)
                    {
                        // dW[o, c, t] = rows[(c·9 + t)·O + o] − corr[t, o], into this chunk's partial sums
                        Span<float> sums = MemoryMarshal.Cast<T, float>(partials.Take(first).AsSpan(0, weightLength));
                        for (int o = 0; o < outC; o++)
                            for (int c = 0; c < inC; c++)
                                for (int t = 0; t < 9; t++)
                                    sums[(o * inC + c) * 9 + t] = alignedRows[(c * 9 + t) * outC + o] - pcorr[t * outC + o];
                    }
                }
                pool.Return(tables);
                if (needInput)
                {
                    pool.Return(stackedY);
                    pool.Return(result);
                }
                if (needWeight)
                {
                    pool.Return(transposed);
                    pool.Return(rowMajor);
                    pool.Return(correction);
                    ScratchPool<ulong>.ThisThread.Return(words);
                    ScratchPool<byte>.ThisThread.Return(nibbles);
                }
            });
        }
        if (needInput) ScratchPool<byte>.ThisThread.Return(patterns);
        if (needWeight)
            for (int i = 0, count = partials.SortByImage(); i < count; i++)
                TensorPrimitives.Add(gradWeight[..weightLength], partials[i].AsSpan(0, weightLength), gradWeight[..weightLength]);
    }

    /// <summary>The input gradient's sign patterns, <c>[c][t·(O/4) + o/4]</c>: bit b set when W[o + b, c, t] = +1 (pooled
    /// array: return it to <see cref="ScratchPool{T}.ThisThread"/>).</summary>
    private static byte[] InputGradientPatterns(ReadOnlySpan<float> filters, int outC, int inC)
    {
        int groupsK = 9 * outC / 4;
        byte[] patterns = ScratchPool<byte>.ThisThread.Rent(inC * groupsK);
        for (int c = 0; c < inC; c++)
            for (int t = 0; t < 9; t++)
                for (int og = 0; og < outC / 4; og++)
                {
                    int bits = 0;
                    for (int b = 0; b < 4; b++) bits |= (filters[((og * 4 + b) * inC + c) * 9 + t] > 0 ? 1 : 0) << b;
                    patterns[c * groupsK + t * (outC / 4) + og] = (byte)bits;
                }
        return patterns;
    }

    /// <summary>True when the forward and the input gradient of a 3×3 stride-1 convolution take the look-up route
    /// (weights aside): float32, at least <see cref="LookupMinChannels"/> channels each way, the summed-over channels in
    /// fours (input channels for the forward, output channels for the input gradient).</summary>
    public static bool LookupAppliesToProduct(in Conv2DGeometry g, int summedChannels, int rowChannels) =>
        typeof(T) == typeof(float) && StackedConv3x3.Applies(g) && summedChannels >= LookupMinChannels && summedChannels % 4 == 0 && rowChannels >= LookupMinChannels;

    /// <summary>The forward <c>y = conv(x, W) + b</c> of a 3×3 stride-1 convolution with ±1 filters (a binary-weight,
    /// real-activation layer) by table look-up over the stacked x: one correlation (<see cref="CorrelateByLookup"/>) with
    /// rows the output channels; y = sum + b. False, having written nothing, when it does not apply.</summary>
    private static bool TryForwardByLookup(in Conv2DGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> output)
    {
        if (!LookupAppliesToProduct(g, g.InChannels, g.OutChannels)) return false;
        ReadOnlySpan<float> filters = MemoryMarshal.Cast<T, float>(weight)[..g.WeightLength];
        if (!AllSigns(filters)) return false;
        int inC = g.InChannels, outC = g.OutChannels, groupsK = 9 * inC / 4;
        // [o][t·(C/4) + c/4]: bit b set when W[o, c + b, t] = +1
        byte[] patterns = ScratchPool<byte>.ThisThread.Rent(outC * groupsK);
        for (int o = 0; o < outC; o++)
            for (int t = 0; t < 9; t++)
                for (int cg = 0; cg < inC / 4; cg++)
                {
                    int bits = 0;
                    for (int b = 0; b < 4; b++) bits |= (filters[(o * inC + cg * 4 + b) * 9 + t] > 0 ? 1 : 0) << b;
                    patterns[o * groupsK + t * (inC / 4) + cg] = (byte)bits;
                }
        fixed (T* px = input, pb = bias, py = output)
        fixed (byte* ppatterns = patterns)
            KernelThreads.For(g.Batch, 1, new LookupCorrelationBody(g, Simd.Path, forward: true, (float*)px, ppatterns, (float*)py, (float*)pb, bias.Length));
        ScratchPool<byte>.ThisThread.Return(patterns);
        return true;
    }

    /// <summary>Images [first, end) of <see cref="TryForwardByLookup"/> (<paramref name="forward"/>: planes x, rows the
    /// output channels, y = sum + b written) or <see cref="TryBackwardInputByLookup"/> (planes dY, rows the input
    /// channels, dx += sum), as a value so that a call allocates nothing.</summary>
    private readonly struct LookupCorrelationBody(Conv2DGeometry geometry, SimdPath path, bool forward, float* source, byte* patterns, float* target,
                                                  float* biases, int biasLength) : KernelThreads.IRangeBody
    {
        public void Run(int first, int end)
        {
            var pool = ScratchPool<float>.ThisThread;
            int planes = forward ? geometry.InChannels : geometry.OutChannels, rows = forward ? geometry.OutChannels : geometry.InChannels;
            int sourceImage = forward ? geometry.InputImageLength : geometry.OutputImageLength, targetImage = forward ? geometry.OutputImageLength : geometry.InputImageLength;
            int height = geometry.OutHeight, width = geometry.OutWidth, group = StackedConv3x3.GroupSize(height, width);
            var full = new StackedConv3x3.Layout(Math.Min(group, end - first), height, width);
            float[] tables = pool.Rent(SignLookup.BlockGroups * SignLookup.TableLength + 16), stacked = pool.Rent(planes * full.PlaneStride);
            float[] result = pool.Rent(rows * full.Positions + 16);
            Span<int> xOffsets = stackalloc int[9], yShifts = stackalloc int[9];
            var sources = new ReadOnlySpan<float>(source, geometry.Batch * sourceImage);
            fixed (float* ptables = tables, pstacked = stacked, presult = result)
            {
                float* alignedTables = Align64(ptables), alignedResult = Align64(presult);
                for (int n = first; n < end; n += group)
                {
                    var layout = new StackedConv3x3.Layout(Math.Min(group, end - n), height, width);
                    StackedConv3x3.Stack<float>(layout, sources[(n * sourceImage)..], sourceImage, planes, planes, stacked);
                    StackedConv3x3.Stride1Offsets(layout.Pitch, xOffsets, yShifts);
                    CorrelateByLookup(path, layout, pstacked, planes, rows, patterns, alignedTables, alignedResult, forward ? xOffsets : yShifts);
                    var sums = new ReadOnlySpan<float>(alignedResult, rows * layout.Positions);
                    var into = new Span<float>(target + n * targetImage, (end - n) * targetImage);
                    if (forward) StackedConv3x3.WriteUnstacked(layout, sums, rows, into, targetImage, new ReadOnlySpan<float>(biases, biasLength));
                    else StackedConv3x3.AddUnstacked<float>(layout, sums, rows, into, targetImage);
                }
            }
            pool.Return(tables);
            pool.Return(stacked);
            pool.Return(result);
        }
    }

    /// <summary>The input gradient <c>dx += convᵀ(dY, W)</c> of a 3×3 stride-1 convolution with ±1 filters by table
    /// look-up over the stacked dY (<see cref="CorrelateByLookup"/>, rows the input channels), added into dx. False,
    /// having written nothing, when it does not apply.</summary>
    private static bool TryBackwardInputByLookup(in Conv2DGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight, Span<T> gradInput)
    {
        if (!LookupAppliesToProduct(g, g.OutChannels, g.InChannels)) return false;
        ReadOnlySpan<float> filters = MemoryMarshal.Cast<T, float>(weight)[..g.WeightLength];
        if (!AllSigns(filters)) return false;
        BackwardInputByLookup(g, gradOutput, filters, gradInput);
        return true;
    }

    private static void BackwardInputByLookup(in Conv2DGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<float> filters, Span<T> gradInput)
    {
        byte[] patterns = InputGradientPatterns(filters, g.OutChannels, g.InChannels);
        fixed (T* pdy = gradOutput, pdx = gradInput)
        fixed (byte* ppatterns = patterns)
            KernelThreads.For(g.Batch, 1, new LookupCorrelationBody(g, Simd.Path, forward: false, (float*)pdy, ppatterns, (float*)pdx, null, 0));
        ScratchPool<byte>.ThisThread.Return(patterns);
    }

    /// <summary>At most this many input channels per block of weight-gradient rows (9 rows each): the rows' sign patterns
    /// for a block of pixels are gathered once, and every output block's tables serve them.</summary>
    private const int SignBlockChannels = 64;

    /// <summary>Input channels per block of weight-gradient rows for <paramref name="outC"/> output channels: the block's
    /// sums (9 · channels · C_out floats) are read and written for every 16 tables, so they are kept to about 512 KB, in
    /// L2 (64 channels at C_out = 128, 56 at 256, 28 at 512; at 512 the 64-channel block's 1.2 MB streamed from L3:
    /// the 512→512 8×8 weight gradient 39.6 → 28.8 ms in SignLookupBenchmarks).</summary>
    private static int SignChannelsPerBlock(int outC) => Math.Clamp(524288 / (36 * outC), 16, SignBlockChannels);

    private static float* Align64(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    /// <summary><c>result[r][k] = Σ_{p,t} S[r, p, t] · Z_p[k + shift_t]</c> for k &lt; Positions over stacked planes Z
    /// (<paramref name="planes"/>, a multiple of 4), S the ±1 patterns <c>patterns[r·K + t·planes/4 + p/4]</c>: tables of
    /// four planes shifted by one tap over 32 positions, one look-up per row. The input gradient (Z = dY, rows the
    /// input channels, the filters rotated by the shifts) and the forward (Z = x, rows the output channels). The last
    /// position block overlaps the one before when Positions is not a multiple of 32: it computes the same sums again.</summary>
    private static void CorrelateByLookup(SimdPath path, in StackedConv3x3.Layout layout, float* stacked, int planes, int rows, byte* patterns,
                                          float* tables, float* result, ReadOnlySpan<int> shifts)
    {
        int positions = layout.Positions, stride = layout.PlaneStride, quads = planes / 4, groupsK = 9 * quads;
        for (int q = 0; ; q += SignLookup.Width)
        {
            int start = Math.Min(q, positions - SignLookup.Width);
            for (int kb = 0; kb < groupsK; kb += SignLookup.BlockGroups)
            {
                int count = Math.Min(SignLookup.BlockGroups, groupsK - kb);
                for (int i = 0; i < count; i++)
                {
                    int k = kb + i, t = k / quads, o = k % quads * 4;
                    float* f = stacked + o * stride + start + shifts[t];
                    SignLookup.Build(path, f, f + stride, f + 2 * stride, f + 3 * stride, tables + i * SignLookup.TableLength);
                }
                SignLookup.Accumulate(path, tables, count, patterns + kb, groupsK, result + start, positions, rows, fromZero: kb == 0);
            }
            if (start + SignLookup.Width >= positions) break;
        }
    }

    /// <summary>dY pixel-major per block of 32 output channels, <c>transposed[(ob·pixels + p)·32 + o % 32]</c>, and
    /// the padding correction <c>correction[t·O + o] += Σ dY[o, pixel]</c> over the pixels whose tap t falls outside.</summary>
    private static void TransposeWithCorrection(ReadOnlySpan<float> gradOutput, int images, int outC, int height, int width, float* transposed, float* correction)
    {
        int plane = height * width, pixels = images * plane;
        fixed (float* pdy = gradOutput)
            for (int img = 0; img < images; img++)
            {
                for (int ob = 0; ob < outC; ob += SignLookup.Width)
                {
                    float* source = pdy + (img * outC + ob) * plane;
                    float* into = transposed + (ob * pixels + img * plane * SignLookup.Width);
                    for (int p = 0; p < plane; p++, into += SignLookup.Width)
                        for (int o = 0; o < SignLookup.Width; o++) into[o] = source[o * plane + p];
                }
                for (int o = 0; o < outC; o++)
                {
                    float* source = pdy + (img * outC + o) * plane;
                    for (int t = 0; t < 9; t++)
                    {
                        if (t == 4) continue;
                        int i = t / 3, j = t % 3;
                        float sum = correction[t * outC + o];
                        for (int y = 0; y < height; y++)
                        {
                            int row = y + i - 1;
                            if (row < 0 || row >= height)
                                for (int x = 0; x < width; x++) sum += source[y * width + x];
                            else if (j == 0) sum += source[y * width];
                            else if (j == 2) sum += source[y * width + width - 1];
                        }
                        correction[t * outC + o] = sum;
                    }
                }
            }
    }

    /// <summary>Sign words per (c, image, line): lines 0 and H + 1 are the padding rows (all +1); line y + 1 has bit 0
    /// and bit W + 1 set (the padding columns) and bit x + 1 = 1[x[c, y, x] ≥ 0] (NaN → 0, as the bit packer).</summary>
    private static void SignWords(ReadOnlySpan<float> input, int images, int inC, int height, int width, ulong* words)
    {
        int plane = height * width, lines = height + 2;
        ulong padding = 1UL | 1UL << (width + 1);
        fixed (float* px = input)
            for (int c = 0; c < inC; c++)
                for (int img = 0; img < images; img++)
                {
                    ulong* line = words + (c * images + img) * lines;
                    float* source = px + (img * inC + c) * plane;
                    line[0] = line[height + 1] = ulong.MaxValue;
                    for (int y = 0; y < height; y++, source += width)
                    {
                        ulong bits = 0;
                        int x = 0;
                        if (Simd.Path != SimdPath.Scalar)
                            for (; x + 8 <= width; x += 8)
                                bits |= (ulong)Vector256.GreaterThanOrEqual(Vector256.Load(source + x), Vector256<float>.Zero).ExtractMostSignificantBits() << x;
                        for (; x < width; x++)
                            if (source[x] >= 0) bits |= 1UL << x;
                        line[y + 1] = padding | bits << 1;
                    }
                }
    }

    /// <summary>The sign pattern of row (c, i, j), c in the block, for each pixel group gi of the block:
    /// bits x0 + j … x0 + j + 3 of line y + i (columns x0 + j − 1 … x0 + j + 2 of row y + i − 1).</summary>
    private static void Nibbles(ulong* words, int images, int lines, int plane, int width, int firstChannel, int channels, int firstGroup, int groups, byte* nibbles)
    {
        for (int gi = 0; gi < groups; gi++)
        {
            int p0 = 4 * (firstGroup + gi), img = p0 / plane, y = p0 % plane / width, x0 = p0 % width;
            for (int c = 0; c < channels; c++)
            {
                ulong* line = words + ((firstChannel + c) * images + img) * lines + y;
                byte* into = nibbles + c * 9 * SignLookup.BlockGroups + gi;
                for (int i = 0; i < 3; i++)
                {
                    ulong word = line[i] >> x0;
                    into[(3 * i) * SignLookup.BlockGroups] = (byte)(word & 15);
                    into[(3 * i + 1) * SignLookup.BlockGroups] = (byte)(word >> 1 & 15);
                    into[(3 * i + 2) * SignLookup.BlockGroups] = (byte)(word >> 2 & 15);
                }
            }
        }
    }

    /// <summary>Adds the look-up sums <c>Σ dY[o, pixel] · s</c> into <paramref name="rows"/> [(c·9 + t)·O + o] and the
    /// padding correction into <paramref name="correction"/> [t·O + o] for the layout's images (see the remarks).</summary>
    private static void WeightGradientByLookup(SimdPath path, in StackedConv3x3.Layout layout, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> input,
                                               int outC, int inC, float* transposed, ulong* words, byte* nibbles, float* tables, float* rows, float* correction)
    {
        int images = layout.Images, height = layout.Height, width = layout.Width, plane = height * width, pixels = images * plane;
        int outBlocks = outC / SignLookup.Width, lines = height + 2;
        TransposeWithCorrection(gradOutput, images, outC, height, width, transposed, correction);
        SignWords(input, images, inC, height, width, words);
        int quads = pixels / 4;
        int perBlock = SignChannelsPerBlock(outC);
        for (int cb = 0; cb < inC; cb += perBlock)
        {
            int channels = Math.Min(perBlock, inC - cb), count9 = 9 * channels;
            for (int pb = 0; pb < quads; pb += SignLookup.BlockGroups)
            {
                int groups = Math.Min(SignLookup.BlockGroups, quads - pb);
                Nibbles(words, images, lines, plane, width, cb, channels, pb, groups, nibbles);
                for (int ob = 0; ob < outBlocks; ob++)
                {
                    float* block = transposed + (ob * pixels + 4 * pb) * SignLookup.Width;
                    for (int gi = 0; gi < groups; gi++)
                    {
                        float* f = block + 4 * gi * SignLookup.Width;
                        SignLookup.Build(path, f, f + SignLookup.Width, f + 2 * SignLookup.Width, f + 3 * SignLookup.Width, tables + gi * SignLookup.TableLength);
                    }
                    SignLookup.Accumulate(path, tables, groups, nibbles, SignLookup.BlockGroups, rows + cb * 9 * outC + ob * SignLookup.Width, outC, count9, fromZero: false);
                }
            }
        }
    }
}
