namespace BinaryGrad.Layers.Inference;

/// <summary>A folded batch norm followed by a sign, as integer thresholds on a binary layer's dot.</summary>
/// <remarks>
/// <para>A binary layer's output d is an integer in [−K, K] (K = the bits per output: taps × input channels, or the
/// input features). The training evaluation computes its batch norm on that exact integer as a float32 expression
/// (see <see cref="AffineLayer"/>): <c>y = fl(fl(scale·d) + shift)</c> on maps larger than 1×1, or
/// <c>y = fma(d, scale, shift)</c> (one rounding) for BatchNorm1d and 1×1 maps, where <c>scale = γ/√(σ² + ε)</c> and
/// <c>shift = β − μ·scale</c> are computed in float64 and rounded to float32 — so ε, γ and the statistics are all
/// inside these two float32 numbers. The next binary layer takes <c>sign(y)</c> with <c>sign(0) = +1</c>, i.e. the
/// bit <c>P(d) = [y(d) ≥ 0]</c>; a sign-preserving Hardtanh between them changes nothing.</para>
/// <para>Rounding to nearest is monotone, so for <c>scale &gt; 0</c> y(d) is non-decreasing in d and P is a step up:
/// <c>P(d) = [d ≥ T]</c> with T the least d where y(d) ≥ 0 (ties at zero included, since 0 ≥ 0). For
/// <c>scale &lt; 0</c> P is a step down: <c>P(d) = [d ≤ D] = NOT [d ≥ D + 1]</c>, a threshold with the bit flipped.
/// A zero scale makes P a constant. Rather than solving <c>−shift/scale</c> (whose rounding can disagree with the
/// float expression by one at a tie), T is found by evaluating the very float expression at every d in [−K, K] and
/// locating its single step; the scan also checks that P really has at most one step (a NaN or infinite scale
/// breaks monotonicity, e.g. ∞·0 = NaN), and a channel that fails the check makes <see cref="TryDerive"/> return
/// false so that the caller keeps the float epilogue. Derived once per layer: 2K + 1 evaluations per channel.</para>
/// </remarks>
public sealed class SignThresholds
{
    private SignThresholds(int[] thresholds, ulong[] flips)
    {
        (Thresholds, Flips) = (thresholds, flips);
        NonDecreasing = [.. flips.Select((f, w) => ~f & PaddingMask(w))];
    }

    /// <summary>Per channel: the bit is <c>(d ≥ Thresholds[c]) XOR flip_c</c>.</summary>
    public int[] Thresholds { get; }

    /// <summary>flip_c as bit c (channels-last words, padding bits zero): set where the scale is negative.</summary>
    public ulong[] Flips { get; }

    /// <summary>Bit c set where the bit is non-decreasing in d (scale ≥ 0): the channels a max pool ORs rather than ANDs.</summary>
    public ulong[] NonDecreasing { get; }

    private int Channels => Thresholds.Length;

    private ulong PaddingMask(int word) => Channels - 64 * word >= 64 ? ~0UL : (1UL << (Channels - 64 * word)) - 1;

    /// <summary>The exact bit of channel c for dot <paramref name="d"/>: <c>y(d) ≥ 0</c> in float32 as evaluation computes it.</summary>
    public static bool Bit(AffineLayer affine, int c, int d, bool fusedMultiplyAdd)
    {
        float y = fusedMultiplyAdd ? MathF.FusedMultiplyAdd(d, affine.Scale[c], affine.Shift[c]) : affine.Scale[c] * (float)d + affine.Shift[c];
        return y >= 0f;
    }

    /// <summary>Derives the thresholds of <paramref name="affine"/> for dots in [−<paramref name="maxDot"/>,
    /// <paramref name="maxDot"/>]; false when some channel's bit is not a single step in d (see remarks).</summary>
    public static bool TryDerive(AffineLayer affine, int maxDot, bool fusedMultiplyAdd, out SignThresholds? result)
    {
        ArgumentNullException.ThrowIfNull(affine);
        ArgumentOutOfRangeException.ThrowIfNegative(maxDot);
        int channels = affine.Channels;
        var thresholds = new int[channels];
        var flips = new ulong[(channels + 63) / 64];
        result = null;
        for (int c = 0; c < channels; c++)
        {
            bool first = Bit(affine, c, -maxDot, fusedMultiplyAdd);
            int steps = 0, stepAt = 0; // stepAt: the least d whose bit differs from d − 1's
            bool previous = first;
            for (int d = -maxDot + 1; d <= maxDot; d++)
            {
                bool bit = Bit(affine, c, d, fusedMultiplyAdd);
                if (bit != previous && steps++ == 0) stepAt = d;
                previous = bit;
            }
            if (steps > 1) return false;
            if (steps == 0)
            {
                // constant: d ≥ int.MinValue always holds, so the flip alone gives the bit
                thresholds[c] = int.MinValue;
                if (!first) flips[c >> 6] |= 1UL << (c & 63);
            }
            else if (!first)
                thresholds[c] = stepAt; // 0 … 0 1 … 1: [d ≥ stepAt]
            else
            {
                thresholds[c] = stepAt; // 1 … 1 0 … 0: NOT [d ≥ stepAt]
                flips[c >> 6] |= 1UL << (c & 63);
            }
        }
        result = new SignThresholds(thresholds, flips);
        return true;
    }
}
