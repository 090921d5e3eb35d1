using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels.Binary;

public static unsafe partial class XnorConv2D
{
    /// <summary><see cref="ForwardResidual"/> on a <b>channels-last</b> residual stream: <paramref name="shortcut"/> and
    /// <paramref name="output"/> are float NHWC ([Batch][OutHeight][OutWidth][OutChannels]);
    /// <c>y = clamp(fl(fl(scale[o]·dot + bias[o]) + shortcut), low, high)</c> with the same roundings in the same order,
    /// so every value equals ForwardResidual's at the transposed position, bit for bit.</summary>
    /// <remarks>
    /// <para>Why: the kernel's tile of dots is pixel-major, so an NCHW store transposes it and then adds the shortcut
    /// plane by plane, and the signs for the next convolution need an 8×8 bit transpose per 8 pixels × 8 channels; in
    /// ResNet-20's 16-channel stage that store cost as much as the counting. Channels-last, one pixel's outputs are one
    /// contiguous run: the folded batch norm, the shortcut add, the clamp and the store are a few vector operations
    /// per 8 channels, and the signs of 8 channels are one compare mask — already the packed channels-last bits.</para>
    /// <para><paramref name="signs"/>: empty, or y's signs (≥ 0 ⇒ 1) packed channels-last with zero padding bits, as
    /// <see cref="ForwardResidual"/> writes them.</para>
    /// </remarks>
    /// <exception cref="ArgumentException">A span is too short, or the shape is invalid.</exception>
    public static void ForwardResidualChannelsLast(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<float> output, in XnorConv2DShape shape,
                                                   ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, ReadOnlySpan<float> shortcut, float low, float high,
                                                   Span<ulong> signs = default, XnorConv2DPlan? plan = null)
    {
        ValidateResidual(input, weights, output, shape, scale, bias, shortcut.Length, shape.OutputCount, signs);
        fixed (float* o = output, s = scale, b = bias, r = shortcut)
        fixed (ulong* bits = signs)
            Run(input, weights, shape, new ResidualChannelsLastOutput(o, r, shape.OutChannels, 0, false, low, high, bits, Simd.Path), s, b, plan);
    }

    /// <summary>A downsampling residual unit on the channels-last stream, He et al.'s option-A shortcut fused into the
    /// store: <c>y[n, i, j, o] = clamp(fl(fl(scale[o]·dot + bias[o]) + x[n, s·i, s·j, o − before]), low, high)</c>, the
    /// shortcut term being +0 outside <c>before ≤ o − before &lt; shortcutChannels</c>, <c>before =
    /// ⌊(OutChannels − shortcutChannels)/2⌋</c> and s the convolution's stride. <paramref name="shortcut"/> is the unit's
    /// input, float NHWC [Batch][Height][Width][shortcutChannels]. The same roundings as the separate passes (the
    /// folded batch norm, the add of the zero-padded shortcut — +0 included, which turns −0 into +0 as the add does —
    /// and the clamp), so the values equal them bit for bit.</summary>
    /// <exception cref="ArgumentException">A span is too short, the shape is invalid, or the shortcut has more
    /// channels than the output.</exception>
    public static void ForwardDownsampleResidualChannelsLast(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<float> output, in XnorConv2DShape shape,
                                                             ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, ReadOnlySpan<float> shortcut, int shortcutChannels,
                                                             float low, float high, Span<ulong> signs = default, XnorConv2DPlan? plan = null)
    {
        if (shortcutChannels < 1 || shortcutChannels > shape.OutChannels)
            throw new ArgumentException($"XnorConv2D: a zero-pad shortcut of {shortcutChannels} channels cannot feed {shape.OutChannels} output channels.", nameof(shortcutChannels));
        ValidateResidual(input, weights, output, shape, scale, bias, shortcut.Length, (long)shape.Batch * shape.Height * shape.Width * shortcutChannels, signs);
        int before = (shape.OutChannels - shortcutChannels) / 2;
        fixed (float* o = output, s = scale, b = bias, r = shortcut)
        fixed (ulong* bits = signs)
            Run(input, weights, shape, new ResidualChannelsLastOutput(o, r, shortcutChannels, before, true, low, high, bits, Simd.Path), s, b, plan);
    }

