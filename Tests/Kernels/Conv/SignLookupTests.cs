using BinaryGrad.Kernels;
using NUnit.Framework;
using static BinaryGrad.Tests.Kernels.Conv.ConvTestData;

namespace BinaryGrad.Tests.Kernels.Conv;

/// <summary>The table look-up product (<see cref="SignLookup"/>) and the binary convolution backward built on it:
/// the kernels' vector paths against their scalar reference bit for bit (random reals, odd row counts and short
/// blocks), the scalar reference against the sum written out by hand in double, and the convolution backward against
/// a naive seven-loop convolution of the signs (small integers: exact; reals: within float rounding).</summary>
[TestFixture, Category("Kernels")]
public unsafe class SignLookupTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    [TestCase(1, 1, true), TestCase(5, 3, false), TestCase(6, 16, true), TestCase(13, 7, false), TestCase(20, 16, false), TestCase(3, 2, true),
     TestCase(7, 13, true), TestCase(6, 8, false), TestCase(8, 11, true)] // 8 and more groups: patterns read eight at a time, then a tail
    public void Kernels_EveryPathEqualsTheScalarReference_AndTheReferenceTheHandSum(int rows, int groups, bool fromZero)
    {
        var random = new Random(rows * 31 + groups);
        float[] rowsOfF = Enumerable.Range(0, groups * 4 * SignLookup.Width).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        byte[] index = Enumerable.Range(0, rows * 17).Select(_ => (byte)random.Next(16)).ToArray(); // index stride 17 > groups
        float[] start = Enumerable.Range(0, rows * 40).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(); // output stride 40 > 32
        float[]? reference = null;
        foreach (SimdPath path in Paths)
        {
            float[] tables = new float[groups * SignLookup.TableLength], output = (float[])start.Clone();
            fixed (float* f = rowsOfF, t = tables, o = output)
            fixed (byte* i = index)
            {
                for (int g = 0; g < groups; g++)
                {
                    float* four = f + 4 * g * SignLookup.Width;
                    SignLookup.Build(path, four, four + 32, four + 64, four + 96, t + g * SignLookup.TableLength);
                }
                SignLookup.Accumulate(path, t, groups, i, 17, o, 40, rows, fromZero);
            }
            if (reference is null)
            {
                reference = output;
                for (int m = 0; m < rows; m++)
                    for (int j = 0; j < SignLookup.Width; j++)
                    {
                        double sum = fromZero ? 0 : start[m * 40 + j];
                        for (int g = 0; g < groups; g++)
                            for (int r = 0; r < 4; r++)
                                sum += ((index[m * 17 + g] >> r & 1) != 0 ? 1 : -1) * (double)rowsOfF[(4 * g + r) * SignLookup.Width + j];
                        Assert.That(output[m * 40 + j], Is.EqualTo(sum).Within(1e-5), $"scalar reference, row {m}, column {j}");
                    }
                for (int m = 0; m < rows; m++)
                    for (int j = SignLookup.Width; j < 40; j++)
                        Assert.That(output[m * 40 + j], Is.EqualTo(start[m * 40 + j]), "columns past the block stay as they were");
            }
            else Assert.That(output, Is.EqualTo(reference), $"{path} against the scalar reference");
        }
    }

    // batch, C_in, H, W, C_out: every one takes the look-up backward (3×3, stride 1, pad 1, channels ≥ 128, C_out in 32s, W in 4s ≤ 60)
    private static readonly int[][] Shapes =
    [
        [3, 128, 8, 8, 128],   // groups of 12 images (1024/81): one partial group per thread
        [2, 136, 4, 12, 160],  // a partial block of 8 input channels, five output blocks, rows of three pixel groups
        [1, 128, 2, 60, 128],  // the widest row a word holds (60 + two padding bits)
        [2, 130, 5, 4, 128],   // 18 weight-gradient rows in the last channel block (not in sixes); 4-wide rows; C_in not in fours: the forward takes the multiply-adds
        [1, 128, 2, 8, 512],   // C_out 512: weight-gradient channel blocks of 28 (four and a partial one of 16)
    ];

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (int[] s in Shapes)
        foreach (SimdPath path in Paths)
        foreach (int threads in new[] { 1, 2 })
            yield return new TestCaseData(path, threads, s).SetArgDisplayNames(path.ToString(), $"threads {threads}", string.Join("×", s));
    }

    private static Conv2DGeometry Geometry(int[] s) => new(s[0], s[1], s[2], s[3], s[4], 3, 3, 1, 1, 1, 1, 1, 1);

    /// <summary>Small integers: every regrouped sum is exact, so the look-up backward must equal the naive convolution
    /// of the signs bit for bit (dx written over NaN, then again accumulating onto a prior gradient; dW alone).</summary>
    [TestCaseSource(nameof(Cases))]
    public void BackwardOfSign_ByLookup_EqualsNaiveOfSigns_OnIntegers(SimdPath path, int threads, int[] shape)
    {
        Conv2DGeometry g = Geometry(shape);
        Assert.That(Conv2DCore<float>.LookupApplies(g), "the shape takes the look-up path");
        var random = new Random(shape.Sum());
        double[] x = Integers(random, g.InputLength), dy = Integers(random, g.OutputLength), prior = Integers(random, g.InputLength);
        x[0] = 0; // sign(0) = +1, as the bit packer
        double[] w = Enumerable.Range(0, g.WeightLength).Select(_ => random.Next(2) * 2 - 1.0).ToArray();
        var (dx0, dw0) = NaiveOfSigns(g, x, w, dy);
        float[] dx = Enumerable.Repeat(float.NaN, g.InputLength).ToArray(), dxOnPrior = ToFloat(prior);
        float[] dw = Enumerable.Repeat(1f, g.WeightLength).ToArray(), dwOnly = new float[g.WeightLength];
        RunWith(path, threads, () =>
        {
            Conv2DKernels.BackwardOfSign(g, ToFloat(x), ToFloat(dy), ToFloat(w), 2f, dx, dw);
            Conv2DKernels.BackwardOfSign(g, ToFloat(x), ToFloat(dy), ToFloat(w), 2f, [], dwOnly);
            Conv2DKernels.BackwardOfSign(g, ToFloat(x), ToFloat(dy), ToFloat(w), 2f, dxOnPrior, [], accumulate: true);
        });
        Assert.Multiple(() =>
        {
            Assert.That(dx, Is.EqualTo(ToFloat(dx0.Select((v, i) => Math.Abs(x[i]) <= 2 ? v : 0).ToArray())), "input gradient (written over NaN)");
            Assert.That(dxOnPrior, Is.EqualTo(ToFloat(dx0.Select((v, i) => prior[i] + (Math.Abs(x[i]) <= 2 ? v : 0)).ToArray())), "input gradient added to a prior one");
            Assert.That(dw, Is.EqualTo(ToFloat(dw0.Select(v => v + 1).ToArray())), "weight gradient (added to ones)");
            Assert.That(dwOnly, Is.EqualTo(ToFloat(dw0)), "weight gradient alone");
        });
    }

    /// <summary>The forward <c>y = conv(x, W) + b</c> and the input gradient <c>dx += convᵀ(dY, W)</c> with ±1 filters (a
    /// binary-weight, real-activation layer) by look-up, against the naive convolution on small integers (exact): y
    /// written over NaN, dx added to a prior gradient.</summary>
    [TestCaseSource(nameof(Cases))]
    public void ForwardAndInputGradient_ByLookup_EqualNaive_OnIntegers(SimdPath path, int threads, int[] shape)
    {
        Conv2DGeometry g = Geometry(shape);
        var random = new Random(shape.Sum() + 5);
        double[] x = Integers(random, g.InputLength), dy = Integers(random, g.OutputLength), prior = Integers(random, g.InputLength);
        double[] b = Integers(random, g.OutChannels);
        double[] w = Enumerable.Range(0, g.WeightLength).Select(_ => random.Next(2) * 2 - 1.0).ToArray();
        var (y0, dx0, _) = Naive(g, x, w, b, dy);
        float[] y = Enumerable.Repeat(float.NaN, g.OutputLength).ToArray(), dx = ToFloat(prior);
        float[] yNoBias = Enumerable.Repeat(float.NaN, g.OutputLength).ToArray();
        int plane = g.OutHeight * g.OutWidth;
        RunWith(path, threads, () =>
        {
            Conv2DKernels.Forward(g, ToFloat(x), ToFloat(w), ToFloat(b), y);
            Conv2DKernels.Forward(g, ToFloat(x), ToFloat(w), [], yNoBias);
            Conv2DKernels.BackwardInput(g, ToFloat(dy), ToFloat(w), dx);
        });
        Assert.Multiple(() =>
        {
            Assert.That(Conv2DCore<float>.LookupAppliesToProduct(g, g.OutChannels, g.InChannels), "the input gradient takes the look-up path");
            Assert.That(y, Is.EqualTo(ToFloat(y0)), "forward (written over NaN)");
            Assert.That(yNoBias, Is.EqualTo(ToFloat(y0.Select((v, i) => v - b[i / plane % g.OutChannels]).ToArray())), "forward without bias");
            Assert.That(dx, Is.EqualTo(ToFloat(dx0.Select((v, i) => v + prior[i]).ToArray())), "input gradient (added to a prior one)");
        });
    }

    /// <summary>Random reals: the look-up backward agrees with the naive convolution in double to float rounding
    /// (relative to the sum of magnitudes), and every SIMD path gives the scalar path's floats exactly.</summary>
    [TestCase(0), TestCase(1), TestCase(3)]
    public void BackwardOfSign_ByLookup_OnReals_MatchesDoubleAndIsTheSameOnEveryPath(int shapeIndex)
    {
        Conv2DGeometry g = Geometry(Shapes[shapeIndex]);
        var random = new Random(shapeIndex + 100);
        double[] x = Reals(random, g.InputLength), dy = Reals(random, g.OutputLength);
        double[] w = Enumerable.Range(0, g.WeightLength).Select(_ => random.Next(2) * 2 - 1.0).ToArray();
        var (dx0, dw0) = NaiveOfSigns(g, x, w, dy);
        var (dxScale, dwScale) = NaiveOfSigns(g, x.Select(v => v >= 0 ? 1.0 : -1.0).ToArray(), w.Select(Math.Abs).ToArray(), dy.Select(Math.Abs).ToArray());
        float[]? dxScalar = null, dwScalar = null;
        foreach (SimdPath path in Paths)
        {
            float[] dx = new float[g.InputLength], dw = new float[g.WeightLength];
            RunWith(path, 2, () => Conv2DKernels.BackwardOfSign(g, ToFloat(x), ToFloat(dy), ToFloat(w), float.PositiveInfinity, dx, dw));
            if (dxScalar is null)
            {
                (dxScalar, dwScalar) = (dx, dw);
                for (int i = 0; i < dx.Length; i++) Assert.That(dx[i], Is.EqualTo(dx0[i]).Within(1e-6 * (1 + Math.Abs(dxScale[i]))), $"dx[{i}]");
                for (int i = 0; i < dw.Length; i++)
                    Assert.That(dw[i], Is.EqualTo(dw0[i]).Within(1e-6 * (1 + NaiveMagnitude(g, dy, i))), $"dw[{i}]");
            }
            else
            {
                Assert.That(dx, Is.EqualTo(dxScalar), $"{path}: input gradient equals the scalar path's");
                Assert.That(dw, Is.EqualTo(dwScalar), $"{path}: weight gradient equals the scalar path's");
            }
        }
    }

    /// <summary>Filters that are not all ±1 (here one 0.5) leave the look-up path: the result is then the multiply-add
    /// kernels', still the naive convolution on integers-and-halves.</summary>
    [Test]
    public void BackwardOfSign_WithAWeightNotPlusMinusOne_StillEqualsNaive()
    {
        Conv2DGeometry g = Geometry(Shapes[0]);
        var random = new Random(7);
        double[] x = Integers(random, g.InputLength), dy = Integers(random, g.OutputLength);
        double[] w = Enumerable.Range(0, g.WeightLength).Select(_ => random.Next(2) * 2 - 1.0).ToArray();
        w[5] = 0.5;
        var (dx0, dw0) = NaiveOfSigns(g, x, w, dy);
        float[] dx = new float[g.InputLength], dw = new float[g.WeightLength];
        RunWith(Simd.Best, 2, () => Conv2DKernels.BackwardOfSign(g, ToFloat(x), ToFloat(dy), ToFloat(w), float.PositiveInfinity, dx, dw));
        Assert.That(dx, Is.EqualTo(ToFloat(dx0)));
        Assert.That(dw, Is.EqualTo(ToFloat(dw0)));
    }

    /// <summary>dx and dW of y = conv(sign x, W) (3×3, stride 1, pad 1), in double: dx is the unmasked input gradient.</summary>
    private static (double[] Dx, double[] Dw) NaiveOfSigns(Conv2DGeometry g, double[] x, double[] w, double[] dy)
    {
        var (_, dx, dw) = Naive(g, x, w, new double[g.OutChannels], dy);
        return (dx, dw);
    }

    /// <summary>The 3×3 stride-1 pad-1 convolution y = conv(x, W) + b, its input gradient dx = convᵀ(dY, W), and the weight
    /// gradient of conv(sign x, W), Σ dY · sign x (x ≥ 0 → +1), all in double.</summary>
    private static (double[] Y, double[] Dx, double[] DwOfSigns) Naive(Conv2DGeometry g, double[] x, double[] w, double[] b, double[] dy)
    {
        double[] y = new double[g.OutputLength], dx = new double[g.InputLength], dw = new double[g.WeightLength];
        for (int n = 0; n < g.Batch; n++)
        for (int o = 0; o < g.OutChannels; o++)
        for (int p = 0; p < g.OutHeight; p++)
        for (int q = 0; q < g.OutWidth; q++)
        {
            int yi = ((n * g.OutChannels + o) * g.OutHeight + p) * g.OutWidth + q;
            double d = dy[yi], sum = b[o];
            for (int c = 0; c < g.InChannels; c++)
            for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                int row = p + i - 1, col = q + j - 1;
                if (row < 0 || row >= g.InHeight || col < 0 || col >= g.InWidth) continue;
                int xi = ((n * g.InChannels + c) * g.InHeight + row) * g.InWidth + col, wi = ((o * g.InChannels + c) * 3 + i) * 3 + j;
                sum += w[wi] * x[xi];
                dx[xi] += w[wi] * d;
                dw[wi] += (x[xi] >= 0 ? 1 : -1) * d;
            }
            y[yi] = sum;
        }
        return (y, dx, dw);
    }

    /// <summary>Σ |dY| over the output channel of weight element <paramref name="wi"/>: a bound on the magnitudes its
    /// gradient sums (and so on their rounding).</summary>
    private static double NaiveMagnitude(Conv2DGeometry g, double[] dy, int wi)
    {
        int o = wi / (g.InChannels * 9), plane = g.OutHeight * g.OutWidth;
        double sum = 0;
        for (int n = 0; n < g.Batch; n++)
            for (int p = 0; p < plane; p++) sum += Math.Abs(dy[(n * g.OutChannels + o) * plane + p]);
        return sum;
    }
}
