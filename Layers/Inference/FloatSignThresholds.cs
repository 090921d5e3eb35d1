namespace BinaryGrad.Layers.Inference;

/// <summary>A folded batch norm followed by a sign, as per-channel comparisons on a real layer's float output: the bits
/// a binary convolution takes from <c>sign(BN(v))</c>, found without computing <c>BN(v)</c>.</summary>
/// <remarks>
/// <para>The training evaluation computes the batch norm of a real convolution's output v as the float32 expression
/// <c>y = fl(fl(v·scale) + shift)</c> on maps larger than 1×1, or <c>y = fma(v, scale, shift)</c> on 1×1 maps
/// (<see cref="AffineLayer"/>), and the next binary layer takes the bit <c>P(v) = [y ≥ 0]</c>.</para>
/// <para>Rounding to nearest is monotone, so with a finite non-zero scale and a finite shift y is monotone in v over
/// the whole float line, infinities included: for <c>scale &gt; 0</c> P is a step up, <c>P(v) = [v ≥ T]</c> with T the
/// least float where y ≥ 0; for <c>scale &lt; 0</c> a step down, <c>P(v) = [v ≤ T]</c> with T the greatest. T is found
/// by bisection over the floats in their order (about 32 evaluations of the very float expression, so every
/// rounding and the tie at <c>y = 0</c> are the evaluation's own, where solving <c>−shift/scale</c> could be off by an
/// ulp). ±0 give the same y, so the IEEE comparison with T agrees with the order bisected; a NaN v gives a NaN y, bit
/// 0, and fails both comparisons, bit 0. A zero, infinite or NaN scale, or a non-finite shift, breaks monotonicity
/// (∞·0 = NaN): <see cref="TryDerive"/> then returns false and the caller keeps the separate batch norm.</para>
/// </remarks>
public sealed class FloatSignThresholds
{
    private FloatSignThresholds(float[] thresholds, ulong[] below) => (Thresholds, Below) = (thresholds, below);

    /// <summary>Per channel: the bit is <c>v ≤ Thresholds[c]</c> where <see cref="Below"/> has bit c, else <c>v ≥ Thresholds[c]</c>.</summary>
    public float[] Thresholds { get; }

    /// <summary>Bit c set where the scale is negative (channels-last words, padding bits zero).</summary>
    public ulong[] Below { get; }

    /// <summary>The exact bit of channel c for <paramref name="v"/>: <c>y(v) ≥ 0</c> in float32 as evaluation computes it.</summary>
    public static bool Bit(AffineLayer affine, int c, float v, bool fusedMultiplyAdd)
    {
        float y = fusedMultiplyAdd ? MathF.FusedMultiplyAdd(v, affine.Scale[c], affine.Shift[c]) : v * affine.Scale[c] + affine.Shift[c];
        return y >= 0f;
    }

    /// <summary>Derives the comparisons of <paramref name="affine"/>; false when some channel's scale or shift is not
    /// finite, or its scale is zero (see remarks).</summary>
    public static bool TryDerive(AffineLayer affine, bool fusedMultiplyAdd, out FloatSignThresholds? result)
    {
        ArgumentNullException.ThrowIfNull(affine);
        int channels = affine.Channels;
        var thresholds = new float[channels];
        var below = new ulong[(channels + 63) / 64];
        result = null;
        for (int c = 0; c < channels; c++)
        {
            float scale = affine.Scale[c], shift = affine.Shift[c];
            if (!float.IsFinite(scale) || scale == 0f || !float.IsFinite(shift)) return false;
            bool rising = scale > 0f;
            // Invariant P(lo) = !rising, P(hi) = rising: at −∞ y is −∞ when rising and +∞ when falling, at +∞ the reverse.
            long lo = Order(float.NegativeInfinity), hi = Order(float.PositiveInfinity);
            while (hi - lo > 1)
            {
                long mid = lo + (hi - lo) / 2;
                if (Bit(affine, c, FromOrder(mid), fusedMultiplyAdd) == rising) hi = mid;
                else lo = mid;
            }
            // rising: hi is the least v with P true; falling: lo is the greatest v with P true
            thresholds[c] = FromOrder(rising ? hi : lo);
            if (!rising) below[c >> 6] |= 1UL << (c & 63);
        }
        result = new FloatSignThresholds(thresholds, below);
        return true;
    }

    /// <summary>The float's position in the order of the float line: −∞ … −0 = +0 … +∞ map to increasing integers
    /// (−0 and +0 share 0; NaN is never asked).</summary>
    internal static long Order(float v)
    {
        int bits = BitConverter.SingleToInt32Bits(v);
        return bits >= 0 ? bits : -(long)(bits & int.MaxValue);
    }

    /// <summary>The inverse of <see cref="Order"/> (0 gives +0).</summary>
    internal static float FromOrder(long order) =>
        order >= 0 ? BitConverter.Int32BitsToSingle((int)order) : BitConverter.Int32BitsToSingle((int)(-order) | int.MinValue);
}