    /// <summary>The channels-last residual store: per output pixel, per 8 channels, multiply, add the bias, add the
    /// shortcut, clamp (Hardtanh's two selects: a NaN passes, −0 stays), store, and OR the compare mask into the
    /// pixel's sign word.</summary>
    /// <remarks>The shortcut of output channel o is <c>x[o]</c> for <c>before ≤ o &lt; before + shortcutChannels</c>
    /// and +0 otherwise, x pointing <paramref name="before"/> channels ahead of the source pixel: the same pixel, or with
    /// <paramref name="sampled"/> input pixel (s·i, s·j) of output pixel (i, j).</remarks>
    private readonly struct ResidualChannelsLastOutput(float* output, float* shortcut, int shortcutChannels, int before, bool sampled,
                                                       float low, float high, ulong* signs, SimdPath path) : ITileOutput
    {
        public int RowUnit => 1;

        public void Store(in XnorConv2DShape s, int first, int rows, int* dots, int ld, float* scale, float* bias)
        {
            // everything the loop needs in locals and arguments: the vector loop below then holds its constants in
            // registers (with the fields read through 'this' and a call in the loop, the JIT spilled them every pixel)
            int channels = s.OutChannels, outWidth = s.OutWidth, outHeight = s.OutHeight, plane = outWidth * outHeight;
            int wpp = BitPack.WordsPerPixel(channels), end = before + shortcutChannels;
            float* xBase = shortcut;
            int image = first / plane, i = first % plane / outWidth, j = first % plane % outWidth;
            for (int r = 0; r < rows; r++)
            {
                nint pixel = first + r;
                float* x = xBase + pixel * channels;
                if (sampled)
                {
                    x = xBase + (((nint)image * s.Height + i * s.Stride) * s.Width + j * s.Stride) * shortcutChannels - before;
                    if (++j == outWidth)
                    {
                        j = 0;
                        if (++i == outHeight) (i, image) = (0, image + 1);
                    }
                }
                Pixel(output + pixel * channels, x, dots + (nint)r * ld, scale, bias, signs == null ? null : signs + pixel * wpp,
                      channels, wpp, before, end, low, high, path);
            }
        }
    }

