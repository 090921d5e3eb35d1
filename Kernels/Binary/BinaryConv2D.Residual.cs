using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels.Binary;

public static unsafe partial class BinaryConv2D
{
    /// <summary>A residual unit in one store: <c>y = clamp(fl(fl(scale[o]·dot + bias[o]) + shortcut), low, high)</c>,
    /// float NCHW, with <paramref name="shortcut"/> NCHW of the output's shape (an identity shortcut: the unit's
    /// input). The roundings are the evaluation's own — the folded batch norm (multiply, add), the residual add, then
    /// Hardtanh's <c>x &lt; low ? low : x &gt; high ? high : x</c> (infinite bounds for no clamp) — so the result equals
    /// the three separate passes bit for bit while reading and writing the activation once.</summary>
    /// <exception cref="ArgumentException">A span is too short, or the shape is invalid.</exception>
    public static void ForwardResidual(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<float> output, in BinaryConv2DShape shape,
                                       ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, ReadOnlySpan<float> shortcut, float low, float high)
    {
        Validate(input, weights, shape, scale, bias);
        BitPack.CheckLength(output.Length, shape.OutputCount, nameof(output));
        BitPack.CheckLength(shortcut.Length, shape.OutputCount, nameof(shortcut));
        fixed (float* o = output, s = scale, b = bias, r = shortcut)
            Run(input, weights, shape, new ResidualOutput(o, r, low, high, Simd.Path != SimdPath.Scalar), s, b);
    }

    /// <summary>The residual unit's store: the tile's <c>scale·dot + bias</c> first, exactly as
    /// <see cref="AffineOutput"/> writes it, then, per channel plane while those values are in L1, the shortcut added
    /// and the clamp. (Adding the shortcut inside the 8×8 transpose read eight planes a page apart at once, and the
    /// cache aliasing doubled the 16-channel layers' time.)</summary>
    private readonly struct ResidualOutput(float* output, float* shortcut, float low, float high, bool vectorized) : ITileOutput
    {
        public void Store(in BinaryConv2DShape s, int first, int rows, int* dots, int ld, float* scale, float* bias)
        {
            new AffineOutput(output, vectorized).Store(s, first, rows, dots, ld, scale, bias);
            int plane = s.OutHeight * s.OutWidth, channels = s.OutChannels;
            for (int r0 = 0; r0 < rows;)
            {
                int image = (first + r0) / plane, pixel = (first + r0) % plane, run = Math.Min(rows - r0, plane - pixel);
                nint offset = (nint)image * channels * plane + pixel;
                for (int o = 0; o < channels; o++)
                    AddAndClamp(output + offset + (nint)o * plane, shortcut + offset + (nint)o * plane, run, low, high, vectorized);
                r0 += run;
            }
        }
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
