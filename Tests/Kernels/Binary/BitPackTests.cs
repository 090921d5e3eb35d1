using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;
using NUnit.Framework;

namespace BinaryGrad.Tests.Kernels.Binary;

[TestFixture, Category("Kernels")]
public class BitPackTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    // Empty, inside one word, word edges, several words with and without a tail, and past one Vector512 of floats.
    private static readonly int[] Lengths = [0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 65, 127, 128, 129, 200, 511, 513];

    /// <summary>Uniform values in (−1, 1) with the special values sprinkled in: ±0, NaN, ±∞, ±subnormal.</summary>
    internal static float[] WithSpecials(int length, int seed)
    {
        var random = new Random(seed);
        float[] specials = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon];
        var x = new float[length];
        for (int i = 0; i < length; i++)
            x[i] = random.Next(8) == 0 ? specials[random.Next(specials.Length)] : (float)(random.NextDouble() * 2 - 1);
        return x;
    }

    private static float SignOf(float v) => v >= 0f ? 1f : -1f; // the documented convention: ±0 → +1, NaN → −1

    [Test]
    public void Pack_EveryPath_MatchesSignConventionAndZeroesPadding(
        [ValueSource(nameof(Paths))] SimdPath path, [ValueSource(nameof(Lengths))] int length)
    {
        float[] x = WithSpecials(length, seed: length);
        int words = BitPack.WordsPerPixel(length);
        ulong[] bits = new ulong[words + 1];
        Array.Fill(bits, ulong.MaxValue); // stale bits must be overwritten, the guard word left alone
        using (Simd.Force(path)) BitPack.Pack(x, bits.AsSpan(0, words));

        float[] unpacked = new float[length];
        BitPack.Unpack(bits, unpacked);
        Assert.That(unpacked, Is.EqualTo(x.Select(SignOf).ToArray()), "signs");
        if (length % 64 != 0) Assert.That(bits[words - 1] >> (length % 64), Is.Zero, "padding bits of the last word");
        Assert.That(bits[words], Is.EqualTo(ulong.MaxValue), "wrote past the end");
    }

    [Test]
    public void Pack_Double_EveryPath_MatchesFloatPackOfSameValues(
        [ValueSource(nameof(Paths))] SimdPath path, [ValueSource(nameof(Lengths))] int length)
    {
        float[] x = WithSpecials(length, seed: 100 + length);
        double[] xd = x.Select(v => (double)v).ToArray();
        ulong[] expected = new ulong[BitPack.WordsPerPixel(length)], actual = new ulong[expected.Length];
        BitPack.Reference<float>(x, expected);
        using (Simd.Force(path)) BitPack.Pack(xd, actual);
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void PackRows_EveryPath_RoundTripsAndZeroesPaddingWords(
        [ValueSource(nameof(Paths))] SimdPath path, [Values(1, 63, 64, 65, 200, 513)] int bitCount)
    {
        const int rows = 3;
        float[] x = WithSpecials(rows * bitCount, seed: bitCount);
        int stride = BitPack.WordsPerRow(bitCount);
        ulong[] bits = Enumerable.Repeat(ulong.MaxValue, rows * stride).ToArray();
        using (Simd.Force(path)) BitPack.PackRows(x, bits, rows, bitCount);

        Assert.That(stride % BitPack.RowAlignmentWords, Is.Zero, "stride alignment");
        float[] unpacked = new float[x.Length];
        BitPack.UnpackRows(bits, unpacked, rows, bitCount);
        Assert.That(unpacked, Is.EqualTo(x.Select(SignOf).ToArray()), "signs");
        for (int r = 0; r < rows; r++)
            Assert.That(bits.Skip(r * stride + BitPack.WordsPerPixel(bitCount)).Take(stride - BitPack.WordsPerPixel(bitCount)),
                        Is.All.Zero, $"padding words of row {r}");
    }

    [Test]
    public void PackChannelsLast_EveryPath_MatchesReferenceAndRoundTrips(
        [ValueSource(nameof(Paths))] SimdPath path, [Values(1, 3, 63, 64, 65, 130)] int channels, [Values(5, 15)] int width)
    {
        // planes of 15 pixels (inside one 64-pixel block) and 135 (two whole blocks and a tail of 7); 3 images over 2 threads
        int batch = width == 5 ? 2 : 3, height = width == 5 ? 3 : 9;
        float[] x = WithSpecials(batch * channels * height * width, seed: channels);
        int words = batch * height * width * BitPack.WordsPerPixel(channels);
        ulong[] expected = new ulong[words], actual = Enumerable.Repeat(ulong.MaxValue, words).ToArray();
        BitPack.ChannelsLastReference<float>(x, expected, batch, channels, height * width);
        using (Simd.Force(path)) BitPack.PackChannelsLast(x, actual, batch, channels, height, width);
        Assert.That(actual, Is.EqualTo(expected), "layout");

        float[] unpacked = new float[x.Length];
        BitPack.UnpackChannelsLast(actual, unpacked, batch, channels, height, width);
        Assert.That(unpacked, Is.EqualTo(x.Select(SignOf).ToArray()), "round trip");
    }

    /// <summary>The threshold pack against the rule written out here: bit c of pixel p is <c>x ≤ t_c</c> for channels in the
    /// mask, else <c>x ≥ t_c</c>; thresholds include ±0, ±∞ and values equal to some inputs (ties), inputs NaN and ±0.
    /// Planes of 15, 135 and 667 pixels (inside one vector block, several with a tail, past one 512-pixel block).</summary>
    [Test]
    public void PackChannelsLastThresholds_EveryPath_MatchesTheComparisons(
        [ValueSource(nameof(Paths))] SimdPath path, [Values(1, 5, 33, 64, 65, 130)] int channels, [Values(15, 135, 667)] int plane)
    {
        const int batch = 2;
        (int height, int width) = plane switch { 15 => (3, 5), 135 => (9, 15), _ => (23, 29) };
        float[] x = WithSpecials(batch * channels * plane, seed: channels + plane);
        var random = new Random(channels);
        float[] specials = [0f, -0f, float.PositiveInfinity, float.NegativeInfinity, 0.25f];
        float[] thresholds = Enumerable.Range(0, channels)
            .Select(c => random.Next(3) == 0 ? specials[random.Next(specials.Length)] : x[random.Next(x.Length)] is float v && !float.IsNaN(v) ? v : 0.5f)
            .ToArray();
        ulong[] below = Enumerable.Range(0, BitPack.WordsPerPixel(channels)).Select(_ => (ulong)random.NextInt64()).ToArray();
        int last = channels % 64;
        if (last != 0) below[^1] &= (1UL << last) - 1;
        int wpp = BitPack.WordsPerPixel(channels);
        var expected = new ulong[batch * plane * wpp];
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < plane; p++)
                {
                    float v = x[(n * channels + c) * plane + p];
                    bool isBelow = ((below[c >> 6] >> (c & 63)) & 1) != 0;
                    if (isBelow ? v <= thresholds[c] : v >= thresholds[c]) expected[(n * plane + p) * wpp + (c >> 6)] |= 1UL << (c & 63);
                }
        ulong[] actual = Enumerable.Repeat(ulong.MaxValue, expected.Length).ToArray(), reference = new ulong[expected.Length];
        using (Simd.Force(path)) BitPack.PackChannelsLast(x, actual, batch, channels, height, width, thresholds, below);
        BitPack.ChannelsLastReference<float>(x, reference, batch, channels, plane, thresholds, below);
        Assert.That(actual, Is.EqualTo(expected), "packed");
        Assert.That(reference, Is.EqualTo(expected), "reference");
    }

    /// <summary>Doubles take the row-pack-and-transpose path (64 channels and more) or the scatter path (fewer), floats
    /// never do: the same values as doubles pack to the float reference's bits on every path.</summary>
    [Test]
    public void PackChannelsLast_Double_EveryPath_MatchesFloatReference(
        [ValueSource(nameof(Paths))] SimdPath path, [Values(1, 3, 31, 32, 64, 65, 130)] int channels, [Values(15, 135)] int plane)
    {
        const int batch = 3;
        (int height, int width) = plane == 15 ? (3, 5) : (9, 15);
        float[] x = WithSpecials(batch * channels * plane, seed: 11 * channels + plane);
        int words = batch * plane * BitPack.WordsPerPixel(channels);
        ulong[] expected = new ulong[words], actual = Enumerable.Repeat(ulong.MaxValue, words).ToArray();
        BitPack.ChannelsLastReference<float>(x, expected, batch, channels, plane);
        using (Simd.Force(path)) BitPack.PackChannelsLast(x.Select(v => (double)v).ToArray(), actual, batch, channels, height, width);
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void PackChannelsLast_LargePlane_EveryPath_MatchesReference([ValueSource(nameof(Paths))] SimdPath path, [Values(3, 64, 100)] int channels)
    {
        const int batch = 2, height = 23, width = 29; // 667 pixels: one whole 512-pixel block, a partial one and a tail
        float[] x = WithSpecials(batch * channels * height * width, seed: 7 * channels);
        int words = batch * height * width * BitPack.WordsPerPixel(channels);
        ulong[] expected = new ulong[words], actual = Enumerable.Repeat(ulong.MaxValue, words).ToArray();
        BitPack.ChannelsLastReference<float>(x, expected, batch, channels, height * width);
        using (Simd.Force(path)) BitPack.PackChannelsLast(x, actual, batch, channels, height, width);
        Assert.That(actual, Is.EqualTo(expected));
    }

    /// <summary>Sign planes (each plane packed by the one-bit-at-a-time specification) transposed into channels-last
    /// words equal the float channels-last reference of the same values: channel counts below, at and past one and two
    /// 64-channel words; planes of 1 pixel, 15 (inside one 64-pixel block), 64 (one whole block) and 135 (two blocks and
    /// a tail of 7); every word written (stale words filled with ones first).</summary>
    [Test]
    public void ChannelsLastFromPlanes_EveryPath_EqualsPackOfTheValues(
        [ValueSource(nameof(Paths))] SimdPath path, [Values(1, 3, 16, 63, 64, 65, 130)] int channels, [Values(1, 15, 64, 135)] int plane)
    {
        const int batch = 3; // over 2 threads: 2 images and 1
        (int height, int width) = plane switch { 15 => (3, 5), 64 => (8, 8), 135 => (9, 15), _ => (1, plane) };
        float[] x = WithSpecials(batch * channels * plane, seed: channels * 1000 + plane);
        int planeWords = BitPack.WordsPerPlane(plane), words = batch * plane * BitPack.WordsPerPixel(channels);
        ulong[] planes = new ulong[batch * channels * planeWords];
        for (int i = 0; i < batch * channels; i++)
            BitPack.Reference<float>(x.AsSpan(i * plane, plane), planes.AsSpan(i * planeWords, planeWords));
        ulong[] expected = new ulong[words], actual = Enumerable.Repeat(ulong.MaxValue, words).ToArray();
        BitPack.ChannelsLastReference<float>(x, expected, batch, channels, plane);
        using (Simd.Force(path)) BitPack.ChannelsLastFromPlanes(planes, actual, batch, channels, height, width);
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void ChannelsLastFromPlanes_TooFewPlaneWords_NamesTheSpan() =>
        Assert.That(() => BitPack.ChannelsLastFromPlanes(new ulong[5], new ulong[2 * 3 * 65], 2, 3, 5, 13),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("planes").And.Message.Contains("5 < 12"));

    [Test]
    public void PackChannelsLastThresholds_TooFewThresholds_Throws() =>
        Assert.That(() => BitPack.PackChannelsLast(new float[2 * 4], new ulong[4], 1, 2, 2, 2, new float[1], new ulong[1]),
                    Throws.ArgumentException.With.Message.Contains("thresholds"));

    [Test]
    public void Transpose64_MovesBitCOfRowRToBitROfRowC()
    {
        var random = new Random(64);
        ulong[] m = Enumerable.Range(0, 64).Select(_ => (ulong)random.NextInt64() ^ ((ulong)random.Next() << 40)).ToArray();
        ulong[] t = (ulong[])m.Clone();
        BitPack.Transpose64(t);
        for (int r = 0; r < 64; r++)
            for (int c = 0; c < 64; c++)
                Assert.That((t[r] >> c) & 1, Is.EqualTo((m[c] >> r) & 1), $"bit {c} of row {r}");
    }

    [Test]
    public unsafe void Transpose64Vector512_EqualsTheWordSwaps([Values(1, 2, 3)] int seed)
    {
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) Assert.Ignore("no Vector512 on this machine");
        var random = new Random(seed);
        ulong[] m = Enumerable.Range(0, 64).Select(_ => (ulong)random.NextInt64() ^ ((ulong)random.Next() << 40)).ToArray();
        ulong[] expected = new ulong[64];
        for (int r = 0; r < 64; r++)
            for (int c = 0; c < 64; c++)
                expected[r] |= ((m[c] >> r) & 1) << c;
        fixed (ulong* p = m) BitPack.Transpose64Vector512(p);
        Assert.That(m, Is.EqualTo(expected));
    }

    [Test]
    public void Transpose64_FewerThan64Words_Throws() =>
        Assert.That(() => BitPack.Transpose64(new ulong[63]), Throws.ArgumentException.With.Message.Contains("needs 64 words, got 63"));

    [Test]
    public void PackChannelsLast_PutsChannelCOfPixelAtBitCOfThatPixelsWords()
    {
        // One +1 at (n=1, c=70, h=2, w=1) in a field of −1: only word 1, bit 6 of pixel (1, 2, 1) may be set.
        const int batch = 2, channels = 71, height = 3, width = 4;
        float[] x = Enumerable.Repeat(-1f, batch * channels * height * width).ToArray();
        x[((1 * channels + 70) * height + 2) * width + 1] = 1f;
        ulong[] bits = new ulong[batch * height * width * 2];
        BitPack.PackChannelsLast(x, bits, batch, channels, height, width);
        int pixelWord = ((1 * height + 2) * width + 1) * 2;
        Assert.That(bits[pixelWord + 1], Is.EqualTo(1UL << 6));
        Assert.That(bits.Count(w => w != 0), Is.EqualTo(1));
    }

    [Test]
    public void Pack_TooFewWords_Throws() =>
        Assert.That(() => BitPack.Pack(new float[65], new ulong[1]), Throws.ArgumentException);
}
