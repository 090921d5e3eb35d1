using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;
using NUnit.Framework;

namespace BinaryGrad.Tests.Kernels.Binary;

/// <summary>The channels-last residual store and the layout transposes, against the definition evaluated by hand.</summary>
[TestFixture, Category("Kernels")]
public class XnorConv2DChannelsLastTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    // output channels 16 (ResNet-20's stage), 8, odd counts below, between and above a vector and a word (tails)
    private static readonly XnorConv2DShape[] Shapes =
    [
        new(2, 16, 8, 8, 16, 3, 3, 1, 1),
        new(1, 8, 5, 7, 8, 3, 3, 1, 1),
        new(3, 5, 6, 5, 5, 3, 3, 1, 1),
        new(1, 13, 9, 4, 13, 3, 3, 1, 1),
        new(2, 24, 4, 4, 24, 3, 3, 1, 1),
        new(1, 70, 3, 5, 70, 3, 3, 1, 1),
    ];

    private static IEnumerable<TestCaseData> Cases() =>
        from shape in Shapes from path in Paths from threads in new[] { 1, 2 }
        select new TestCaseData(shape, path, threads).SetArgDisplayNames(
            $"N{shape.Batch} C{shape.InChannels} {shape.Height}x{shape.Width} O{shape.OutChannels}", path.ToString(), $"threads {threads}");

    [TestCaseSource(nameof(Cases))]
    public void ResidualChannelsLast_IsTheNchwUnitTransposed_WithTheSameSigns(XnorConv2DShape s, SimdPath path, int threads)
    {
        KernelThreads.Count = threads;
        var random = new Random(s.OutChannels * 31 + s.Height);
        float[] x = Enumerable.Range(0, s.Batch * s.InChannels * s.Height * s.Width).Select(_ => random.Next(2) == 0 ? -1f : 1f).ToArray();
        float[] w = Enumerable.Range(0, s.OutChannels * s.InChannels * 9).Select(_ => random.Next(2) == 0 ? -1f : 1f).ToArray();
        ulong[] px = new ulong[s.InputWords], pw = new ulong[s.OutChannels * s.WeightWordsPerFilter];
        BitPack.PackChannelsLast(x, px, s.Batch, s.InChannels, s.Height, s.Width);
        XnorConv2D.PackWeights(w, pw, s);
        float[] scale = Enumerable.Range(0, s.OutChannels).Select(_ => new[] { -1.5f, -1f, 0f, 0.5f, 2f }[random.Next(5)]).ToArray();
        float[] bias = Enumerable.Range(0, s.OutChannels).Select(_ => (float)random.Next(-3, 4)).ToArray();
        int pixels = s.OutHeight * s.OutWidth, count = (int)s.OutputCount;
        // quarter-integer shortcuts land on the clamp bounds and on zero often
        float[] shortcutNhwc = Enumerable.Range(0, count).Select(_ => random.Next(-12, 13) / 4f).ToArray();
        foreach ((float low, float high) in new[] { (-1f, 1f), (float.NegativeInfinity, float.PositiveInfinity) })
        {
            // the definition: the float convolution of the same ±1 tensors, per element y = clamp(scale·dot + bias + shortcut)
            var expected = new float[count];
            var expectedSigns = new ulong[s.PackedOutputWords];
            int wpp = BitPack.WordsPerPixel(s.OutChannels);
            for (int n = 0; n < s.Batch; n++)
                for (int oy = 0; oy < s.OutHeight; oy++)
                    for (int ox = 0; ox < s.OutWidth; ox++)
                        for (int o = 0; o < s.OutChannels; o++)
                        {
                            float dot = 0;
                            for (int c = 0; c < s.InChannels; c++)
                                for (int ky = 0; ky < 3; ky++)
                                    for (int kx = 0; kx < 3; kx++)
                                    {
                                        int iy = oy - 1 + ky, ix = ox - 1 + kx;
                                        if (iy < 0 || iy >= s.Height || ix < 0 || ix >= s.Width) continue;
                                        dot += x[((n * s.InChannels + c) * s.Height + iy) * s.Width + ix] * w[((o * s.InChannels + c) * 3 + ky) * 3 + kx];
                                    }
                            int pixel = (n * s.OutHeight + oy) * s.OutWidth + ox, at = pixel * s.OutChannels + o;
                            float v = scale[o] * dot + bias[o];
                            v += shortcutNhwc[at];
                            v = v < low ? low : v > high ? high : v;
                            expected[at] = v;
                            if (v >= 0) expectedSigns[pixel * wpp + o / 64] |= 1UL << (o % 64);
                        }
            float[] actual = Enumerable.Repeat(float.NaN, count).ToArray();
            ulong[] signs = Enumerable.Repeat(ulong.MaxValue, (int)s.PackedOutputWords).ToArray();
            using (Simd.Force(path)) XnorConv2D.ForwardResidualChannelsLast(px, pw, actual, s, scale, bias, shortcutNhwc, low, high, signs);
            Assert.That(actual, Is.EqualTo(expected), $"clamp to [{low}, {high}]");
            Assert.That(signs, Is.EqualTo(expectedSigns), "signs packed channels-last, zero padding bits");

            // and the NCHW store of the same unit, transposed, gives the same floats bit for bit
            float[] shortcutNchw = new float[count], nchw = new float[count], back = new float[count];
            using (Simd.Force(path)) XnorConv2D.PlanesFromChannelsLast(shortcutNhwc, shortcutNchw, s.Batch, s.OutChannels, pixels);
            XnorConv2D.ForwardResidual(px, pw, nchw, s, scale, bias, shortcutNchw, low, high);
            using (Simd.Force(path)) XnorConv2D.ChannelsLastFromPlanes(nchw, back, s.Batch, s.OutChannels, pixels);
            Assert.That(back.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(actual.Select(BitConverter.SingleToInt32Bits)));
        }
    }

    // (in channels, out channels, side, stride): ResNet-20's 16→32 and 32→64 (before = 8, 16: whole vectors), a
    // shortcut window that starts and ends inside a vector (5→12: before 3), odd sides, stride 1 with a wider output
    private static readonly (int In, int Out, int Side, int Stride)[] DownsampleCases = [(16, 32, 8, 2), (32, 64, 5, 2), (5, 12, 7, 2), (3, 9, 5, 1), (20, 70, 6, 2)];

    private static IEnumerable<TestCaseData> Downsamples() =>
        from c in DownsampleCases from path in Paths from threads in new[] { 1, 2 }
        select new TestCaseData(c.In, c.Out, c.Side, c.Stride, path, threads);

    [TestCaseSource(nameof(Downsamples))]
    public void DownsampleResidualChannelsLast_AddsTheStridedZeroPaddedShortcut(int inChannels, int outChannels, int side, int stride, SimdPath path, int threads)
    {
        KernelThreads.Count = threads;
        var s = new XnorConv2DShape(2, inChannels, side, side, outChannels, 3, 3, stride, 1);
        var random = new Random(inChannels * 7 + outChannels + side);
        float[] x = Enumerable.Range(0, s.Batch * inChannels * side * side).Select(_ => random.Next(2) == 0 ? -1f : 1f).ToArray();
        float[] w = Enumerable.Range(0, outChannels * inChannels * 9).Select(_ => random.Next(2) == 0 ? -1f : 1f).ToArray();
        ulong[] px = new ulong[s.InputWords], pw = new ulong[outChannels * s.WeightWordsPerFilter];
        BitPack.PackChannelsLast(x, px, s.Batch, inChannels, side, side);
        XnorConv2D.PackWeights(w, pw, s);
        float[] scale = Enumerable.Range(0, outChannels).Select(_ => new[] { -1.5f, -1f, 0f, 0.5f, 2f }[random.Next(5)]).ToArray();
        float[] bias = Enumerable.Range(0, outChannels).Select(_ => (float)random.Next(-3, 4)).ToArray();
        // the unit's input as the residual stream sees it: NHWC floats, quarter integers (ties with the clamp and zero)
        float[] shortcut = Enumerable.Range(0, s.Batch * side * side * inChannels).Select(_ => random.Next(-12, 13) / 4f).ToArray();
        int before = (outChannels - inChannels) / 2, wpp = BitPack.WordsPerPixel(outChannels);
        var expected = new float[s.OutputCount];
        var expectedSigns = new ulong[s.PackedOutputWords];
        for (int n = 0; n < s.Batch; n++)
            for (int oy = 0; oy < s.OutHeight; oy++)
                for (int ox = 0; ox < s.OutWidth; ox++)
                    for (int o = 0; o < outChannels; o++)
                    {
                        float dot = 0;
                        for (int c = 0; c < inChannels; c++)
                            for (int ky = 0; ky < 3; ky++)
                                for (int kx = 0; kx < 3; kx++)
                                {
                                    int iy = oy * stride - 1 + ky, ix = ox * stride - 1 + kx;
                                    if (iy < 0 || iy >= side || ix < 0 || ix >= side) continue;
                                    dot += x[((n * inChannels + c) * side + iy) * side + ix] * w[((o * inChannels + c) * 3 + ky) * 3 + kx];
                                }
                        int c0 = o - before;
                        float add = c0 >= 0 && c0 < inChannels ? shortcut[((n * side + oy * stride) * side + ox * stride) * inChannels + c0] : 0f;
                        float v = scale[o] * dot + bias[o];
                        v += add;
                        v = v < -1f ? -1f : v > 1f ? 1f : v;
                        int pixel = (n * s.OutHeight + oy) * s.OutWidth + ox;
                        expected[pixel * outChannels + o] = v;
                        if (v >= 0) expectedSigns[pixel * wpp + o / 64] |= 1UL << (o % 64);
                    }
        float[] actual = Enumerable.Repeat(float.NaN, (int)s.OutputCount).ToArray();
        ulong[] signs = Enumerable.Repeat(ulong.MaxValue, (int)s.PackedOutputWords).ToArray();
        using (Simd.Force(path)) XnorConv2D.ForwardDownsampleResidualChannelsLast(px, pw, actual, s, scale, bias, shortcut, inChannels, -1f, 1f, signs);
        Assert.That(actual.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(expected.Select(BitConverter.SingleToInt32Bits)), "bit for bit, +0 where the shortcut is padding");
        Assert.That(signs, Is.EqualTo(expectedSigns));
    }

    [Test]
    public void DownsampleResidualChannelsLast_ShortcutWiderThanTheOutput_Throws()
    {
        var s = new XnorConv2DShape(1, 8, 4, 4, 4, 3, 3, 2, 1);
        Assert.That(() => XnorConv2D.ForwardDownsampleResidualChannelsLast(new ulong[s.InputWords], new ulong[4 * s.WeightWordsPerFilter], new float[s.OutputCount], s,
                new float[4], new float[4], new float[128], 8, -1f, 1f),
            Throws.ArgumentException.With.Message.Contains("8 channels cannot feed 4 output channels"));
    }

    [Test]
    public void ResidualChannelsLast_ShortcutOrSignsTooShort_ThrowsNamingTheSpan()
    {
        var s = new XnorConv2DShape(1, 16, 4, 4, 16, 3, 3, 1, 1);
        ulong[] px = new ulong[s.InputWords], pw = new ulong[16 * s.WeightWordsPerFilter];
        float[] y = new float[s.OutputCount], scale = new float[16], bias = new float[16];
        Assert.That(() => XnorConv2D.ForwardResidualChannelsLast(px, pw, y, s, scale, bias, new float[s.OutputCount - 1], -1f, 1f),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("shortcut").And.Message.Contains($"{s.OutputCount - 1} < {s.OutputCount}"));
        Assert.That(() => XnorConv2D.ForwardResidualChannelsLast(px, pw, y, s, scale, bias, new float[s.OutputCount], -1f, 1f, new ulong[s.PackedOutputWords - 1]),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("signs"));
        // the downsampling store's shortcut is the unit's input: Batch·Height·Width·shortcutChannels floats
        Assert.That(() => XnorConv2D.ForwardDownsampleResidualChannelsLast(px, pw, y, s, scale, bias, new float[4 * 4 * 8 - 1], 8, -1f, 1f),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("shortcut").And.Message.Contains("127 < 128"));
    }

    [Test]
    public void Transposes_NegativeSizeOrShortSpan_Throw()
    {
        Assert.That(() => XnorConv2D.ChannelsLastFromPlanes(new float[4], new float[4], 1, -2, 2), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("negative size"));
        Assert.That(() => XnorConv2D.PlanesFromChannelsLast(new float[6], new float[5], 1, 2, 3), Throws.ArgumentException.With.Property("ParamName").EqualTo("destination"));
    }

    [TestCase(1, 16, 64), TestCase(2, 5, 13), TestCase(3, 9, 8), TestCase(1, 64, 7), TestCase(2, 1, 1)]
    public void Transposes_MoveEveryElementToItsPlace_OnEveryPath(int batch, int channels, int pixels)
    {
        float[] planes = Enumerable.Range(0, batch * channels * pixels).Select(i => (float)i).ToArray();
        foreach (SimdPath path in Paths)
        {
            float[] nhwc = new float[planes.Length], roundTrip = new float[planes.Length];
            using (Simd.Force(path))
            {
                XnorConv2D.ChannelsLastFromPlanes(planes, nhwc, batch, channels, pixels);
                XnorConv2D.PlanesFromChannelsLast(nhwc, roundTrip, batch, channels, pixels);
            }
            for (int n = 0; n < batch; n++)
                for (int c = 0; c < channels; c++)
                    for (int p = 0; p < pixels; p++)
                        Assert.That(nhwc[(n * pixels + p) * channels + c], Is.EqualTo(planes[(n * channels + c) * pixels + p]), $"{path} n{n} c{c} p{p}");
            Assert.That(roundTrip, Is.EqualTo(planes), path.ToString());
        }
    }
}
