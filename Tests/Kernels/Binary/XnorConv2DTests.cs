using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;
using NUnit.Framework;

namespace BinaryGrad.Tests.Kernels.Binary;

[TestFixture, Category("Kernels")]
public class XnorConv2DTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    // Kernel sizes 1, 3, 5 and non-square; stride 1 and 2; padding 0, 1, 2 and more than k/2 (outputs with no
    // valid tap at all); odd spatial sizes; channel counts at and around every word boundary; output tiles of several
    // rows that end mid-image.
    /// <summary>The filter packer on every path against the bit-by-bit rule written out here (bit c % 64 of word
    /// o·row + t·wpp + c / 64 is w[o, c, t] ≥ 0, NaN → 0, ±0 → 1; padding words 0, stale words overwritten), on every
    /// test shape's filters: 1×1 to 5×5 and 2×3 kernels, channel counts around the word boundaries, filters split
    /// over the threads.</summary>
    [Test]
    public void PackWeights_EveryPath_SetsExactlyTheBitsOfTheNonNegativeWeights(
        [ValueSource(nameof(Paths))] SimdPath path, [Range(0, 11)] int shapeIndex)
    {
        XnorConv2DShape s = Shapes[shapeIndex];
        int taps = s.KernelHeight * s.KernelWidth, wpp = BitPack.WordsPerPixel(s.InChannels), row = s.WeightWordsPerFilter;
        float[] w = BitPackTests.WithSpecials(s.OutChannels * s.InChannels * taps, seed: shapeIndex);
        ulong[] packed = Enumerable.Repeat(ulong.MaxValue, s.OutChannels * row).ToArray();
        using (Simd.Force(path)) XnorConv2D.PackWeights(w, packed, s);
        var expected = new ulong[packed.Length];
        for (int o = 0; o < s.OutChannels; o++)
            for (int c = 0; c < s.InChannels; c++)
                for (int t = 0; t < taps; t++)
                    if (w[(o * s.InChannels + c) * taps + t] >= 0f) expected[o * row + t * wpp + c / 64] |= 1UL << (c % 64);
        Assert.That(packed, Is.EqualTo(expected));
    }

    private static readonly XnorConv2DShape[] Shapes =
    [
        new(Batch: 1, InChannels: 1, Height: 5, Width: 5, OutChannels: 2, KernelHeight: 3, KernelWidth: 3, Stride: 1, Padding: 1),
        new(2, 3, 7, 5, 4, 3, 3, Stride: 2, Padding: 1),
        new(1, 63, 6, 6, 3, 3, 3, Stride: 1, Padding: 1),
        new(1, 64, 5, 7, 5, 1, 1, Stride: 1, Padding: 0),
        new(1, 65, 5, 5, 3, 5, 5, Stride: 1, Padding: 2),
        new(1, 130, 4, 5, 2, 3, 3, Stride: 2, Padding: 1),
        new(1, 3, 9, 9, 5, 5, 5, Stride: 2, Padding: 2),
        new(1, 4, 5, 5, 3, 3, 3, Stride: 1, Padding: 3),
        new(2, 65, 3, 3, 66, 1, 1, Stride: 2, Padding: 1),
        new(1, 5, 6, 5, 3, 2, 3, Stride: 1, Padding: 1),
        new(1, 64, 3, 3, 130, 3, 3, Stride: 1, Padding: 0),
        // 40-pixel output rows: tiles of 6 rows (256 / 40), so a 9-row image ends in a partial tile and, split over
        // threads, tiles cross from one image into the next
        new(3, 70, 9, 40, 20, 3, 3, Stride: 1, Padding: 1),
        // narrow layers (ResNet-20's 16 and 32 channels), stride 2, 1-pixel-wide images, and a 2×5 kernel
        new(2, 16, 8, 8, 16, 3, 3, Stride: 1, Padding: 1),
        new(2, 16, 8, 8, 32, 3, 3, Stride: 2, Padding: 1),
        new(1, 32, 5, 7, 9, 3, 3, Stride: 1, Padding: 1),
        new(2, 32, 4, 4, 64, 3, 3, Stride: 2, Padding: 1),
        new(1, 13, 6, 1, 3, 3, 3, Stride: 1, Padding: 1),
        new(1, 13, 7, 9, 5, 2, 5, Stride: 1, Padding: 2),
        // the narrow kernels' edges (16- and 32-bit lanes, groups of 16 filters): 17 and 31 channels, a group with one
        // filter and groups that end one filter in
        new(1, 17, 6, 7, 17, 3, 3, Stride: 1, Padding: 1),
        new(2, 31, 5, 5, 33, 3, 3, Stride: 2, Padding: 1),
        new(1, 16, 7, 6, 1, 3, 3, Stride: 1, Padding: 0),
    ];

    private int _savedThreads;

    [SetUp] public void SaveThreads() => _savedThreads = KernelThreads.Count;
    [TearDown] public void RestoreThreads() => KernelThreads.Count = _savedThreads;

    private static float[] RandomSigns(int length, Random random) =>
        Enumerable.Range(0, length).Select(_ => random.Next(2) == 0 ? -1f : 1f).ToArray();

    /// <summary>The float convolution the binary kernel must equal: NCHW, OIHW filters, zero padding. 7 loops.</summary>
    private static float[] NaiveConv(float[] x, float[] w, XnorConv2DShape s)
    {
        int oh = s.OutHeight, ow = s.OutWidth;
        float[] y = new float[s.Batch * s.OutChannels * oh * ow];
        for (int n = 0; n < s.Batch; n++)
            for (int o = 0; o < s.OutChannels; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        float sum = 0f;
                        for (int c = 0; c < s.InChannels; c++)
                            for (int ky = 0; ky < s.KernelHeight; ky++)
                                for (int kx = 0; kx < s.KernelWidth; kx++)
                                {
                                    int iy = oy * s.Stride - s.Padding + ky, ix = ox * s.Stride - s.Padding + kx;
                                    float v = iy < 0 || iy >= s.Height || ix < 0 || ix >= s.Width ? 0f : x[((n * s.InChannels + c) * s.Height + iy) * s.Width + ix];
                                    sum += v * w[((o * s.InChannels + c) * s.KernelHeight + ky) * s.KernelWidth + kx];
                                }
                        y[((n * s.OutChannels + o) * oh + oy) * ow + ox] = sum;
                    }
        return y;
    }

    private sealed record Layer(float[] X, float[] W, ulong[] PackedX, ulong[] PackedW, float[] Scale, float[] Bias);

    private static Layer Make(XnorConv2DShape s, int seed)
    {
        var random = new Random(seed);
        float[] x = RandomSigns(s.Batch * s.InChannels * s.Height * s.Width, random);
        float[] w = RandomSigns(s.OutChannels * s.InChannels * s.KernelHeight * s.KernelWidth, random);
        ulong[] px = new ulong[s.InputWords], pw = new ulong[s.OutChannels * s.WeightWordsPerFilter];
        BitPack.PackChannelsLast(x, px, s.Batch, s.InChannels, s.Height, s.Width);
        XnorConv2D.PackWeights(w, pw, s);
        // Negative, zero and positive scales; integer biases make scale·dot + bias = 0 ties common (0 → +1).
        float[] scaleChoices = [-1.5f, -1f, 0f, 0.5f, 2f];
        float[] scale = Enumerable.Range(0, s.OutChannels).Select(_ => scaleChoices[random.Next(scaleChoices.Length)]).ToArray();
        float[] bias = Enumerable.Range(0, s.OutChannels).Select(_ => (float)random.Next(-3, 4)).ToArray();
        return new Layer(x, w, px, pw, scale, bias);
    }

    private static float[] Affine(float[] dots, Layer l, XnorConv2DShape s)
    {
        int plane = s.OutHeight * s.OutWidth;
        return dots.Select((d, i) => l.Scale[i / plane % s.OutChannels] * d + l.Bias[i / plane % s.OutChannels]).ToArray();
    }

    private static IEnumerable<TestCaseData> Cases() => CasesOf(Shapes);

    /// <summary>Each shape on every path with 1 and 2 threads, named by its geometry.</summary>
    private static IEnumerable<TestCaseData> CasesOf(IEnumerable<XnorConv2DShape> shapes) =>
        from shape in shapes from path in Paths from threads in new[] { 1, 2 }
        select new TestCaseData(shape, path, threads).SetArgDisplayNames(
            $"N{shape.Batch} C{shape.InChannels} {shape.Height}x{shape.Width} O{shape.OutChannels} k{shape.KernelHeight}x{shape.KernelWidth} s{shape.Stride} p{shape.Padding}",
            path.ToString(), $"threads {threads}");

    [TestCaseSource(nameof(Cases))]
    public void Forward_EqualsFloatConvOfSameSigns(XnorConv2DShape s, SimdPath path, int threads)
    {
        KernelThreads.Count = threads;
        Layer l = Make(s, seed: s.InChannels * 7 + s.KernelHeight);
        float[] expected = NaiveConv(l.X, l.W, s);
        int[] actual = new int[s.OutputCount + 1];
        actual[^1] = 999;
        using (Simd.Force(path)) XnorConv2D.Forward(l.PackedX, l.PackedW, actual.AsSpan(0, (int)s.OutputCount), s);
        Assert.That(actual[..^1].Select(v => (float)v), Is.EqualTo(expected), "dots");
        Assert.That(actual[^1], Is.EqualTo(999), "wrote past the end");

        int[] reference = new int[s.OutputCount];
        XnorConv2D.Reference(l.PackedX, l.PackedW, reference, s);
        Assert.That(reference.Select(v => (float)v), Is.EqualTo(expected), "reference");
    }

    /// <summary>A plan (the filters prepared once) gives the naive convolution's dots, for the batch it was made with and
    /// another; made on another path or for another image size it is ignored, and the result is still exact.</summary>
    [TestCaseSource(nameof(Cases))]
    public void Forward_WithPlan_EqualsFloatConv_AndMismatchedPlansAreIgnored(XnorConv2DShape s, SimdPath path, int threads)
    {
        KernelThreads.Count = threads;
        Layer l = Make(s, seed: s.OutChannels * 5 + s.Stride);
        float[] expected = NaiveConv(l.X, l.W, s);
        XnorConv2DPlan plan;
        using (Simd.Force(path)) plan = XnorConv2D.Plan(l.PackedW, s with { Batch = 1 });
        XnorConv2DPlan otherPath;
        using (Simd.Force(path == SimdPath.Scalar ? SimdPath.Vector256 : SimdPath.Scalar)) otherPath = XnorConv2D.Plan(l.PackedW, s);
        XnorConv2DPlan otherSize = XnorConv2D.Plan(l.PackedW, s with { Height = s.Height + 1 });
        foreach ((string name, XnorConv2DPlan p) in new[] { ("plan", plan), ("other path", otherPath), ("other size", otherSize) })
        {
            int[] actual = new int[s.OutputCount];
            using (Simd.Force(path))
            {
                Assert.That(p.Fits(s), Is.EqualTo(name == "plan"), name);
                XnorConv2D.Forward(l.PackedX, l.PackedW, actual, s, p);
                XnorConv2D.Forward(l.PackedX, l.PackedW, actual, s, p); // a plan is reusable
            }
            Assert.That(actual.Select(v => (float)v), Is.EqualTo(expected), name);
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Forward_FusedAffineAndPackedSign_EqualFloatComputation(XnorConv2DShape s, SimdPath path, int threads)
    {
        KernelThreads.Count = threads;
        Layer l = Make(s, seed: s.OutChannels * 13 + s.Padding);
        float[] expected = Affine(NaiveConv(l.X, l.W, s), l, s);
        float[] actual = new float[s.OutputCount];
        ulong[] packed = Enumerable.Repeat(ulong.MaxValue, (int)s.PackedOutputWords).ToArray(), expectedPacked = new ulong[packed.Length];
        using (Simd.Force(path))
        {
            XnorConv2D.Forward(l.PackedX, l.PackedW, actual, s, l.Scale, l.Bias);
            XnorConv2D.ForwardPackedSign(l.PackedX, l.PackedW, packed, s, l.Scale, l.Bias);
        }
        Assert.That(actual, Is.EqualTo(expected), "scale·dot + bias");
        BitPack.ChannelsLastReference<float>(expected, expectedPacked, s.Batch, s.OutChannels, s.OutHeight * s.OutWidth);
        Assert.That(packed, Is.EqualTo(expectedPacked), "packed sign(scale·dot + bias), zero padding bits");
    }

    [TestCaseSource(nameof(Cases))]
    public void ForwardPackedThreshold_IsEachChannelsIntegerStep_FlippedWhereAsked(XnorConv2DShape s, SimdPath path, int threads)
    {
        KernelThreads.Count = threads;
        Layer l = Make(s, seed: s.OutChannels * 5 + s.Stride);
        var random = new Random(s.Height * 31 + s.OutChannels);
        int k = s.KernelHeight * s.KernelWidth * s.InChannels;
        // thresholds across the whole dot range and beyond (always / never true), and every dot's exact value
        int[] thresholds = Enumerable.Range(0, s.OutChannels).Select(o => o % 7 == 6 ? int.MinValue : random.Next(-k - 1, k + 2)).ToArray();
        int wpp = BitPack.WordsPerPixel(s.OutChannels);
        ulong[] flips = new ulong[wpp];
        for (int o = 0; o < s.OutChannels; o++) if (random.Next(2) == 1) flips[o >> 6] |= 1UL << (o & 63);
        float[] dots = NaiveConv(l.X, l.W, s);
        int plane = s.OutHeight * s.OutWidth;
        float[] expectedSigns = dots.Select((d, i) =>
        {
            int o = i / plane % s.OutChannels;
            bool flip = ((flips[o >> 6] >> (o & 63)) & 1) != 0;
            return (d >= thresholds[o]) != flip ? 1f : -1f;
        }).ToArray();
        ulong[] expected = new ulong[s.PackedOutputWords];
        BitPack.ChannelsLastReference<float>(expectedSigns, expected, s.Batch, s.OutChannels, plane);
        ulong[] actual = Enumerable.Repeat(ulong.MaxValue, (int)s.PackedOutputWords).ToArray();
        using (Simd.Force(path)) XnorConv2D.ForwardPackedThreshold(l.PackedX, l.PackedW, actual, s, thresholds, flips);
        Assert.That(actual, Is.EqualTo(expected), "(dot ≥ T) XOR flip, packed channels-last with zero padding bits");
    }

    [TestCaseSource(nameof(Cases))]
    public void ForwardResidual_IsAffineThenShortcutAddThenClamp(XnorConv2DShape s, SimdPath path, int threads)
    {
        KernelThreads.Count = threads;
        Layer l = Make(s, seed: s.Width * 3 + s.OutChannels);
        var random = new Random(s.Batch + s.Height);
        // quarter-integer shortcuts make affine + shortcut land on the clamp bounds and on 0 often
        float[] shortcut = Enumerable.Range(0, (int)s.OutputCount).Select(_ => random.Next(-12, 13) / 4f).ToArray();
        foreach ((float low, float high) in new[] { (-1f, 1f), (float.NegativeInfinity, float.PositiveInfinity), (-0.5f, 2f) })
        {
            float[] expected = Affine(NaiveConv(l.X, l.W, s), l, s).Select((y, i) =>
            {
                float v = y + shortcut[i];
                return v < low ? low : v > high ? high : v;
            }).ToArray();
            float[] actual = new float[s.OutputCount];
            ulong[] signs = Enumerable.Repeat(ulong.MaxValue, (int)s.PackedOutputWords).ToArray(), expectedSigns = new ulong[signs.Length];
            using (Simd.Force(path)) XnorConv2D.ForwardResidual(l.PackedX, l.PackedW, actual, s, l.Scale, l.Bias, shortcut, low, high, signs);
            Assert.That(actual, Is.EqualTo(expected), $"clamp to [{low}, {high}]");
            BitPack.ChannelsLastReference<float>(expected, expectedSigns, s.Batch, s.OutChannels, s.OutHeight * s.OutWidth);
            Assert.That(signs, Is.EqualTo(expectedSigns), "the output's signs packed channels-last, zero padding bits");
        }
    }

    /// <summary>Shapes with an even output size for the fused 2×2 pool: the even ones of <see cref="Shapes"/>, a VGG-like
    /// 128-channel layer (2 words per pixel, 16-filter groups with a partial last one), tiles of several row pairs that
    /// cross images, the narrow kernels, stride 2, and 1-pixel pooled maps.</summary>
    private static IEnumerable<TestCaseData> PoolCases() => CasesOf(
        Shapes.Where(s => s.OutHeight % 2 == 0 && s.OutWidth % 2 == 0).Concat(
        [
            new(2, 128, 8, 8, 20, 3, 3, Stride: 1, Padding: 1),
            new(3, 70, 6, 40, 20, 3, 3, Stride: 1, Padding: 1),
            new(2, 16, 8, 8, 16, 3, 3, Stride: 1, Padding: 1),
            new(2, 32, 8, 7, 33, 3, 3, Stride: 2, Padding: 1),
            new(3, 65, 2, 2, 9, 3, 3, Stride: 1, Padding: 1),
            // 256 / 36 = 7 rows per tile rounded down to 6, and 300-pixel rows (one row per tile rounded up to a pair)
            new(2, 64, 6, 36, 8, 3, 3, Stride: 1, Padding: 1),
            new(1, 64, 4, 300, 8, 1, 1, Stride: 1, Padding: 0),
        ]));

    /// <summary>The fused pool equals MaxPool2d(2) of the naive convolution's dots, then scale·m + bias in float (multiply,
    /// round, add, round), NCHW; nothing past the pooled output is written.</summary>
    [TestCaseSource(nameof(PoolCases))]
    public void ForwardMaxPool2Affine_IsPoolOfTheDotsThenAffine(XnorConv2DShape s, SimdPath path, int threads)
    {
        KernelThreads.Count = threads;
        Layer l = Make(s, seed: s.OutChannels * 3 + s.Width);
        // real scales and shifts (not the dyadic ones of Make): scale·m then rounds, so an fma or another order would show
        var random = new Random(s.OutChannels + 7 * s.Height);
        float[] scale = Enumerable.Range(0, s.OutChannels).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        float[] shift = Enumerable.Range(0, s.OutChannels).Select(_ => (float)(random.NextDouble() * 10 - 5)).ToArray();
        l = l with { Scale = scale, Bias = shift };
        float[] dots = NaiveConv(l.X, l.W, s);
        int oh = s.OutHeight, ow = s.OutWidth, ph = oh / 2, pw = ow / 2;
        var expected = new float[s.Batch * s.OutChannels * ph * pw];
        for (int map = 0; map < s.Batch * s.OutChannels; map++)
            for (int py = 0; py < ph; py++)
                for (int px = 0; px < pw; px++)
                {
                    float m = float.NegativeInfinity;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) m = Math.Max(m, dots[(map * oh + 2 * py + dy) * ow + 2 * px + dx]);
                    int o = map % s.OutChannels;
                    expected[(map * ph + py) * pw + px] = l.Scale[o] * m + l.Bias[o];
                }
        float[] actual = Enumerable.Repeat(float.NaN, expected.Length + 1).ToArray();
        using (Simd.Force(path)) XnorConv2D.ForwardMaxPool2Affine(l.PackedX, l.PackedW, actual.AsSpan(0, expected.Length), s, l.Scale, l.Bias);
        Assert.That(actual[..^1], Is.EqualTo(expected), "BN(maxpool(dots))");
        Assert.That(actual[^1], Is.NaN, "wrote past the end");
    }

    [Test]
    public void ForwardMaxPool2Affine_OddOutputSize_Throws()
    {
        var s = new XnorConv2DShape(1, 64, 5, 6, 4, 3, 3, Stride: 1, Padding: 1);
        Layer l = Make(s, seed: 2);
        Assert.That(() => XnorConv2D.ForwardMaxPool2Affine(l.PackedX, l.PackedW, new float[s.OutputCount], s, l.Scale, l.Bias),
                    Throws.ArgumentException.With.Message.Contains("even output size, not 5×6"));
    }

    [Test]
    public void ForwardPackedThreshold_FlipBitPastTheChannels_Throws()
    {
        var s = new XnorConv2DShape(1, 3, 5, 5, 4, 3, 3, Stride: 1, Padding: 1);
        Layer l = Make(s, seed: 4);
        Assert.That(() => XnorConv2D.ForwardPackedThreshold(l.PackedX, l.PackedW, new ulong[s.PackedOutputWords], s, new int[4], [1UL << 4]),
                    Throws.ArgumentException.With.Message.Contains("flip bits past channel 4"));
    }

    [Test]
    public void TwoLayerChain_ThroughPackedSigns_EqualsFloatPipeline([ValueSource(nameof(Paths))] SimdPath path)
    {
        var first = new XnorConv2DShape(2, 3, 7, 7, 65, 3, 3, Stride: 1, Padding: 1);
        var second = new XnorConv2DShape(2, 65, 7, 7, 4, 3, 3, Stride: 2, Padding: 1);
        Layer l1 = Make(first, seed: 1), l2 = Make(second, seed: 2);
        ulong[] hidden = new ulong[first.PackedOutputWords];
        float[] actual = new float[second.OutputCount];
        using (Simd.Force(path))
        {
            XnorConv2D.ForwardPackedSign(l1.PackedX, l1.PackedW, hidden, first, l1.Scale, l1.Bias);
            XnorConv2D.Forward(hidden, l2.PackedW, actual, second, l2.Scale, l2.Bias);
        }
        float[] hiddenFloat = Affine(NaiveConv(l1.X, l1.W, first), l1, first).Select(v => v >= 0f ? 1f : -1f).ToArray();
        Assert.That(actual, Is.EqualTo(Affine(NaiveConv(hiddenFloat, l2.W, second), l2, second)));
    }

    [Test]
    public void Forward_KernelLargerThanPaddedInput_Throws() =>
        Assert.That(() => XnorConv2D.Forward(new ulong[4], new ulong[8], new int[1], new XnorConv2DShape(1, 1, 2, 2, 1, 5, 5)),
                    Throws.ArgumentException);
}
