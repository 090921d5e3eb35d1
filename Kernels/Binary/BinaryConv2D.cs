using System.Buffers;
using System.Runtime.CompilerServices;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BinaryGrad.Kernels.Binary;

/// <summary>2-D convolution of ±1 activations with ±1 filters by XNOR-popcount, equal <b>exactly</b> to the float
/// convolution of the same ±1 tensors with zero padding (a padded position contributes 0, not ±1).</summary>
/// <remarks>
/// <para><b>Layouts.</b> Input: channels-last packed activations
/// (<see cref="BitPack.PackChannelsLast(ReadOnlySpan{float}, Span{ulong}, int, int, int, int)"/>).
/// Weights: [OutChannels][KernelHeight][KernelWidth][WordsPerPixel(InChannels)] words, each filter padded with
/// zero words to <see cref="BinaryConv2DShape.WeightWordsPerFilter"/> (<see cref="PackWeights"/>).</para>
/// <para><b>Formula.</b> For output (n, o, y, x) let T be the taps (ky, kx) whose input pixel lies inside the image.
/// Each valid tap contributes the ±1 dot of C channels, so
/// <c>dot = |T|·C − 2·Σ_{t∈T} popcount(x_t XOR w_{o,t})</c>; padded taps contribute nothing.
/// The vector paths convolve directly over a zero-padded copy of each image with the filters in vector lanes
/// (<c>RunDirect</c>, <see cref="FilterLanes"/>); the scalar path gathers every tap of the receptive field into
/// one aligned row (im2col), padded taps as zero words, and runs <see cref="BinaryGemm"/>'s blocked popcnt kernel
/// over all taps. Either way padded taps are zero words, and a zero word XOR the filter counts
/// <c>popcount(w_{o,t})</c> mismatches, so the valid-tap count is recovered as
/// <c>mismatches − Σ_{t∉T} popcount(w_{o,t})</c>; that sum is a rectangle query on per-filter 2-D prefix sums of
/// the tap popcounts (O(1) per output), and is skipped for interior positions where T is every tap.</para>
/// <para><b>Epilogues.</b> int dots (NCHW); <c>scale[o]·dot + bias[o]</c> as float NCHW (batch norm folded into
/// a per-channel affine map); or the sign of that value (≥ 0 ⇒ +1) packed channels-last as the next layer's input,
/// so a chain of binary layers never unpacks to float. The sign is taken of the very float the float epilogue
/// writes (not of an integer threshold <c>dot ≥ ⌈−bias/scale⌉</c>, whose direction flips for negative scales and
/// whose rounding could differ from the float expression at ties), so the two outputs always agree.</para>
/// </remarks>
public static unsafe partial class BinaryConv2D
{
    /// <summary>Output pixels per im2col tile: 32 rows of ≤ a few hundred bytes stay in L1 while the filters
    /// stream past them.</summary>
    private const int PixelsPerTile = 32;

    /// <summary>Packs float filters [OutChannels][InChannels][KernelHeight][KernelWidth] (OIHW) into the weight layout
    /// (bit = 1 for w ≥ 0), padding words zero.</summary>
    public static void PackWeights(ReadOnlySpan<float> weights, Span<ulong> packed, in BinaryConv2DShape shape)
    {
        shape.Validate();
        int taps = shape.KernelHeight * shape.KernelWidth, wpp = BitPack.WordsPerPixel(shape.InChannels), row = shape.WeightWordsPerFilter;
        BitPack.CheckLength(weights.Length, (long)shape.OutChannels * shape.InChannels * taps, nameof(weights));
        BitPack.CheckLength(packed.Length, (long)shape.OutChannels * row, nameof(packed));
        packed[..(shape.OutChannels * row)].Clear();
        for (int o = 0; o < shape.OutChannels; o++)
            for (int c = 0; c < shape.InChannels; c++)
                for (int t = 0; t < taps; t++)
                    if (weights[(o * shape.InChannels + c) * taps + t] >= 0f)
                        packed[o * row + t * wpp + (c >> 6)] |= 1UL << (c & 63);
    }

    /// <summary>Integer dots, NCHW [Batch][OutChannels][OutHeight][OutWidth]: <c>dot = |T|·C − 2·Σ_T popcount(x XOR w)</c>.</summary>
    /// <exception cref="ArgumentException">A span is too short, or the shape is invalid.</exception>
    public static void Forward(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<int> output, in BinaryConv2DShape shape)
    {
        Validate(input, weights, shape);
        BitPack.CheckLength(output.Length, shape.OutputCount, nameof(output));
        fixed (int* o = output) Run(input, weights, shape, new IntOutput(o, Simd.Path != SimdPath.Scalar), null, null);
    }

