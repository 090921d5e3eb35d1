using BinaryGrad.Kernels;
using NUnit.Framework;

namespace BinaryGrad.Tests.Kernels;

/// <summary>The activation vector loops against the scalar formulas, bit for bit, on odd lengths (vector part plus a
/// tail the caller's scalar loop finishes) and on the values where the selects matter: NaN, ±0, the clamp bounds.</summary>
[TestFixture, Category("Kernels")]
public class ActivationKernelsTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];
    private static readonly float[] Specials = [float.NaN, 0f, -0f, 1f, -1f, 1.0000001f, -0.9999999f, 2.5f, -3f, 0.25f];

    private static float[] Values(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.Next(3) == 0 ? Specials[random.Next(Specials.Length)] : (float)(random.NextDouble() * 6 - 3)).ToArray();
    }

    /// <summary>The open-window backward (<c>lo &lt; x &lt; hi</c>) and the count of values equal to a bound against
    /// their scalar definitions, with the bounds themselves, NaN and ±0 among the values.</summary>
    [Test]
    public void OpenWindowBackwardAndCountEqual_EqualTheScalarDefinitions([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 7, 8, 17, 67)] int length)
    {
        float[] x = Values(length, 3 * length), dy = Values(length, 3 * length + 1), dx = new float[length];
        int done;
        long ones, minusOnes;
        using (Simd.Force(path))
        {
            done = ActivationKernels.ClampBackward<float>(x, dy, dx, -1f, 1f, inclusive: false);
            (ones, minusOnes) = (ActivationKernels.CountEqual<float>(x, 1f), ActivationKernels.CountEqual<float>(x, -1f));
        }
        if (path == SimdPath.Scalar) Assert.That(done, Is.Zero);
        for (int i = 0; i < done; i++)
        {
            float expected = x[i] > -1f && x[i] < 1f ? dy[i] : 0f;
            Assert.That(BitConverter.SingleToInt32Bits(dx[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(expected)), $"dx[{i}] for x = {x[i]}");
        }
        Assert.That(ones, Is.EqualTo(x.Count(v => v == 1f)), "values equal to 1");
        Assert.That(minusOnes, Is.EqualTo(x.Count(v => v == -1f)), "values equal to −1");
    }

    /// <summary>The batch-norm epilogue a = (x·scale + shift) + s, y = clamp(a), against the formula written out here
    /// (three roundings, two selects) bit for bit, and its count of a on a bound against a count of the same a; scale
    /// 0.5 and shift 0.5 put many a exactly on ±1.</summary>
    [Test]
    public void ScaleShiftAddClamp_EqualsTheFormula_AndCountsTheBounds([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 7, 8, 17, 67)] int length)
    {
        float[] x = Values(length, 5 * length), s = Values(length, 5 * length + 1), y = new float[length];
        const float Scale = 0.5f, Shift = 0.5f;
        long onBounds = 0;
        int done;
        using (Simd.Force(path))
        {
            done = ActivationKernels.ScaleShiftAddClamp<float>(x, Scale, Shift, s, y, -1f, 1f, ref onBounds);
            ActivationKernels.ScaleShiftAddClampScalar<float>(x, Scale, Shift, s, y, -1f, 1f, ref onBounds, done);
        }
        if (path == SimdPath.Scalar) Assert.That(done, Is.Zero);
        long expectedOnBounds = 0;
        for (int i = 0; i < length; i++)
        {
            float product = x[i] * Scale, shifted = product + Shift, a = shifted + s[i];
            if (a == 1f || a == -1f) expectedOnBounds++;
            float expected = a < -1f ? -1f : a > 1f ? 1f : a;
            Assert.That(BitConverter.SingleToInt32Bits(y[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(expected)), $"y[{i}] for x = {x[i]}, s = {s[i]}");
        }
        Assert.That(onBounds, Is.EqualTo(expectedOnBounds), "values of a on a bound");
    }

    /// <summary>The PReLU forward, the fused batch-norm + add + PReLU epilogue and the PReLU backward against the formulas
    /// written out here, bit for bit for y and dx (NaN and ±0 among the values, a negative slope too); the backward's
    /// slope-gradient share against a float64 sum of the same rounded products, to summation order.</summary>
    [Test]
    public void PRelu_ForwardEpilogueAndBackward_EqualTheFormulas([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 7, 8, 17, 67)] int length,
        [Values(0.25f, -0.5f)] float slope)
    {
        float[] x = Values(length, 7 * length), s = Values(length, 7 * length + 1), dy = Values(length, 7 * length + 2);
        float[] y = new float[length], fused = new float[length], dx = new float[length], dxScalar = new float[length];
        const float Scale = 0.5f, Shift = -0.25f;
        double share, shareScalar;
        using (Simd.Force(path))
        {
            for (int i = ActivationKernels.PReluForward<float>(x, y, slope); i < length; i++) y[i] = x[i] > 0 ? x[i] : slope * x[i];
            int done = ActivationKernels.ScaleShiftAddPRelu<float>(x, Scale, Shift, s, fused, slope);
            ActivationKernels.ScaleShiftAddPReluScalar<float>(x, Scale, Shift, s, fused, slope, done);
            if (path == SimdPath.Scalar) Assert.That(done, Is.Zero);
            share = ActivationKernels.PReluBackward<float>(x, dy, dx, slope);
            shareScalar = ActivationKernels.PReluBackwardScalar<float>(x, dy, dxScalar, slope);
            // the one-pass backward of the epilogue: PReluBackward of a = (x·scale + shift) + s, bit for bit, share included
            float[] a = new float[length], dzFromA = new float[length], dzFused = new float[length];
            for (int i = 0; i < length; i++) a[i] = x[i] * Scale + Shift + s[i];
            double shareFromA = ActivationKernels.PReluBackward<float>(a, dy, dzFromA, slope);
            double shareFused = ActivationKernels.ScaleShiftAddPReluBackward<float>(x, Scale, Shift, s, dy, dzFused, slope);
            Assert.That(dzFused.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(dzFromA.Select(BitConverter.SingleToInt32Bits)), "epilogue dz");
            Assert.That(BitConverter.DoubleToInt64Bits(shareFused), Is.EqualTo(BitConverter.DoubleToInt64Bits(shareFromA)), "epilogue share");
        }
        static int Bits(float v) => BitConverter.SingleToInt32Bits(v);
        double expectedShare = 0;
        for (int i = 0; i < length; i++)
        {
            Assert.That(Bits(y[i]), Is.EqualTo(Bits(x[i] > 0 ? x[i] : slope * x[i])), $"y[{i}] for x = {x[i]}");
            float product = x[i] * Scale, shifted = product + Shift, a = shifted + s[i];
            Assert.That(Bits(fused[i]), Is.EqualTo(Bits(a > 0 ? a : slope * a)), $"epilogue y[{i}] for x = {x[i]}, s = {s[i]}");
            float expectedDx = x[i] > 0 ? dy[i] : slope * dy[i];
            Assert.That(Bits(dx[i]), Is.EqualTo(Bits(expectedDx)), $"dx[{i}] for x = {x[i]}");
            Assert.That(Bits(dxScalar[i]), Is.EqualTo(Bits(expectedDx)), $"scalar dx[{i}]");
            if (!(x[i] > 0)) expectedShare += dy[i] * x[i];
        }
        if (double.IsNaN(expectedShare)) Assert.That(share, Is.NaN);
        else Assert.That(share, Is.EqualTo(expectedShare).Within(1e-5 * (1 + Math.Abs(expectedShare))), "slope-gradient share");
        Assert.That(BitConverter.DoubleToInt64Bits(shareScalar), Is.EqualTo(BitConverter.DoubleToInt64Bits(expectedShare)), "scalar reference: float64 in order");
    }

    /// <summary>The epilogue that also packs y's signs: y and the bound count as the formula above, bit for bit, and bit p
    /// of the words y[p] ≥ 0 (a value exactly 0, from x = −1, s = 0, counts +1), the last word's bits past the end 0;
    /// lengths inside one word, on word edges and with tails past whole 512-bit words.</summary>
    [Test]
    public void ScaleShiftAddClampSigns_EqualsTheFormula_AndPacksTheSigns([ValueSource(nameof(Paths))] SimdPath path,
        [Values(1, 16, 17, 48, 63, 64, 65, 128, 200)] int length)
    {
        float[] x = Values(length, 9 * length), s = Values(length, 9 * length + 1), y = new float[length];
        x[0] = -1f; s[0] = 0f; // a = −0.5 + 0.5 + 0 = +0
        const float Scale = 0.5f, Shift = 0.5f;
        ulong[] words = Enumerable.Repeat(ulong.MaxValue, (length + 63) / 64 + 1).ToArray();
        long onBounds = 0;
        using (Simd.Force(path))
            ActivationKernels.ScaleShiftAddClampSigns(x, Scale, Shift, s, y, -1f, 1f, ref onBounds, words.AsSpan(0, (length + 63) / 64));
        long expectedOnBounds = 0;
        for (int i = 0; i < length; i++)
        {
            float a = x[i] * Scale + Shift + s[i];
            if (a == 1f || a == -1f) expectedOnBounds++;
            float expected = a < -1f ? -1f : a > 1f ? 1f : a;
            Assert.That(BitConverter.SingleToInt32Bits(y[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(expected)), $"y[{i}]");
            Assert.That((words[i / 64] >> (i % 64)) & 1, Is.EqualTo(expected >= 0f ? 1UL : 0UL), $"sign bit {i} of y = {expected}");
        }
        Assert.That(y[0], Is.EqualTo(0f), "a value of exactly 0");
        if (length % 64 != 0) Assert.That(words[length / 64] >> (length % 64), Is.Zero, "bits past the end");
        Assert.That(words[^1], Is.EqualTo(ulong.MaxValue), "no word written past the last");
        Assert.That(onBounds, Is.EqualTo(expectedOnBounds), "values of a on a bound");
    }

    [Test]
    public void ScaleShiftAddClampSigns_TooFewSignWords_NamesThem()
    {
        long onBounds = 0;
        var error = Assert.Throws<ArgumentException>(() => ActivationKernels.ScaleShiftAddClampSigns(new float[65], 1f, 0f, new float[65], new float[65], -1f, 1f, ref onBounds, new ulong[1]))!;
        Assert.That(error.ParamName, Is.EqualTo("signs"));
        Assert.That(error.Message, Does.Contain("1 sign words for 65 values").And.Contain("needs 2"));
    }

    /// <summary>Batch norm's input gradient dx = (x·a + dy·k) + b against the formula written out here (four roundings
    /// in that order), bit for bit.</summary>
    [Test]
    public void BatchNormInputGradient_EqualsTheFormula([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 7, 8, 17, 67)] int length)
    {
        float[] dy = Values(length, 7 * length), x = Values(length, 7 * length + 1), dx = new float[length];
        const float K = 1.7f, A = -0.3f, B = 0.11f;
        int done;
        using (Simd.Force(path))
        {
            done = ActivationKernels.BatchNormInputGradient<float>(dy, x, K, A, B, dx);
            ActivationKernels.BatchNormInputGradientScalar<float>(dy, x, K, A, B, dx, done);
        }
        if (path == SimdPath.Scalar) Assert.That(done, Is.Zero);
        for (int i = 0; i < length; i++)
        {
            float fromX = x[i] * A, fromDy = dy[i] * K, sum = fromX + fromDy, expected = sum + B;
            Assert.That(BitConverter.SingleToInt32Bits(dx[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(expected)), $"dx[{i}] for x = {x[i]}, dy = {dy[i]}");
        }
    }

    /// <summary>The batch-norm loops on empty planes do nothing, and an input shorter than the output is named, not an
    /// index out of range.</summary>
    [Test]
    public void BatchNormLoops_EmptyPlanesAndShortInputs([ValueSource(nameof(Paths))] SimdPath path)
    {
        long onBounds = 0;
        using (Simd.Force(path))
        {
            Assert.That(ActivationKernels.ScaleShiftAddClamp<float>([], 1f, 0f, [], [], -1f, 1f, ref onBounds), Is.Zero);
            Assert.That(ActivationKernels.BatchNormInputGradient<float>([], [], 1f, 0f, 0f, []), Is.Zero);
            var error = Assert.Throws<ArgumentException>(() => ActivationKernels.BatchNormInputGradient<float>(new float[9], new float[8], 1f, 0f, 0f, new float[9]));
            Assert.That(error!.Message, Does.Contain("x 8").And.Contain("output's 9"));
            error = Assert.Throws<ArgumentException>(() => { long n = 0; ActivationKernels.ScaleShiftAddClamp<float>(new float[3], 1f, 0f, new float[2], new float[3], -1f, 1f, ref n); });
            Assert.That(error!.Message, Does.Contain("s 2"));
        }
        Assert.That(onBounds, Is.Zero);
    }

    [Test]
    public void Clamp_ForwardAndBackward_EqualTheScalarLoop([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 7, 8, 17, 67)] int length)
    {
        float[] x = Values(length, length), dy = Values(length, length + 1);
        float[] y = new float[length], dx = new float[length];
        int forward, backward;
        using (Simd.Force(path))
        {
            forward = ActivationKernels.ClampForward<float>(x, y, -1f, 1f);
            backward = ActivationKernels.ClampBackward<float>(x, dy, dx, -1f, 1f);
        }
        if (path == SimdPath.Scalar) Assert.That((forward, backward), Is.EqualTo((0, 0)), "the scalar path leaves every element to the scalar loop");
        Assert.That(forward, Is.EqualTo(backward));
        for (int i = 0; i < forward; i++)
        {
            float expectedY = x[i] < -1f ? -1f : x[i] > 1f ? 1f : x[i];
            float expectedDx = x[i] >= -1f && x[i] <= 1f ? dy[i] : 0f;
            Assert.That(BitConverter.SingleToInt32Bits(y[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(expectedY)), $"y[{i}] for x = {x[i]}");
            Assert.That(BitConverter.SingleToInt32Bits(dx[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(expectedDx)), $"dx[{i}] for x = {x[i]}");
        }
    }

    [Test]
    public void LeakyReluBackward_EqualsTheScalarLoop([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 5, 16, 33)] int length, [Values(0.0, 0.01)] double slope)
    {
        double[] x = Values(length, 3 * length).Select(v => (double)v).ToArray(), dy = Values(length, 3 * length + 1).Select(v => (double)v).ToArray();
        double[] dx = new double[length];
        int done;
        using (Simd.Force(path)) done = ActivationKernels.LeakyReluBackward<double>(x, dy, dx, slope);
        if (path == SimdPath.Scalar) Assert.That(done, Is.Zero);
        for (int i = 0; i < done; i++)
        {
            double expected = x[i] > 0 ? dy[i] : slope * dy[i];
            Assert.That(BitConverter.DoubleToInt64Bits(dx[i]), Is.EqualTo(BitConverter.DoubleToInt64Bits(expected)), $"dx[{i}] for x = {x[i]}");
        }
    }
}
