using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels.Binary;

public static unsafe partial class XnorConv2D
{
    /// <summary>Binary layer output through integer thresholds: bit o of output pixel (n, y, x) is
    /// <c>(dot ≥ thresholds[o]) XOR flip_o</c>, where flip_o is bit o of <paramref name="flips"/>
    /// (<c>WordsPerPixel(OutChannels)</c> words, padding bits zero), packed channels-last
    /// [Batch][OutHeight][OutWidth][WordsPerPixel(OutChannels)] with zero padding bits.</summary>
    /// <remarks>A batch norm followed by a sign is a monotone function of the integer dot, so it is a threshold on the
    /// dot, reversed (flipped) where the folded scale is negative; the caller derives the thresholds from the exact
    /// float expression (see <c>SignThresholds</c> in Layers and docs/inference.md), so this equals the float
    /// epilogue bit for bit while comparing integers only.</remarks>
    /// <exception cref="ArgumentException">A span is too short, a flip padding bit is set, or the shape is invalid.</exception>
    public static void ForwardPackedThreshold(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<ulong> output, in XnorConv2DShape shape,
                                              ReadOnlySpan<int> thresholds, ReadOnlySpan<ulong> flips, XnorConv2DPlan? plan = null)
    {
        Validate(input, weights, shape);
        BitPack.CheckLength(output.Length, shape.PackedOutputWords, nameof(output));
        BitPack.CheckLength(thresholds.Length, shape.OutChannels, nameof(thresholds));
        int wpp = BitPack.WordsPerPixel(shape.OutChannels);
        BitPack.CheckLength(flips.Length, wpp, nameof(flips));
        if (shape.OutChannels % 64 != 0 && flips[wpp - 1] >> (shape.OutChannels % 64) != 0)
            throw new ArgumentException($"XnorConv2D: flip bits past channel {shape.OutChannels} must be zero.", nameof(flips));
        fixed (ulong* o = output, f = flips)
        fixed (int* t = thresholds) Run(input, weights, shape, new PackedThresholdOutput(o, t, f, Simd.Path != SimdPath.Scalar), null, null, plan);
    }

    /// <summary>Bits <c>(dot ≥ threshold) XOR flip</c>, 8 channels per integer compare on the vector paths, branch-free.</summary>
    private readonly struct PackedThresholdOutput(ulong* output, int* thresholds, ulong* flips, bool vectorized) : ITileOutput
    {
        public int RowUnit => 1;

        public void Store(in XnorConv2DShape s, int first, int rows, int* dots, int ld, float* scale, float* bias)
        {
            int wpp = BitPack.WordsPerPixel(s.OutChannels), channels = s.OutChannels;
            for (int r = 0; r < rows; r++)
            {
                int* pixelDots = dots + (nint)r * ld;
                ulong* dst = output + (nint)(first + r) * wpp; // [N][OH][OW] flattened is the output pixel index
                for (int w = 0; w < wpp; w++)
                {
                    ulong word = 0;
                    int o = w * 64, end = Math.Min(channels, o + 64);
                    for (; vectorized && o + 8 <= end; o += 8)
                        word |= (ulong)Vector256.GreaterThanOrEqual(Vector256.Load(pixelDots + o), Vector256.Load(thresholds + o)).ExtractMostSignificantBits() << (o & 63);
                    for (; o < end; o++) word |= (ulong)(pixelDots[o] >= thresholds[o] ? 1 : 0) << (o & 63);
                    dst[w] = word ^ flips[w];
                }
            }
        }
    }
}
