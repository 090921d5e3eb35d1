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
/// zero words to <see cref="XnorConv2DShape.WeightWordsPerFilter"/> (<see cref="PackWeights"/>).</para>
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
/// <para><b>Plans.</b> Every forward takes an optional <see cref="XnorConv2DPlan"/> (<see cref="Plan"/>): the filters
/// packed into the kernel's lanes, their tap popcounts and the border tables for one geometry, made once. Without one
/// (or with one for another path or image size) a call prepares them itself from the thread's pool.</para>
/// </remarks>
public static unsafe partial class XnorConv2D
{
    /// <summary>Output pixels per im2col tile: 32 rows of ≤ a few hundred bytes stay in L1 while the filters
    /// stream past them.</summary>
    private const int PixelsPerTile = 32;

    /// <summary>Packs float filters [OutChannels][InChannels][KernelHeight][KernelWidth] (OIHW) into the weight layout
    /// (bit = 1 for w ≥ 0), padding words zero.</summary>
    /// <remarks>A training step re-packs every binary layer's filters (ResNet-18: 11 M weights), so this is not a
    /// one-off: per filter and 64 input channels, each channel's k·k taps become one tap mask (one vector compare when
    /// they fit a vector), the 64 masks a 64×64 bit matrix (row = channel, bit = tap) whose transpose
    /// (<see cref="BitPack.Transpose64(Span{ulong})"/>) holds tap t's channel word in row t; filters are split across
    /// <see cref="KernelThreads"/> (disjoint words). The scalar path runs <see cref="PackWeightsReference"/>, one
    /// weight at a time.</remarks>
    public static void PackWeights(ReadOnlySpan<float> weights, Span<ulong> packed, in XnorConv2DShape shape)
    {
        shape.Validate();
        int taps = shape.KernelHeight * shape.KernelWidth, row = shape.WeightWordsPerFilter;
        BitPack.CheckLength(weights.Length, (long)shape.OutChannels * shape.InChannels * taps, nameof(weights));
        BitPack.CheckLength(packed.Length, (long)shape.OutChannels * row, nameof(packed));
        if (Simd.Path == SimdPath.Scalar || taps > 64)
        {
            PackWeightsReference(weights, packed, shape);
            return;
        }
        fixed (float* w = weights)
        fixed (ulong* p = packed)
            KernelThreads.For(shape.OutChannels, 1, new PackFiltersBody(w, (long)shape.OutChannels * shape.InChannels * taps, p, shape.InChannels, taps, row,
                Simd.Path == SimdPath.Vector512 && Vector512.IsHardwareAccelerated));
    }

    /// <summary>The specification of <see cref="PackWeights"/>: bit c % 64 of word <c>o·row + t·wpp + c / 64</c> is
    /// <c>w[o, c, t] ≥ 0</c> (NaN → 0), every other bit 0.</summary>
    internal static void PackWeightsReference(ReadOnlySpan<float> weights, Span<ulong> packed, in XnorConv2DShape shape)
    {
        int taps = shape.KernelHeight * shape.KernelWidth, wpp = BitPack.WordsPerPixel(shape.InChannels), row = shape.WeightWordsPerFilter;
        packed[..(shape.OutChannels * row)].Clear();
        for (int o = 0; o < shape.OutChannels; o++)
            for (int c = 0; c < shape.InChannels; c++)
                for (int t = 0; t < taps; t++)
                    if (weights[(o * shape.InChannels + c) * taps + t] >= 0f)
                        packed[o * row + t * wpp + (c >> 6)] |= 1UL << (c & 63);
    }