    /// <summary>Fused folded batch norm: <c>y[n,o,y,x] = scale[o]·dot + bias[o]</c>, float NCHW.</summary>
    /// <exception cref="ArgumentException">A span is too short, or the shape is invalid.</exception>
    public static void Forward(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<float> output, in BinaryConv2DShape shape,
                               ReadOnlySpan<float> scale, ReadOnlySpan<float> bias)
    {
        Validate(input, weights, shape, scale, bias);
        BitPack.CheckLength(output.Length, shape.OutputCount, nameof(output));
        fixed (float* o = output, s = scale, b = bias) Run(input, weights, shape, new AffineOutput(o, Simd.Path != SimdPath.Scalar), s, b);
    }

    /// <summary>Binary layer output: bit o of output pixel (n, y, x) is <c>scale[o]·dot + bias[o] ≥ 0</c>, packed
    /// channels-last [Batch][OutHeight][OutWidth][WordsPerPixel(OutChannels)] with zero padding bits: exactly what
    /// <see cref="BitPack.PackChannelsLast(ReadOnlySpan{float}, Span{ulong}, int, int, int, int)"/> makes of the float output.</summary>
    /// <exception cref="ArgumentException">A span is too short, or the shape is invalid.</exception>
    public static void ForwardPackedSign(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<ulong> output, in BinaryConv2DShape shape,
                                         ReadOnlySpan<float> scale, ReadOnlySpan<float> bias)
    {
        Validate(input, weights, shape, scale, bias);
        BitPack.CheckLength(output.Length, shape.PackedOutputWords, nameof(output));
        fixed (ulong* o = output)
        fixed (float* s = scale, b = bias) Run(input, weights, shape, new PackedSignOutput(o, Simd.Path != SimdPath.Scalar), s, b);
    }

