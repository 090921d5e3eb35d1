using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Layers.Inference;

/// <summary>The per-channel float comparisons of a folded batch norm + sign against the float expression the evaluation
/// computes, written out here.</summary>
[TestFixture]
public class FloatSignThresholdsTests
{
    private static bool FloatBit(float scale, float shift, float v, bool fma) =>
        (fma ? MathF.FusedMultiplyAdd(v, scale, shift) : v * scale + shift) >= 0f;

    private static bool ThresholdBit(FloatSignThresholds t, int c, float v) =>
        ((t.Below[c >> 6] >> (c & 63)) & 1) != 0 ? v <= t.Thresholds[c] : v >= t.Thresholds[c];

    /// <summary>Every channel at values around its threshold (the 40 floats either side), at ±0, ±∞, NaN, the largest
    /// finite floats and random values of many magnitudes.</summary>
    private static void AssertAround(AffineLayer affine, bool fma, int seed)
    {
        Assert.That(FloatSignThresholds.TryDerive(affine, fma, out FloatSignThresholds? t), Is.True);
        var random = new Random(seed);
        for (int c = 0; c < affine.Channels; c++)
        {
            var probes = new List<float> { 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.MaxValue, -float.MaxValue, float.Epsilon, -float.Epsilon };
            float v = t!.Thresholds[c];
            float up = v, down = v;
            probes.Add(v);
            for (int k = 0; k < 40; k++)
            {
                probes.Add(up = MathF.BitIncrement(up));
                probes.Add(down = MathF.BitDecrement(down));
            }
            for (int k = 0; k < 200; k++) probes.Add((float)((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-30, 30))));
            foreach (float probe in probes)
                Assert.That(ThresholdBit(t, c, probe), Is.EqualTo(FloatBit(affine.Scale[c], affine.Shift[c], probe, fma)),
                    $"channel {c} (scale {affine.Scale[c]:R}, shift {affine.Shift[c]:R}, threshold {t.Thresholds[c]:R}), v {probe:R}, fma {fma}");
        }
    }

    [Test]
    public void RandomFoldedBatchNorms_GiveTheFloatBit([Values(false, true)] bool fma)
    {
        var random = new Random(fma ? 12 : 11);
        const int channels = 130;
        float[] scale = new float[channels], shift = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            scale[c] = (float)((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-8, 4)));
            shift[c] = (float)((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-8, 4)));
        }
        AssertAround(new AffineLayer(scale, shift, fma), fma, seed: 5);
    }

    /// <summary>Ties (y = 0 exactly at the threshold, where 0 → +1), a zero shift with both scale signs (−0 and +0 inputs),
    /// tiny and huge scales where v·scale underflows or overflows, and shifts that dominate every finite product.</summary>
    [Test]
    public void TiesUnderflowOverflow_GiveTheFloatBit([Values(false, true)] bool fma)
    {
        float[] scale = [0.5f, -0.5f, 1f, -1f, 1e-38f, -1e-38f, float.Epsilon, 3e38f, -3e38f, 1f / 3, 2f];
        float[] shift = [-2f, 2f, 0f, 0f, 1e-45f, 0f, -0f, 1f, -1f, -7f / 3, float.MaxValue];
        var affine = new AffineLayer(scale, shift, fma);
        AssertAround(affine, fma, seed: 9);
        Assert.That(FloatSignThresholds.TryDerive(affine, fma, out FloatSignThresholds? t), Is.True);
        Assert.That(t!.Thresholds[0], Is.EqualTo(4f), "0.5·4 − 2 = 0 exactly: the least v with y ≥ 0");
        Assert.That(t.Thresholds[1], Is.EqualTo(4f), "−0.5·4 + 2 = 0: the greatest v with y ≥ 0");
        Assert.That(((t.Below[0] >> 1) & 1, (t.Below[0] >> 0) & 1), Is.EqualTo((1UL, 0UL)), "negative scales compare from below");
    }

    [Test]
    public void ZeroOrNonFiniteScaleOrShift_IsRefused(
        [Values(0f, -0f, float.NaN, float.PositiveInfinity, 1f)] float scale, [Values(0f, float.NaN, float.NegativeInfinity)] float shift)
    {
        bool monotone = scale == 1f && float.IsFinite(shift);
        Assert.That(FloatSignThresholds.TryDerive(new AffineLayer([1f, scale], [0f, shift], false), false, out _), Is.EqualTo(monotone));
    }

    [Test]
    public void Order_IsMonotoneOverTheFloatLine()
    {
        float[] ordered = [float.NegativeInfinity, -float.MaxValue, -1f, -float.Epsilon, 0f, float.Epsilon, 1f, float.MaxValue, float.PositiveInfinity];
        for (int i = 1; i < ordered.Length; i++)
            Assert.That(FloatSignThresholds.Order(ordered[i]), Is.GreaterThan(FloatSignThresholds.Order(ordered[i - 1])));
        Assert.That(FloatSignThresholds.Order(-0f), Is.EqualTo(FloatSignThresholds.Order(0f)));
        foreach (float v in ordered) Assert.That(FloatSignThresholds.FromOrder(FloatSignThresholds.Order(v)), Is.EqualTo(v));
    }
}
