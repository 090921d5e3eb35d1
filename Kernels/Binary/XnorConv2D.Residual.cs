using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels.Binary;

public static unsafe partial class XnorConv2D
{
    /// <summary>A residual unit in one store: <c>y = clamp(fl(fl(scale[o]·dot + bias[o]) + shortcut), low, high)</c>,
    /// float NCHW, with <paramref name="shortcut"/> NCHW of the output's shape (an identity shortcut: the unit's
    /// input). The roundings are the evaluation's own — the folded batch norm (multiply, add), the residual add, then
    /// Hardtanh's <c>x &lt; low ? low : x &gt; high ? high : x</c> (infinite bounds for no clamp) — so the result equals
    /// the three separate passes bit for bit while reading and writing the activation once.</summary>
    /// <remarks><paramref name="signs"/>: empty, or the signs of y (≥ 0 ⇒ 1) packed channels-last
    /// [Batch][OutHeight][OutWidth][WordsPerPixel(OutChannels)] with zero padding bits — what
    /// <see cref="BitPack.PackChannelsLast(ReadOnlySpan{float}, Span{ulong}, int, int, int, int)"/> makes of y, for the
    /// next unit's binary convolution, written while the tile is in L1 instead of in a pass of its own.</remarks>
    /// <exception cref="ArgumentException">A span is too short, or the shape is invalid.</exception>
    public static void ForwardResidual(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<float> output, in XnorConv2DShape shape,
                                       ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, ReadOnlySpan<float> shortcut, float low, float high,
                                       Span<ulong> signs = default, XnorConv2DPlan? plan = null)
    {
        ValidateResidual(input, weights, output, shape, scale, bias, shortcut.Length, shape.OutputCount, signs);
        fixed (float* o = output, s = scale, b = bias, r = shortcut)
        fixed (ulong* bits = signs)
            Run(input, weights, shape, new ResidualOutput(o, r, low, high, bits, Simd.Path != SimdPath.Scalar), s, b, plan);
    }

    /// <summary>The residual unit's store: the tile's <c>scale·dot + bias</c> first, exactly as
    /// <see cref="AffineOutput"/> writes it, then, per channel plane while those values are in L1, the shortcut added
    /// and the clamp. (Adding the shortcut inside the 8×8 transpose read eight planes a page apart at once, and the
    /// cache aliasing doubled the 16-channel layers' time.)</summary>
    private readonly struct ResidualOutput(float* output, float* shortcut, float low, float high, ulong* signs, bool vectorized) : ITileOutput
    {
        public int RowUnit => 1;

        public void Store(in XnorConv2DShape s, int first, int rows, int* dots, int ld, float* scale, float* bias)
        {
            new AffineOutput(output, vectorized).Store(s, first, rows, dots, ld, scale, bias);
            int plane = s.OutHeight * s.OutWidth, channels = s.OutChannels;
            for (int r0 = 0; r0 < rows;)
            {
                int image = (first + r0) / plane, pixel = (first + r0) % plane, run = Math.Min(rows - r0, plane - pixel);
                nint offset = (nint)image * channels * plane + pixel;
                for (int o = 0; o < channels; o++)
                    AddAndClamp(output + offset + (nint)o * plane, shortcut + offset + (nint)o * plane, run, low, high, vectorized);
                if (signs != null) PackSigns(output + offset, plane, channels, run, signs + ((nint)image * plane + pixel) * BitPack.WordsPerPixel(channels), vectorized);
                r0 += run;
            }
        }
    }

    /// <summary>Packs the signs (≥ 0 ⇒ 1) of <paramref name="pixels"/> consecutive pixels of NCHW planes (stride
    /// <paramref name="plane"/>) channels-last into <paramref name="bits"/>. Eight pixels at a time: one compare per
    /// channel gives that channel's 8 pixel bits; eight channels' masks form an 8×8 bit matrix whose transpose (three
    /// masked shift-swaps) holds one byte per pixel, the pixel's 8 channel bits.</summary>
    private static void PackSigns(float* y, int plane, int channels, int pixels, ulong* bits, bool vectorized)
    {
        int wpp = BitPack.WordsPerPixel(channels);
        new Span<ulong>(bits, pixels * wpp).Clear();
        int p = 0;
        if (vectorized)
            for (; p + 8 <= pixels; p += 8)
                for (int o0 = 0; o0 < channels; o0 += 8)
                {
                    ulong matrix = 0; // byte k: channel o0 + k over the 8 pixels
                    for (int k = 0; k < 8 && o0 + k < channels; k++)
                        matrix |= (ulong)Vector256.GreaterThanOrEqual(Vector256.Load(y + (nint)(o0 + k) * plane + p), Vector256<float>.Zero).ExtractMostSignificantBits() << (8 * k);
                    matrix = TransposeBits8x8(matrix);
                    for (int i = 0; i < 8; i++)
                        bits[(p + i) * wpp + (o0 >> 6)] |= ((matrix >> (8 * i)) & 0xFF) << (o0 & 63);
                }
        for (; p < pixels; p++)
            for (int o = 0; o < channels; o++)
                if (y[(nint)o * plane + p] >= 0f) bits[p * wpp + (o >> 6)] |= 1UL << (o & 63);
    }

    /// <summary>Transposes the 8×8 bit matrix with row k in byte k (bit j of byte k is element (k, j)).</summary>
    internal static ulong TransposeBits8x8(ulong x)
    {
        ulong t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAUL;
        x ^= t ^ (t << 7);
        t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCUL;
        x ^= t ^ (t << 14);
        t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0UL;
        return x ^ t ^ (t << 28);
    }

    /// <summary><c>y[i] = clamp(fl(y[i] + shortcut[i]))</c> with Hardtanh's two selects (a NaN passes, −0 stays).</summary>
    private static void AddAndClamp(float* y, float* shortcut, int length, float low, float high, bool vectorized)
    {
        int i = 0;
        if (vectorized)
        {
            Vector256<float> lo = Vector256.Create(low), hi = Vector256.Create(high);
            for (; i + 8 <= length; i += 8)
            {
                Vector256<float> v = Vector256.Add(Vector256.Load(y + i), Vector256.Load(shortcut + i));
                Vector256.ConditionalSelect(Vector256.LessThan(v, lo), lo, Vector256.ConditionalSelect(Vector256.GreaterThan(v, hi), hi, v)).Store(y + i);
            }
        }
        for (; i < length; i++)
        {
            float v = y[i] + shortcut[i];
            y[i] = v < low ? low : v > high ? high : v;
        }
    }
}