    /// <summary>The specification: for every output, the formula over the valid taps only, one popcount per word.</summary>
    internal static void Reference(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<int> output, in BinaryConv2DShape s)
    {
        int wpp = BitPack.WordsPerPixel(s.InChannels), row = s.WeightWordsPerFilter, oh = s.OutHeight, ow = s.OutWidth;
        for (int n = 0; n < s.Batch; n++)
            for (int o = 0; o < s.OutChannels; o++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                    {
                        int dot = 0;
                        for (int ky = 0; ky < s.KernelHeight; ky++)
                            for (int kx = 0; kx < s.KernelWidth; kx++)
                            {
                                int iy = y * s.Stride - s.Padding + ky, ix = x * s.Stride - s.Padding + kx;
                                if (iy < 0 || iy >= s.Height || ix < 0 || ix >= s.Width) continue; // zero padding
                                int mismatches = 0;
                                for (int w = 0; w < wpp; w++)
                                    mismatches += BitOperations.PopCount(input[((n * s.Height + iy) * s.Width + ix) * wpp + w] ^
                                                                         weights[o * row + (ky * s.KernelWidth + kx) * wpp + w]);
                                dot += s.InChannels - 2 * mismatches;
                            }
                        output[((n * s.OutChannels + o) * oh + y) * ow + x] = dot;
                    }
    }

    private static void Validate(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, in BinaryConv2DShape shape)
    {
        shape.Validate();
        BitPack.CheckLength(input.Length, shape.InputWords, nameof(input));
        BitPack.CheckLength(weights.Length, (long)shape.OutChannels * shape.WeightWordsPerFilter, nameof(weights));
    }

    private static void Validate(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, in BinaryConv2DShape shape,
                                 ReadOnlySpan<float> scale, ReadOnlySpan<float> bias)
    {
        Validate(input, weights, shape);
        BitPack.CheckLength(scale.Length, shape.OutChannels, nameof(scale));
        BitPack.CheckLength(bias.Length, shape.OutChannels, nameof(bias));
    }

    /// <summary>Writes the dots of a tile of output pixels [<c>first</c>, <c>first + rows</c>) (flattened over
    /// batch and space), <c>dots[r·OutChannels + o]</c>.</summary>
    private interface ITileOutput
    {
        void Store(in BinaryConv2DShape shape, int first, int rows, int* dots, int ld, float* scale, float* bias);
    }

    /// <summary>NCHW stores channel by channel over the tile's pixels of one image, so consecutive stores are
    /// consecutive addresses (a pixel at a time would stride a whole plane between stores). On the vector paths
    /// 8 pixels × 8 channels of the pixel-major tile are transposed in registers (<see cref="Transpose8x8"/>) and
    /// stored as 8 runs of 8 ints; the scalar loop copies the rest.</summary>
    private readonly struct IntOutput(int* output, bool vectorized) : ITileOutput
    {
        public void Store(in BinaryConv2DShape s, int first, int rows, int* dots, int ld, float* scale, float* bias)
        {
            int plane = s.OutHeight * s.OutWidth, channels = s.OutChannels;
            for (int r0 = 0; r0 < rows;)
            {
                int image = (first + r0) / plane, pixel = (first + r0) % plane, run = Math.Min(rows - r0, plane - pixel);
                int* plane0 = output + (nint)image * channels * plane + pixel;
                int o = 0;
                for (; vectorized && o + 8 <= channels; o += 8)
                {
                    int r = 0;
                    for (; r + 8 <= run; r += 8)
                    {
                        Transpose8x8(dots + (nint)(r0 + r) * ld + o, ld, new IntColumns(plane0 + (nint)o * plane + r, plane));
                    }
                    for (int c = 0; c < 8; c++)
                        for (int rr = r; rr < run; rr++) plane0[(nint)(o + c) * plane + rr] = dots[(nint)(r0 + rr) * ld + o + c];
                }
                for (; o < channels; o++)
                {
                    int* dst = plane0 + (nint)o * plane;
                    int* src = dots + (nint)r0 * ld + o;
                    for (int r = 0; r < run; r++) dst[r] = src[(nint)r * ld];
                }
                r0 += run;
            }
        }
    }

    /// <summary><c>scale[o]·dot + bias[o]</c> to NCHW, stored as <see cref="IntOutput"/> does; the vector form
    /// multiplies then adds (two roundings, never fused), the same float as the scalar expression.</summary>
    private readonly struct AffineOutput(float* output, bool vectorized) : ITileOutput
    {
        public void Store(in BinaryConv2DShape s, int first, int rows, int* dots, int ld, float* scale, float* bias)
        {
            int plane = s.OutHeight * s.OutWidth, channels = s.OutChannels;
            for (int r0 = 0; r0 < rows;)
            {
                int image = (first + r0) / plane, pixel = (first + r0) % plane, run = Math.Min(rows - r0, plane - pixel);
                float* plane0 = output + (nint)image * channels * plane + pixel;
                int o = 0;
                for (; vectorized && o + 8 <= channels; o += 8)
                {
                    int r = 0;
                    for (; r + 8 <= run; r += 8)
                    {
                        Transpose8x8(dots + (nint)(r0 + r) * ld + o, ld, new AffineColumns(plane0 + (nint)o * plane + r, plane, scale + o, bias + o));
                    }
                    for (int c = 0; c < 8; c++)
                        for (int rr = r; rr < run; rr++)
                            plane0[(nint)(o + c) * plane + rr] = scale[o + c] * (float)dots[(nint)(r0 + rr) * ld + o + c] + bias[o + c];
                }
                for (; o < channels; o++)
                {
                    float* dst = plane0 + (nint)o * plane;
                    int* src = dots + (nint)r0 * ld + o;
                    float scaleO = scale[o], biasO = bias[o];
                    for (int r = 0; r < run; r++) dst[r] = scaleO * (float)src[(nint)r * ld] + biasO;
                }
                r0 += run;
            }
        }
    }

    /// <summary>Transposes the 8×8 int block at <paramref name="source"/> (row stride <paramref name="ld"/>) and hands
    /// column c (<c>column[r] = source[r·ld + c]</c>) to <paramref name="sink"/>. Three rounds of AVX2 unpacks and lane
    /// permutes (24 shuffles for 64 values); without AVX2 a plain gather. Inlined with the sink (a struct), so the
    /// columns stay in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8<TSink>(int* source, int ld, TSink sink) where TSink : struct, IColumnSink
    {
        if (!Avx2.IsSupported)
        {
            for (int c = 0; c < 8; c++)
                sink.Column(c, Vector256.Create(source[c], source[ld + c], source[2 * ld + c], source[3 * ld + c],
                                                source[4 * ld + c], source[5 * ld + c], source[6 * ld + c], source[7 * ld + c]));
            return;
        }
        Vector256<int> r0 = Vector256.Load(source), r1 = Vector256.Load(source + ld), r2 = Vector256.Load(source + 2 * ld), r3 = Vector256.Load(source + 3 * ld);
        Vector256<int> r4 = Vector256.Load(source + 4 * ld), r5 = Vector256.Load(source + 5 * ld), r6 = Vector256.Load(source + 6 * ld), r7 = Vector256.Load(source + 7 * ld);
        // per 128-bit lane: pairs of rows interleaved, then quads; finally the lanes of rows 0-3 and 4-7 joined
        Vector256<int> t0 = Avx2.UnpackLow(r0, r1), t1 = Avx2.UnpackHigh(r0, r1), t2 = Avx2.UnpackLow(r2, r3), t3 = Avx2.UnpackHigh(r2, r3);
        Vector256<int> t4 = Avx2.UnpackLow(r4, r5), t5 = Avx2.UnpackHigh(r4, r5), t6 = Avx2.UnpackLow(r6, r7), t7 = Avx2.UnpackHigh(r6, r7);
        Vector256<int> u0 = Avx2.UnpackLow(t0.AsInt64(), t2.AsInt64()).AsInt32(), u1 = Avx2.UnpackHigh(t0.AsInt64(), t2.AsInt64()).AsInt32();
        Vector256<int> u2 = Avx2.UnpackLow(t1.AsInt64(), t3.AsInt64()).AsInt32(), u3 = Avx2.UnpackHigh(t1.AsInt64(), t3.AsInt64()).AsInt32();
        Vector256<int> u4 = Avx2.UnpackLow(t4.AsInt64(), t6.AsInt64()).AsInt32(), u5 = Avx2.UnpackHigh(t4.AsInt64(), t6.AsInt64()).AsInt32();
        Vector256<int> u6 = Avx2.UnpackLow(t5.AsInt64(), t7.AsInt64()).AsInt32(), u7 = Avx2.UnpackHigh(t5.AsInt64(), t7.AsInt64()).AsInt32();
        sink.Column(0, Avx2.Permute2x128(u0, u4, 0x20));
        sink.Column(1, Avx2.Permute2x128(u1, u5, 0x20));
        sink.Column(2, Avx2.Permute2x128(u2, u6, 0x20));
        sink.Column(3, Avx2.Permute2x128(u3, u7, 0x20));
        sink.Column(4, Avx2.Permute2x128(u0, u4, 0x31));
        sink.Column(5, Avx2.Permute2x128(u1, u5, 0x31));
        sink.Column(6, Avx2.Permute2x128(u2, u6, 0x31));
        sink.Column(7, Avx2.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>Receives the columns of <see cref="Transpose8x8"/>.</summary>
    private interface IColumnSink
    {
        void Column(int c, Vector256<int> column);
    }

    /// <summary>Column c to <c>destination + c·stride</c>, as ints.</summary>
    private readonly struct IntColumns(int* destination, int stride) : IColumnSink
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Column(int c, Vector256<int> column) => column.Store(destination + (nint)c * stride);
    }

    /// <summary>Column c as <c>scale[c]·column + bias[c]</c> (multiply then add, two roundings) to
    /// <c>destination + c·stride</c>.</summary>
    private readonly struct AffineColumns(float* destination, int stride, float* scale, float* bias) : IColumnSink
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Column(int c, Vector256<int> column) =>
            Vector256.Add(Vector256.Multiply(Vector256.Create(scale[c]), Vector256.ConvertToSingle(column)), Vector256.Create(bias[c]))
                     .Store(destination + (nint)c * stride);
    }

    /// <summary>Sign bits of <c>scale·dot + bias</c>, 8 channels per compare on the vector paths. Both forms are
    /// branch-free: the signs are data, and a branch per channel mispredicted half the time.</summary>
    private readonly struct PackedSignOutput(ulong* output, bool vectorized) : ITileOutput
    {
        public void Store(in BinaryConv2DShape s, int first, int rows, int* dots, int ld, float* scale, float* bias)
        {
            for (int r = 0; r < rows; r++) StorePixel(s, first + r, dots + (nint)r * ld, scale, bias);
        }

        private void StorePixel(in BinaryConv2DShape s, int outputPixel, int* dots, float* scale, float* bias)
        {
            int wpp = BitPack.WordsPerPixel(s.OutChannels);
            ulong* dst = output + (nint)outputPixel * wpp; // [N][OH][OW] flattened is the output pixel index
            for (int w = 0; w < wpp; w++)
            {
                ulong word = 0;
                int o = w * 64, end = Math.Min(s.OutChannels, o + 64);
                for (; vectorized && o + 8 <= end; o += 8)
                {
                    // multiply then add, as two roundings: the same float as the scalar expression below
                    Vector256<float> y = Vector256.Multiply(Vector256.Load(scale + o), Vector256.ConvertToSingle(Vector256.Load(dots + o)));
                    y = Vector256.Add(y, Vector256.Load(bias + o));
                    word |= (ulong)Vector256.GreaterThanOrEqual(y, Vector256<float>.Zero).ExtractMostSignificantBits() << (o & 63);
                }
                for (; o < end; o++) word |= (ulong)(scale[o] * (float)dots[o] + bias[o] >= 0f ? 1 : 0) << (o & 63);
                dst[w] = word;
            }
        }
    }

    private static void Run<TOutput>(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, BinaryConv2DShape s,
                                     TOutput output, float* scale, float* bias)
        where TOutput : struct, ITileOutput
    {
        int pixels = s.OutHeight * s.OutWidth, outputPixels = s.Batch * pixels;
        if (outputPixels == 0) return;
        int prefixStride = (s.KernelHeight + 1) * (s.KernelWidth + 1);
        int[] tapPrefix = ArrayPool<int>.Shared.Rent(s.OutChannels * prefixStride);
        try
        {
            BuildTapPopcountPrefixSums(weights, s, tapPrefix);
            SimdPath path = Simd.Path;
            if (path == SimdPath.Vector256)
            {
                RunDirect<FilterLanes.Kernel256, TOutput>(input, weights, s, output, scale, bias, tapPrefix);
                return;
            }
            if (path == SimdPath.Vector512)
            {
                RunDirect<FilterLanes.KernelCsa512, TOutput>(input, weights, s, output, scale, bias, tapPrefix);
                return;
            }
            fixed (ulong* pin = input, pw = weights)
            fixed (int* pp = tapPrefix)
            {
                nint inputAddress = (nint)pin, weightAddress = (nint)pw, prefixAddress = (nint)pp;
                nint scaleAddress = (nint)scale, biasAddress = (nint)bias;
                KernelThreads.For(outputPixels, PixelsPerTile, (start, end) =>
                    RunTiles((ulong*)inputAddress, (ulong*)weightAddress, (int*)prefixAddress, s, output,
                             (float*)scaleAddress, (float*)biasAddress, start, end, path));
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(tapPrefix);
        }
    }

    /// <summary><c>prefix[o][y][x] = Σ_{ky&lt;y, kx&lt;x} popcount(w_{o,ky,kx})</c>, so the popcount of any rectangle of
    /// taps is four lookups.</summary>
    private static void BuildTapPopcountPrefixSums(ReadOnlySpan<ulong> weights, in BinaryConv2DShape s, Span<int> prefix)
    {
        int wpp = BitPack.WordsPerPixel(s.InChannels), row = s.WeightWordsPerFilter, pw = s.KernelWidth + 1;
        int prefixStride = (s.KernelHeight + 1) * pw;
        for (int o = 0; o < s.OutChannels; o++)
        {
            Span<int> p = prefix.Slice(o * prefixStride, prefixStride);
            p[..pw].Clear();
            for (int ky = 0; ky < s.KernelHeight; ky++)
            {
                p[(ky + 1) * pw] = 0;
                int rowSum = 0;
                for (int kx = 0; kx < s.KernelWidth; kx++)
                {
                    int tap = 0;
                    foreach (ulong word in weights.Slice(o * row + (ky * s.KernelWidth + kx) * wpp, wpp)) tap += BitOperations.PopCount(word);
                    rowSum += tap;
                    p[(ky + 1) * pw + kx + 1] = p[ky * pw + kx + 1] + rowSum;
                }
            }
        }
    }

    /// <summary>Output pixels [start, end) in tiles: im2col the tile, count mismatches with the GEMM kernel against
    /// all filters, correct for padded taps, and hand each pixel's dots to the output.</summary>
    private static void RunTiles<TOutput>(ulong* input, ulong* weights, int* tapPrefix, in BinaryConv2DShape s, TOutput output,
                                          float* scale, float* bias, int start, int end, SimdPath path)
        where TOutput : struct, ITileOutput
    {
        int row = s.WeightWordsPerFilter, wpp = BitPack.WordsPerPixel(s.InChannels), ow = s.OutWidth, pixels = s.OutHeight * ow;
        int kh = s.KernelHeight, kw = s.KernelWidth, pw = kw + 1, prefixStride = (kh + 1) * pw;
        ulong[] patchArray = ArrayPool<ulong>.Shared.Rent(PixelsPerTile * row);
        int[] countArray = ArrayPool<int>.Shared.Rent(PixelsPerTile * s.OutChannels);
        fixed (ulong* patches = patchArray)
        fixed (int* counts = countArray)
        {
            for (int tile = start; tile < end; tile += PixelsPerTile)
            {
                int tileRows = Math.Min(PixelsPerTile, end - tile);
                for (int r = 0; r < tileRows; r++) GatherPatch(input, s, tile + r, patches + (nint)r * row);
                BinaryGemm.CountMismatches(patches, weights, 0, tileRows, s.OutChannels, row, path,
                                           new BinaryGemm.MismatchEpilogue(counts, s.OutChannels));
                for (int r = 0; r < tileRows; r++)
                {
                    int pixel = (tile + r) % pixels, y = pixel / ow, x = pixel % ow;
                    int ky0 = Math.Max(0, s.Padding - y * s.Stride), ky1 = Math.Min(kh, s.Height + s.Padding - y * s.Stride);
                    int kx0 = Math.Max(0, s.Padding - x * s.Stride), kx1 = Math.Min(kw, s.Width + s.Padding - x * s.Stride);
                    ky1 = Math.Max(ky0, ky1);
                    kx1 = Math.Max(kx0, kx1);
                    int validBits = (ky1 - ky0) * (kx1 - kx0) * s.InChannels;
                    bool interior = ky0 == 0 && kx0 == 0 && ky1 == kh && kx1 == kw;
                    int* dots = counts + (nint)r * s.OutChannels;
                    for (int o = 0; o < s.OutChannels; o++)
                    {
                        int mismatches = dots[o];
                        if (!interior)
                        {
                            int* p = tapPrefix + (nint)o * prefixStride;
                            int validTapPopcount = p[ky1 * pw + kx1] - p[ky0 * pw + kx1] - p[ky1 * pw + kx0] + p[ky0 * pw + kx0];
                            mismatches -= p[kh * pw + kw] - validTapPopcount; // zero words vs padded taps
                        }
                        dots[o] = validBits - 2 * mismatches;
                    }
                }
                output.Store(s, tile, tileRows, counts, s.OutChannels, scale, bias);
            }
        }
        ArrayPool<ulong>.Shared.Return(patchArray);
        ArrayPool<int>.Shared.Return(countArray);
    }

    /// <summary>Copies the receptive field of one output pixel into an aligned row, tap-major like the filters:
    /// padded taps and the row padding become zero words. Along a kernel row the taps are consecutive input pixels,
    /// so the valid ones are one contiguous copy whatever the stride.</summary>
    private static void GatherPatch(ulong* input, in BinaryConv2DShape s, int outputPixel, ulong* patch)
    {
        int wpp = BitPack.WordsPerPixel(s.InChannels), pixels = s.OutHeight * s.OutWidth, kw = s.KernelWidth;
        int image = outputPixel / pixels, pixel = outputPixel % pixels;
        int y0 = pixel / s.OutWidth * s.Stride - s.Padding, x0 = pixel % s.OutWidth * s.Stride - s.Padding;
        int kx0 = Math.Max(0, -x0), kx1 = Math.Max(kx0, Math.Min(kw, s.Width - x0));
        int tapRow = kw * wpp, validStart = kx0 * wpp, validEnd = kx1 * wpp;
        // Plain word loops: the runs are a few words long, too short for memmove's call to pay off.
        for (int ky = 0; ky < s.KernelHeight; ky++)
        {
            ulong* dst = patch + (nint)ky * tapRow;
            int iy = y0 + ky;
            if (iy < 0 || iy >= s.Height)
            {
                for (int i = 0; i < tapRow; i++) dst[i] = 0;
                continue;
            }
            ulong* src = input + (((nint)image * s.Height + iy) * s.Width + x0) * wpp; // the tap at kx = 0 (maybe outside)
            int i2 = 0;
            for (; i2 < validStart; i2++) dst[i2] = 0;
            for (; i2 < validEnd; i2++) dst[i2] = src[i2];
            for (; i2 < tapRow; i2++) dst[i2] = 0;
        }
        for (int i = s.KernelHeight * tapRow; i < s.WeightWordsPerFilter; i++) patch[i] = 0;
    }
}