    /// <summary>One output pixel of the channels-last residual store (see <see cref="ResidualChannelsLastOutput"/>):
    /// <c>y[o] = clamp(fl(fl(scale[o]·d[o] + bias[o]) + (before ≤ o &lt; end ? x[o] : +0)))</c> and its sign bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pixel(float* y, float* x, int* d, float* scale, float* bias, ulong* bits, int channels, int wpp, int before, int end,
                              float low, float high, SimdPath path)
    {
        if (bits != null)
            for (int word = 0; word < wpp; word++) bits[word] = 0; // a loop, not Span.Clear: a call per pixel cost more than the pixel
        int o = 0;
        if (path == SimdPath.Vector512)
        {
            Vector512<float> lo = Vector512.Create(low), hi = Vector512.Create(high);
            for (; o + 16 <= channels; o += 16)
            {
                // 16 channels per step on 512-bit units (a 16-channel pixel is one vector)
                Vector512<float> v = Vector512.Multiply(Vector512.Load(scale + o), Vector512.ConvertToSingle(Vector512.Load(d + o)));
                Vector512<float> add = o >= before && o + 16 <= end ? Vector512.Load(x + o)
                    : o + 16 <= before || o >= end ? Vector512<float>.Zero : Vector512.Create(Window(x, o, before, end), Window(x, o + 8, before, end));
                v = Vector512.Add(Vector512.Add(v, Vector512.Load(bias + o)), add);
                v = Vector512.ConditionalSelect(Vector512.LessThan(v, lo), lo, Vector512.ConditionalSelect(Vector512.GreaterThan(v, hi), hi, v));
                v.Store(y + o);
                if (bits != null) bits[o >> 6] |= Vector512.GreaterThanOrEqual(v, Vector512<float>.Zero).ExtractMostSignificantBits() << (o & 63);
            }
        }
        if (path != SimdPath.Scalar)
        {
            Vector256<float> lo = Vector256.Create(low), hi = Vector256.Create(high);
            for (; o + 8 <= channels; o += 8)
            {
                Vector256<float> v = Vector256.Multiply(Vector256.Load(scale + o), Vector256.ConvertToSingle(Vector256.Load(d + o)));
                Vector256<float> add = o >= before && o + 8 <= end ? Vector256.Load(x + o)
                    : o + 8 <= before || o >= end ? Vector256<float>.Zero : Window(x, o, before, end);
                v = Vector256.Add(Vector256.Add(v, Vector256.Load(bias + o)), add);
                v = Vector256.ConditionalSelect(Vector256.LessThan(v, lo), lo, Vector256.ConditionalSelect(Vector256.GreaterThan(v, hi), hi, v));
                v.Store(y + o);
                if (bits != null) bits[o >> 6] |= (ulong)Vector256.GreaterThanOrEqual(v, Vector256<float>.Zero).ExtractMostSignificantBits() << (o & 63);
            }
        }
        for (; o < channels; o++)
        {
            float v = scale[o] * (float)d[o] + bias[o] + (o >= before && o < end ? x[o] : 0f);
            v = v < low ? low : v > high ? high : v;
            y[o] = v;
            if (bits != null && v >= 0f) bits[o >> 6] |= 1UL << (o & 63);
        }
    }

    /// <summary>Channels o … o + 7 of the shortcut: x[k] inside [before, end), +0 outside (no stack buffer, so it inlines).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Window(float* x, int o, int before, int end) =>
        Vector256.Create(In(x, o, before, end), In(x, o + 1, before, end), In(x, o + 2, before, end), In(x, o + 3, before, end),
                         In(x, o + 4, before, end), In(x, o + 5, before, end), In(x, o + 6, before, end), In(x, o + 7, before, end));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float In(float* x, int k, int before, int end) => k >= before && k < end ? x[k] : 0f;

    /// <summary>The checks every residual store makes before it runs: the convolution's operands, then the output, the
    /// shortcut (<paramref name="shortcutCount"/> floats) and, when given, the sign words.</summary>
    private static void ValidateResidual(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<float> output, in XnorConv2DShape shape,
                                         ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, int shortcutLength, long shortcutCount, Span<ulong> signs)
    {
        Validate(input, weights, shape, scale, bias);
        BitPack.CheckLength(output.Length, shape.OutputCount, nameof(output));
        BitPack.CheckLength(shortcutLength, shortcutCount, "shortcut");
        if (!signs.IsEmpty) BitPack.CheckLength(signs.Length, shape.PackedOutputWords, nameof(signs));
    }

    /// <summary>NCHW → NHWC: <c>destination[(n·P + p)·C + c] = source[(n·C + c)·P + p]</c> for P = <paramref name="pixels"/>
    /// per image. Exact (data movement only); 8 channels × 8 pixels per register transpose on the vector paths.</summary>
    public static void ChannelsLastFromPlanes(ReadOnlySpan<float> source, Span<float> destination, int batch, int channels, int pixels)
    {
        long count = LayoutCount(batch, channels, pixels);
        BitPack.CheckLength(source.Length, count, nameof(source));
        BitPack.CheckLength(destination.Length, count, nameof(destination));
        fixed (float* src = source, dst = destination)
            for (int n = 0; n < batch; n++)
                Transpose(src + (nint)n * channels * pixels, dst + (nint)n * channels * pixels, channels, pixels, Simd.Path != SimdPath.Scalar);
    }

    /// <summary>NHWC → NCHW, the inverse of <see cref="ChannelsLastFromPlanes"/>.</summary>
    public static void PlanesFromChannelsLast(ReadOnlySpan<float> source, Span<float> destination, int batch, int channels, int pixels)
    {
        long count = LayoutCount(batch, channels, pixels);
        BitPack.CheckLength(source.Length, count, nameof(source));
        BitPack.CheckLength(destination.Length, count, nameof(destination));
        fixed (float* src = source, dst = destination)
            for (int n = 0; n < batch; n++)
                Transpose(src + (nint)n * channels * pixels, dst + (nint)n * channels * pixels, pixels, channels, Simd.Path != SimdPath.Scalar);
    }

    private static long LayoutCount(int batch, int channels, int pixels)
    {
        if (batch < 0 || channels < 0 || pixels < 0)
            throw new ArgumentOutOfRangeException(nameof(batch), $"XnorConv2D: a layout of {batch} images × {channels} channels × {pixels} pixels has a negative size.");
        return (long)batch * channels * pixels;
    }

    /// <summary>Transposes a <paramref name="rows"/> × <paramref name="columns"/> row-major matrix:
    /// <c>destination[j·rows + i] = source[i·columns + j]</c>.</summary>
    private static void Transpose(float* source, float* destination, int rows, int columns, bool vectorized)
    {
        int i = 0;
        if (vectorized)
            for (; i + 8 <= rows; i += 8)
            {
                int j = 0;
                for (; j + 8 <= columns; j += 8)
                    Transpose8x8((int*)source + (nint)i * columns + j, columns, new IntColumns((int*)destination + (nint)j * rows + i, rows));
                for (; j < columns; j++)
                    for (int k = 0; k < 8; k++) destination[(nint)j * rows + i + k] = source[(nint)(i + k) * columns + j];
            }
        for (; i < rows; i++)
            for (int j = 0; j < columns; j++) destination[(nint)j * rows + i] = source[(nint)i * columns + j];
    }
}