    /// <summary>Filters [first, end) of <see cref="PackWeights"/>, as a value so that a call allocates nothing.</summary>
    private readonly struct PackFiltersBody(float* weights, long length, ulong* packed, int inChannels, int taps, int row, bool vector512) : KernelThreads.IRangeBody
    {
        public void Run(int first, int end)
        {
            int wpp = BitPack.WordsPerPixel(inChannels);
            ulong* block = stackalloc ulong[64];
            ulong tapBits = taps == 64 ? ulong.MaxValue : (1UL << taps) - 1;
            for (int o = first; o < end; o++)
            {
                ulong* filter = packed + (nint)o * row;
                new Span<ulong>(filter, row).Clear();
                for (int w = 0; w < wpp; w++)
                {
                    int c0 = 64 * w, count = Math.Min(64, inChannels - c0);
                    for (int c = 0; c < count; c++)
                    {
                        long at = ((long)o * inChannels + c0 + c) * taps;
                        float* f = weights + at;
                        if (vector512 && taps <= 16 && at + 16 <= length)
                            block[c] = Vector512.GreaterThanOrEqual(Vector512.Load(f), Vector512<float>.Zero).ExtractMostSignificantBits() & tapBits;
                        else
                        {
                            ulong mask = 0;
                            for (int t = 0; t < taps; t++)
                                if (f[t] >= 0f) mask |= 1UL << t;
                            block[c] = mask;
                        }
                    }
                    for (int c = count; c < 64; c++) block[c] = 0;
                    if (vector512) BitPack.Transpose64Vector512(block); else BitPack.Transpose64(block);
                    for (int t = 0; t < taps; t++) filter[t * wpp + w] = block[t];
                }
            }
        }
    }

    /// <summary>Integer dots, NCHW [Batch][OutChannels][OutHeight][OutWidth]: <c>dot = |T|·C − 2·Σ_T popcount(x XOR w)</c>.</summary>
    /// <exception cref="ArgumentException">A span is too short, or the shape is invalid.</exception>
    public static void Forward(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<int> output, in XnorConv2DShape shape, XnorConv2DPlan? plan = null)
    {
        Validate(input, weights, shape);
        BitPack.CheckLength(output.Length, shape.OutputCount, nameof(output));
        fixed (int* o = output) Run(input, weights, shape, new IntOutput(o, Simd.Path != SimdPath.Scalar), null, null, plan);
    }

    /// <summary>Fused folded batch norm: <c>y[n,o,y,x] = scale[o]·dot + bias[o]</c>, float NCHW.</summary>
    /// <exception cref="ArgumentException">A span is too short, or the shape is invalid.</exception>
    public static void Forward(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<float> output, in XnorConv2DShape shape,
                               ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, XnorConv2DPlan? plan = null)
    {
        Validate(input, weights, shape, scale, bias);
        BitPack.CheckLength(output.Length, shape.OutputCount, nameof(output));
        fixed (float* o = output, s = scale, b = bias) Run(input, weights, shape, new AffineOutput(o, Simd.Path != SimdPath.Scalar), s, b, plan);
    }

    /// <summary>The convolution, a 2×2 max-pool of stride 2 and a folded batch norm in one pass:
    /// <c>y[n,o,py,px] = fl(fl(scale[o]·m) + bias[o])</c> with m the largest of the four dots of window (py, px), float
    /// NCHW [Batch][OutChannels][OutHeight/2][OutWidth/2]. This is MaxPool2d(2) then BatchNorm2d's evaluation (multiply,
    /// round, add, round: its form on maps larger than 1×1; on 1×1 maps it is one fma, which this store does not do) on
    /// the float dots bit for bit, since the int → float conversion of a dot (|dot| &lt; 2²⁴) is exact
    /// and monotone, so it commutes with the max; the full-size map is never written.</summary>
    /// <exception cref="ArgumentException">A span is too short, the output size is odd, or the shape is invalid.</exception>
    public static void ForwardMaxPool2Affine(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<float> output, in XnorConv2DShape shape,
                                             ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, XnorConv2DPlan? plan = null)
    {
        Validate(input, weights, shape, scale, bias);
        if (shape.OutHeight % 2 != 0 || shape.OutWidth % 2 != 0)
            throw new ArgumentException($"XnorConv2D: a 2×2 max-pool needs an even output size, not {shape.OutHeight}×{shape.OutWidth}.", nameof(shape));
        BitPack.CheckLength(output.Length, shape.OutputCount / 4, nameof(output));
        if (Simd.Path != SimdPath.Scalar)
        {
            fixed (float* o = output, s = scale, b = bias) Run(input, weights, shape, new PooledAffineOutput(o, vectorized: true), s, b, plan);
            return;
        }
        // the scalar path's tiles are pixel runs, not row pairs: the dots first, then the windows
        int[] dots = ScratchPool<int>.ThisThread.Rent((int)shape.OutputCount);
        try
        {
            Forward(input, weights, dots.AsSpan(0, (int)shape.OutputCount), shape, plan);
            int oh = shape.OutHeight, ow = shape.OutWidth;
            for (int map = 0; map < shape.Batch * shape.OutChannels; map++)
            {
                int o = map % shape.OutChannels;
                for (int py = 0; py < oh / 2; py++)
                    for (int px = 0; px < ow / 2; px++)
                    {
                        int at = (map * oh + 2 * py) * ow + 2 * px;
                        int m = Math.Max(Math.Max(dots[at], dots[at + 1]), Math.Max(dots[at + ow], dots[at + ow + 1]));
                        output[(map * (oh / 2) + py) * (ow / 2) + px] = scale[o] * (float)m + bias[o];
                    }
            }
        }
        finally
        {
            ScratchPool<int>.ThisThread.Return(dots);
        }
    }

