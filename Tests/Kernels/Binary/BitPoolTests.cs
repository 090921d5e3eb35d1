using BinaryGrad.Kernels.Binary;
using NUnit.Framework;

namespace BinaryGrad.Tests.Kernels.Binary;

[TestFixture, Category("Kernels")]
public class BitPoolTests
{
    /// <summary>For integer values v and per-channel monotone predicates P (rising: v ≥ t, falling: v ≤ t), the pooled
    /// bits must be P(max over the window of v), computed here directly from the values.</summary>
    [TestCase(2, 65, 7, 6, 2, 2)]
    [TestCase(1, 3, 5, 5, 3, 1)]
    [TestCase(3, 130, 4, 4, 2, 2)]
    [TestCase(1, 64, 3, 3, 3, 3)]
    [TestCase(2, 1, 2, 2, 1, 1)]
    public void MaxPoolOnBits_EqualsThePredicateOfTheMaximum(int batch, int channels, int height, int width, int kernel, int stride)
    {
        var random = new Random(batch * 1000 + channels * 10 + kernel);
        int[] values = Enumerable.Range(0, batch * channels * height * width).Select(_ => random.Next(-5, 6)).ToArray(); // NCHW
        int[] thresholds = Enumerable.Range(0, channels).Select(_ => random.Next(-6, 7)).ToArray();
        bool[] rising = Enumerable.Range(0, channels).Select(_ => random.Next(2) == 0).ToArray();
        bool P(int c, int v) => rising[c] ? v >= thresholds[c] : v <= thresholds[c];

        int plane = height * width, oh = (height - kernel) / stride + 1, ow = (width - kernel) / stride + 1;
        float[] bitsAsSigns = values.Select((v, i) => P(i / plane % channels, v) ? 1f : -1f).ToArray();
        int wpp = BitPack.WordsPerPixel(channels);
        ulong[] bits = new ulong[batch * plane * wpp];
        BitPack.ChannelsLastReference<float>(bitsAsSigns, bits, batch, channels, plane);
        ulong[] orMask = new ulong[wpp];
        for (int c = 0; c < channels; c++) if (rising[c]) orMask[c >> 6] |= 1UL << (c & 63);

        float[] expectedSigns = new float[batch * channels * oh * ow];
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        int max = int.MinValue;
                        for (int ky = 0; ky < kernel; ky++)
                            for (int kx = 0; kx < kernel; kx++)
                                max = Math.Max(max, values[((n * channels + c) * height + i * stride + ky) * width + j * stride + kx]);
                        expectedSigns[((n * channels + c) * oh + i) * ow + j] = P(c, max) ? 1f : -1f;
                    }
        ulong[] expected = new ulong[batch * oh * ow * wpp];
        BitPack.ChannelsLastReference<float>(expectedSigns, expected, batch, channels, oh * ow);

        ulong[] actual = Enumerable.Repeat(ulong.MaxValue, expected.Length).ToArray();
        BitPool.MaxPoolChannelsLast(bits, actual, batch, channels, height, width, kernel, stride, orMask);
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void WindowLargerThanTheMap_ThrowsWithTheSizes() =>
        Assert.That(() => BitPool.MaxPoolChannelsLast(new ulong[4], new ulong[4], 1, 3, 2, 2, 3, 1, new ulong[1]),
                    Throws.ArgumentException.With.Message.Contains("3×3 window").And.Message.Contains("2×2 map"));
}
