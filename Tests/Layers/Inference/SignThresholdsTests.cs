using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Layers.Inference;

[TestFixture]
public class SignThresholdsTests
{
    /// <summary>The bit the evaluation computes, written out here: y = scale·d + shift (two roundings) or
    /// fma(d, scale, shift) (one), sign(0) = +1.</summary>
    private static bool FloatBit(float scale, float shift, int d, bool fma) =>
        (fma ? MathF.FusedMultiplyAdd(d, scale, shift) : scale * (float)d + shift) >= 0f;

    private static void AssertEveryDot(AffineLayer affine, int maxDot, bool fma)
    {
        Assert.That(SignThresholds.TryDerive(affine, maxDot, fma, out SignThresholds? t), Is.True);
        for (int c = 0; c < affine.Channels; c++)
        {
            bool flip = ((t!.Flips[c >> 6] >> (c & 63)) & 1) != 0;
            for (int d = -maxDot; d <= maxDot; d++)
                Assert.That((d >= t.Thresholds[c]) != flip, Is.EqualTo(FloatBit(affine.Scale[c], affine.Shift[c], d, fma)),
                    $"channel {c} (scale {affine.Scale[c]:R}, shift {affine.Shift[c]:R}), dot {d}, fma {fma}");
        }
    }

    [Test]
    public void RandomFoldedBatchNorms_ThresholdsGiveTheFloatBitAtEveryDot([Values(false, true)] bool fma)
    {
        var random = new Random(fma ? 2 : 1);
        const int channels = 150, maxDot = 300;
        float[] scale = new float[channels], shift = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            scale[c] = (float)((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-6, 3)));
            shift[c] = (float)((random.NextDouble() * 2 - 1) * maxDot * Math.Abs(scale[c]) * 1.2);
        }
        AssertEveryDot(new AffineLayer(scale, shift, fma), maxDot, fma);
    }

    /// <summary>Ties: −shift/scale an exact integer (y = 0 there, and 0 → +1), also with a negative scale; scales so
    /// small that scale·d rounds to the same float for neighbouring d; ±0 scales; a zero shift.</summary>
    [Test]
    public void TiesZeroScalesAndTinyScales_GiveTheFloatBit([Values(false, true)] bool fma)
    {
        float[] scale = [0.5f, -0.5f, 0.1f, -0.1f, 0f, -0f, 0f, 1e-30f, -1e-30f, 3f, 1f / 3, float.Epsilon, 2f];
        float[] shift = [-2f, 2f, -0.3f, 0.3f, 1f, -1f, 0f, 1e-28f, 0f, -0f, -1f / 3 * 7, 0f, 1e-8f];
        AssertEveryDot(new AffineLayer(scale, shift, fma), 64, fma);
    }

    /// <summary>Non-finite values: a NaN shift or scale makes the bit always −1 (NaN ≥ 0 is false); infinite
    /// scales make ∞·0 = NaN at d = 0; all still give the float bit at every dot.</summary>
    [Test]
    public void NonFiniteScalesAndShifts_GiveTheFloatBit([Values(false, true)] bool fma)
    {
        float[] scale = [float.NaN, 1f, float.PositiveInfinity, float.NegativeInfinity, float.PositiveInfinity, float.NegativeInfinity];
        float[] shift = [0f, float.NaN, 0f, 0f, float.NegativeInfinity, float.PositiveInfinity];
        var affine = new AffineLayer(scale, shift, fma);
        if (SignThresholds.TryDerive(affine, 20, fma, out _)) AssertEveryDot(affine, 20, fma);
    }

    [Test]
    public void NonDecreasingMask_IsTheUnflippedChannelsWithoutPaddingBits()
    {
        var affine = new AffineLayer([1f, -1f, 2f, -3f, 0f], [0f, 0f, 0f, 0f, -1f], false);
        Assert.That(SignThresholds.TryDerive(affine, 10, false, out SignThresholds? t), Is.True);
        // channel 4 is constant −1: threshold int.MinValue with the flip set, so pooled by AND (any choice is exact)
        Assert.That(t!.Flips, Is.EqualTo(new[] { 0b11010UL }));
        Assert.That(t.NonDecreasing, Is.EqualTo(new[] { 0b00101UL }));
        Assert.That(t.Thresholds[4], Is.EqualTo(int.MinValue));
    }
}