    /// <summary>Binary layer output: bit o of output pixel (n, y, x) is <c>scale[o]·dot + bias[o] ≥ 0</c>, packed
    /// channels-last [Batch][OutHeight][OutWidth][WordsPerPixel(OutChannels)] with zero padding bits: exactly what
    /// <see cref="BitPack.PackChannelsLast(ReadOnlySpan{float}, Span{ulong}, int, int, int, int)"/> makes of the float output.</summary>
    /// <exception cref="ArgumentException">A span is too short, or the shape is invalid.</exception>
    public static void ForwardPackedSign(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<ulong> output, in XnorConv2DShape shape,
                                         ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, XnorConv2DPlan? plan = null)
    {
        Validate(input, weights, shape, scale, bias);
        BitPack.CheckLength(output.Length, shape.PackedOutputWords, nameof(output));
        fixed (ulong* o = output)
        fixed (float* s = scale, b = bias) Run(input, weights, shape, new PackedSignOutput(o, Simd.Path != SimdPath.Scalar), s, b, plan);
    }

    /// <summary>The specification: for every output, the formula over the valid taps only, one popcount per word.</summary>
    internal static void Reference(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<int> output, in XnorConv2DShape s)
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

    private static void Validate(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, in XnorConv2DShape shape)
    {
        shape.Validate();
        BitPack.CheckLength(input.Length, shape.InputWords, nameof(input));
        BitPack.CheckLength(weights.Length, (long)shape.OutChannels * shape.WeightWordsPerFilter, nameof(weights));
    }

    private static void Validate(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, in XnorConv2DShape shape,
                                 ReadOnlySpan<float> scale, ReadOnlySpan<float> bias)
    {
        Validate(input, weights, shape);
        BitPack.CheckLength(scale.Length, shape.OutChannels, nameof(scale));
        BitPack.CheckLength(bias.Length, shape.OutChannels, nameof(bias));
    }

    /// <summary>The kernel a geometry runs on: filters in 16- or 32-bit lanes for at most 32 input channels (so no lane
    /// counts padding bits), 64-bit lanes with nibble lookups on 256-bit vectors, carry-save adders on 512-bit ones, or
    /// the scalar im2col path.</summary>
    private enum KernelChoice { Narrow16x512, Narrow16, Narrow32x512, Narrow32, Lanes256, Csa512, Scalar }

    private static KernelChoice Choose(SimdPath path, int inChannels)
    {
        if (path == SimdPath.Scalar) return KernelChoice.Scalar;
        int narrow = FilterLanes.NarrowLaneBits(inChannels);
        if (narrow == 16) return path == SimdPath.Vector512 ? KernelChoice.Narrow16x512 : KernelChoice.Narrow16;
        if (narrow == 32) return path == SimdPath.Vector512 ? KernelChoice.Narrow32x512 : KernelChoice.Narrow32;
        return path == SimdPath.Vector256 ? KernelChoice.Lanes256 : KernelChoice.Csa512;
    }

    /// <summary>Prepares <paramref name="weights"/> for repeated forwards of <paramref name="shape"/> (any batch): the
    /// tap popcounts, the filters packed into the kernel's lanes and the border tables, which every call otherwise
    /// rebuilds. An inference layer runs once per chunk of a few images, and for VGG-Small's 256- and 512-channel layers
    /// this set-up was a tenth of the call. The plan holds for the SIMD path it was made on; a call on another path, or
    /// with another shape, ignores it and prepares afresh. A plan holds a copy of these weights' bits, not a reference to
    /// them: pass it only with the same weights (a layer keeps the two together); with others the result is wrong.</summary>
    /// <exception cref="ArgumentException">The weights are too short, or the shape is invalid.</exception>
    public static XnorConv2DPlan Plan(ReadOnlySpan<ulong> weights, in XnorConv2DShape shape)
    {
        XnorConv2DShape s = shape with { Batch = 0 };
        s.Validate();
        BitPack.CheckLength(weights.Length, (long)s.OutChannels * s.WeightWordsPerFilter, nameof(weights));
        SimdPath path = Simd.Path;
        var tapPrefix = new int[s.OutChannels * (s.KernelHeight + 1) * (s.KernelWidth + 1)];
        BuildTapPopcountPrefixSums(weights, s, tapPrefix);
        DirectTables? tables = Choose(path, s.InChannels) switch
        {
            KernelChoice.Narrow16x512 => BuildDirectTables<FilterLanes.KernelNarrow16x512>(weights, s, tapPrefix, pooled: false),
            KernelChoice.Narrow16 => BuildDirectTables<FilterLanes.KernelNarrow16>(weights, s, tapPrefix, pooled: false),
            KernelChoice.Narrow32x512 => BuildDirectTables<FilterLanes.KernelNarrow32x512>(weights, s, tapPrefix, pooled: false),
            KernelChoice.Narrow32 => BuildDirectTables<FilterLanes.KernelNarrow32>(weights, s, tapPrefix, pooled: false),
            KernelChoice.Lanes256 => BuildDirectTables<FilterLanes.Kernel256>(weights, s, tapPrefix, pooled: false),
            KernelChoice.Csa512 => BuildDirectTables<FilterLanes.KernelCsa512>(weights, s, tapPrefix, pooled: false),
            _ => null,
        };
        return new XnorConv2DPlan(s, path, tapPrefix, tables);
    }

    private static void Run<TOutput>(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, XnorConv2DShape s,
                                     TOutput output, float* scale, float* bias, XnorConv2DPlan? plan = null)
        where TOutput : struct, ITileOutput
    {
        int pixels = s.OutHeight * s.OutWidth, outputPixels = s.Batch * pixels;
        if (outputPixels == 0) return;
        if (plan is not null && !plan.Fits(s)) plan = null;
        int prefixStride = (s.KernelHeight + 1) * (s.KernelWidth + 1);
        int[] tapPrefix = plan?.TapPrefix ?? ScratchPool<int>.ThisThread.Rent(s.OutChannels * prefixStride);
        try
        {
            if (plan is null) BuildTapPopcountPrefixSums(weights, s, tapPrefix);
            SimdPath path = Simd.Path;
            switch (Choose(path, s.InChannels))
            {
                case KernelChoice.Narrow16x512: RunPlanned<FilterLanes.KernelNarrow16x512, TOutput>(input, weights, s, output, scale, bias, tapPrefix, plan); return;
                case KernelChoice.Narrow16: RunPlanned<FilterLanes.KernelNarrow16, TOutput>(input, weights, s, output, scale, bias, tapPrefix, plan); return;
                case KernelChoice.Narrow32x512: RunPlanned<FilterLanes.KernelNarrow32x512, TOutput>(input, weights, s, output, scale, bias, tapPrefix, plan); return;
                case KernelChoice.Narrow32: RunPlanned<FilterLanes.KernelNarrow32, TOutput>(input, weights, s, output, scale, bias, tapPrefix, plan); return;
                case KernelChoice.Lanes256: RunPlanned<FilterLanes.Kernel256, TOutput>(input, weights, s, output, scale, bias, tapPrefix, plan); return;
                case KernelChoice.Csa512: RunPlanned<FilterLanes.KernelCsa512, TOutput>(input, weights, s, output, scale, bias, tapPrefix, plan); return;
            }
            fixed (ulong* pin = input, pw = weights)
            fixed (int* pp = tapPrefix)
                KernelThreads.For(outputPixels, PixelsPerTile, new TilesBody<TOutput>(pin, pw, pp, s, output, scale, bias, path));
        }
        finally
        {
            if (plan is null) ScratchPool<int>.ThisThread.Return(tapPrefix);
        }
    }

    /// <summary>The direct path with the plan's tables, or with tables prepared for this call (from the pool).</summary>
    private static void RunPlanned<TKernel, TOutput>(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, XnorConv2DShape s,
                                                     TOutput output, float* scale, float* bias, int[] tapPrefix, XnorConv2DPlan? plan)
        where TKernel : struct, FilterLanes.IKernel
        where TOutput : struct, ITileOutput
    {
        DirectTables tables = plan?.Tables ?? BuildDirectTables<TKernel>(weights, s, tapPrefix, pooled: true);
        try
        {
            RunDirect<TKernel, TOutput>(input, s, output, scale, bias, tables);
        }
        finally
        {
            if (plan is null) tables.Return();
        }
    }

    /// <summary><c>prefix[o][y][x] = Σ_{ky&lt;y, kx&lt;x} popcount(w_{o,ky,kx})</c>, so the popcount of any rectangle of
    /// taps is four lookups.</summary>
    private static void BuildTapPopcountPrefixSums(ReadOnlySpan<ulong> weights, in XnorConv2DShape s, Span<int> prefix)
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

    /// <summary>The im2col path's per-thread body as a value (a lambda capturing the parameters would allocate its
    /// closure on every call, whichever path the call takes).</summary>
    private readonly struct TilesBody<TOutput>(ulong* input, ulong* weights, int* tapPrefix, XnorConv2DShape shape, TOutput output,
                                               float* scale, float* bias, SimdPath path) : KernelThreads.IRangeBody
        where TOutput : struct, ITileOutput
    {
        public void Run(int start, int end) => RunTiles(input, weights, tapPrefix, shape, output, scale, bias, start, end, path);
    }

    /// <summary>Output pixels [start, end) in tiles: im2col the tile, count mismatches with the GEMM kernel against
    /// all filters, correct for padded taps, and hand each pixel's dots to the output.</summary>
    private static void RunTiles<TOutput>(ulong* input, ulong* weights, int* tapPrefix, in XnorConv2DShape s, TOutput output,
                                          float* scale, float* bias, int start, int end, SimdPath path)
        where TOutput : struct, ITileOutput
    {
        // pixel runs, not whole row pairs: a pooling store never comes here (ForwardMaxPool2Affine pools the dots itself)
        System.Diagnostics.Debug.Assert(output.RowUnit == 1, "the im2col path's tiles ignore RowUnit");
        int row = s.WeightWordsPerFilter, wpp = BitPack.WordsPerPixel(s.InChannels), ow = s.OutWidth, pixels = s.OutHeight * ow;
        int kh = s.KernelHeight, kw = s.KernelWidth, pw = kw + 1, prefixStride = (kh + 1) * pw;
        ulong[] patchArray = ScratchPool<ulong>.ThisThread.Rent(PixelsPerTile * row);
        int[] countArray = ScratchPool<int>.ThisThread.Rent(PixelsPerTile * s.OutChannels);
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
        ScratchPool<ulong>.ThisThread.Return(patchArray);
        ScratchPool<int>.ThisThread.Return(countArray);
    }

    /// <summary>Copies the receptive field of one output pixel into an aligned row, tap-major like the filters:
    /// padded taps and the row padding become zero words. Along a kernel row the taps are consecutive input pixels,
    /// so the valid ones are one contiguous copy whatever the stride.</summary>
    private static void GatherPatch(ulong* input, in XnorConv2DShape s, int outputPixel, ulong* patch)
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
