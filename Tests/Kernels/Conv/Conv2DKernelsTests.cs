using BinaryGrad.Kernels;
using NUnit.Framework;
using static BinaryGrad.Tests.Kernels.Conv.ConvTestData;

namespace BinaryGrad.Tests.Kernels.Conv;

/// <summary>Convolution forward and backward against a naive seven-loop convolution written here. Inputs are small
/// integers, so every path's result is exact and must equal the naive one bit for bit; the adjoint identity
/// checks backward-input with random reals in double.</summary>
[TestFixture, Category("Kernels")]
public class Conv2DKernelsTests
{
    // batch, C_in, H, W, C_out, kH, kW, strideH, strideW, padH, padW, dilationH, dilationW
    private static readonly int[][] Geometries =
    [
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1],      // trivial
        [2, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1],      // 3×3 same padding, non-square image
        [1, 2, 6, 9, 3, 2, 3, 2, 1, 0, 1, 1, 1],      // non-square kernel and stride
        [3, 2, 8, 7, 2, 3, 2, 2, 3, 1, 2, 2, 1],      // dilation, padding larger than needed
        [2, 4, 5, 5, 3, 1, 1, 1, 1, 0, 0, 1, 1],      // pointwise: no im2col
        [2, 3, 5, 6, 2, 1, 1, 2, 2, 0, 0, 1, 1],      // 1×1 but strided: im2col path
        [1, 1, 9, 9, 2, 5, 5, 1, 1, 2, 2, 1, 1],      // 5×5 pad 2, one input channel
        [2, 2, 7, 8, 3, 3, 3, 3, 2, 2, 1, 2, 3],      // everything different
        [5, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1],      // odd batch split over two threads
        [2, 16, 12, 11, 24, 3, 3, 1, 1, 1, 1, 1, 1],  // per-image GEMM large enough for the blocked driver
        [3, 8, 10, 10, 16, 1, 1, 1, 1, 0, 0, 1, 1],   // pointwise, GEMM depth 8
        [37, 2, 8, 8, 3, 3, 3, 1, 1, 1, 1, 1, 1],     // backward in groups of 16 images (64 pixels each) with tail groups
        [3, 2, 20, 20, 2, 3, 3, 1, 1, 1, 1, 1, 1],    // groups of 2 (400 pixels): a full group and a tail of one
        [2, 3, 5, 16, 4, 3, 3, 1, 1, 1, 1, 1, 1],     // direct 3×3 forward (rows of 16, outputs in fours); dx by GEMM (3 inputs)
        [3, 8, 4, 32, 12, 3, 3, 1, 1, 1, 1, 1, 1],    // direct 3×3 forward and input gradient, rows of two 2-vector blocks
        [2, 4, 3, 64, 8, 3, 3, 1, 1, 1, 1, 1, 1],     // direct 3×3 on the 512-bit path: rows of two 2-zmm blocks (float), four (double)
        [5, 9, 7, 5, 13, 3, 3, 1, 1, 1, 1, 1, 1],     // stacked backward: odd sides, channels not in eights (a partial 8-block each way)
        [70, 3, 3, 4, 8, 3, 3, 1, 1, 1, 1, 1, 1],     // stacked backward: groups of 51 images (1024/20) and a tail of 19 on one thread, 35 per thread on two
        [3, 17, 1, 1, 2, 3, 3, 1, 1, 1, 1, 1, 1],     // stacked backward: 1×1 images (every tap but the centre is padding)
        [2, 5, 9, 33, 6, 3, 3, 1, 1, 1, 1, 1, 1],     // stacked backward: groups of 3 images (1024/340), rows longer than two vectors
        [3, 5, 6, 10, 9, 3, 3, 2, 2, 1, 1, 1, 1],     // stride 2 on phase planes (BackwardOfSign): even sides, channels not in eights
        [70, 3, 4, 2, 8, 3, 3, 2, 2, 1, 1, 1, 1],     // stride 2: 2×1 phase planes, groups of 64 and tails
        [2, 9, 2, 2, 3, 3, 3, 2, 2, 1, 1, 1, 1],      // stride 2: 1×1 phase planes (only the (1, 1) taps read the image)
        [2, 3, 4, 26, 5, 3, 3, 2, 2, 1, 1, 1, 1],     // stride 2: phase rows of 13 = one 8-column vector step (de/interleave) and a tail of 5
        [3, 5, 6, 7, 32, 3, 3, 1, 1, 1, 1, 1, 1],     // float weight gradient with the 32 output channels in the lanes (Vector512), groups of 18 images
        [2, 3, 9, 33, 64, 3, 3, 1, 1, 1, 1, 1, 1],    // the same with two 32-channel panels, groups of 3 images (rows longer than two vectors)
        [3, 4, 6, 8, 32, 3, 3, 2, 2, 1, 1, 1, 1],     // the same on stride-2 phase planes (BackwardOfSign: taps four planes apart)
        [2, 130, 6, 8, 128, 3, 3, 1, 1, 1, 1, 1, 1],  // Winograd weight gradient (Vector512, even sides, ≥ 128 channels): blocks of 12, one of 8, two single channels; 4-tile rows
        [1, 128, 4, 32, 160, 3, 3, 1, 1, 1, 1, 1, 1], // Winograd: five 32-channel panels, 16-tile rows
        [66, 128, 2, 2, 128, 3, 3, 1, 1, 1, 1, 1, 1], // Winograd: 2×2 images in groups of 64 and a tail of 2 (one thread), 1-tile rows (scalar gathers)
    ];

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (int[] s in Geometries)
        foreach (SimdPath path in new[] { SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512 })
        foreach (int threads in new[] { 1, 2 })
            yield return new TestCaseData(path, threads, s).SetArgDisplayNames(path.ToString(), $"threads {threads}", string.Join("×", s));
    }

    private static Conv2DGeometry Geometry(int[] s) => new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12]);

    [TestCaseSource(nameof(Cases))]
    public void ForwardAndBackward_Double_EqualNaiveConvolutionExactly(SimdPath path, int threads, int[] shape)
    {
        Conv2DGeometry g = Geometry(shape);
        var random = new Random(shape.Sum());
        double[] x = Integers(random, g.InputLength), w = Integers(random, g.WeightLength), b = Integers(random, g.OutChannels);
        double[] dy = Integers(random, g.OutputLength);
        var (y0, dx0, dw0, db0) = Naive(g, x, w, b, dy);

        double[] y = Enumerable.Repeat(double.NaN, g.OutputLength).ToArray(); // forward overwrites
        double[] dx = Enumerable.Repeat(1.0, g.InputLength).ToArray();        // backward adds into
        double[] dw = Enumerable.Repeat(1.0, g.WeightLength).ToArray(), db = Enumerable.Repeat(1.0, g.OutChannels).ToArray();
        RunWith(path, threads, () =>
        {
            Conv2DKernels.Forward(g, x, w, b, y);
            Conv2DKernels.BackwardInput(g, dy, w, dx);
            Conv2DKernels.BackwardWeight(g, x, dy, dw, db);
        });
        Assert.Multiple(() =>
        {
            Assert.That(y, Is.EqualTo(y0), "forward");
            Assert.That(dx, Is.EqualTo(dx0.Select(v => v + 1)), "input gradient (added to ones)");
            Assert.That(dw, Is.EqualTo(dw0.Select(v => v + 1)), "weight gradient (added to ones)");
            Assert.That(db, Is.EqualTo(db0.Select(v => v + 1)), "bias gradient (added to ones)");
        });
    }

    [TestCaseSource(nameof(Cases))]
    public void ForwardAndBackward_Float_EqualNaiveConvolutionExactly(SimdPath path, int threads, int[] shape)
    {
        Conv2DGeometry g = Geometry(shape);
        var random = new Random(shape.Sum() + 1);
        double[] x = Integers(random, g.InputLength), w = Integers(random, g.WeightLength), dy = Integers(random, g.OutputLength);
        var (y0, dx0, dw0, _) = Naive(g, x, w, [], dy);
        float[] y = new float[g.OutputLength], dx = new float[g.InputLength], dw = new float[g.WeightLength];
        RunWith(path, threads, () =>
        {
            Conv2DKernels.Forward(g, ToFloat(x), ToFloat(w), [], y);
            Conv2DKernels.BackwardInput(g, ToFloat(dy), ToFloat(w), dx);
            Conv2DKernels.BackwardWeight(g, ToFloat(x), ToFloat(dy), dw, []);
        });
        Assert.Multiple(() =>
        {
            Assert.That(y, Is.EqualTo(ToFloat(y0)), "forward");
            Assert.That(dx, Is.EqualTo(ToFloat(dx0)), "input gradient");
            Assert.That(dw, Is.EqualTo(ToFloat(dw0)), "weight gradient");
        });
    }

    /// <summary>The backward of conv(sign(x), W) under the clipped STE against the naive convolution of the signs: dx
    /// (written over NaN, so every element must be written) is the naive input gradient times 1[|x| ≤ 2], dW the naive weight gradient of sign(x) (x ≥ 0 → +1, so 0 → +1).
    /// Integer data, so exact on every path; stacked geometries and general ones (strided, 5×5) alike.</summary>
    [TestCaseSource(nameof(Cases))]
    public void BackwardOfSign_EqualsNaiveOfSignsTimesMask(SimdPath path, int threads, int[] shape)
    {
        Conv2DGeometry g = Geometry(shape);
        var random = new Random(shape.Sum() + 2);
        double[] x = Integers(random, g.InputLength), w = Integers(random, g.WeightLength), dy = Integers(random, g.OutputLength);
        double[] signs = x.Select(v => v >= 0 ? 1.0 : -1.0).ToArray();
        var (_, dx0, dw0, _) = Naive(g, signs, w, [], dy);
        float[] dx = Enumerable.Repeat(float.NaN, g.InputLength).ToArray(), dw = Enumerable.Repeat(1f, g.WeightLength).ToArray(), dwOnly = new float[g.WeightLength];
        RunWith(path, threads, () =>
        {
            Conv2DKernels.BackwardOfSign(g, ToFloat(x), ToFloat(dy), ToFloat(w), 2f, dx, dw);
            Conv2DKernels.BackwardOfSign(g, ToFloat(x), ToFloat(dy), ToFloat(w), 2f, [], dwOnly);
        });
        Assert.Multiple(() =>
        {
            Assert.That(dx, Is.EqualTo(ToFloat(dx0.Select((v, i) => Math.Abs(x[i]) <= 2 ? v : 0).ToArray())), "input gradient (written over NaN)");
            Assert.That(dw, Is.EqualTo(ToFloat(dw0.Select(v => v + 1).ToArray())), "weight gradient (added to ones)");
            Assert.That(dwOnly, Is.EqualTo(ToFloat(dw0)), "weight gradient alone");
        });
    }

    /// <summary>With <c>accumulate</c>, BackwardOfSign adds the masked input gradient to what dx holds (another
    /// consumer's gradient): dx = prior + naive·1[|x| ≤ 2], every element, on every path and geometry (integers, so exact).</summary>
    [TestCaseSource(nameof(Cases))]
    public void BackwardOfSign_Accumulating_AddsToTheGradientHeld(SimdPath path, int threads, int[] shape)
    {
        Conv2DGeometry g = Geometry(shape);
        var random = new Random(shape.Sum() + 3);
        double[] x = Integers(random, g.InputLength), w = Integers(random, g.WeightLength), dy = Integers(random, g.OutputLength);
        double[] prior = Integers(random, g.InputLength);
        var (_, dx0, _, _) = Naive(g, x.Select(v => v >= 0 ? 1.0 : -1.0).ToArray(), w, [], dy);
        float[] dx = ToFloat(prior), dw = new float[g.WeightLength];
        RunWith(path, threads, () => Conv2DKernels.BackwardOfSign(g, ToFloat(x), ToFloat(dy), ToFloat(w), 2f, dx, dw, accumulate: true));
        Assert.That(dx, Is.EqualTo(ToFloat(dx0.Select((v, i) => prior[i] + (Math.Abs(x[i]) <= 2 ? v : 0)).ToArray())));
    }

    /// <summary>The input gradient is the adjoint of the forward map: ⟨conv(x), g⟩ = ⟨x, convᵀ(g)⟩ (no bias), here with
    /// random reals, so it also holds away from integers.</summary>
    [TestCase(0), TestCase(3), TestCase(7), TestCase(14), TestCase(15), TestCase(18)]
    public void BackwardInput_IsAdjointOfForward(int geometryIndex)
    {
        Conv2DGeometry g = Geometry(Geometries[geometryIndex]);
        var random = new Random(geometryIndex);
        double[] x = Reals(random, g.InputLength), w = Reals(random, g.WeightLength), gy = Reals(random, g.OutputLength);
        double[] y = new double[g.OutputLength], gx = new double[g.InputLength];
        Conv2DKernels.Forward(g, x, w, [], y);
        Conv2DKernels.BackwardInput(g, gy, w, gx);
        double left = y.Zip(gy, (a, b) => a * b).Sum(), right = x.Zip(gx, (a, b) => a * b).Sum();
        Assert.That(left, Is.EqualTo(right).Within(1e-12 * (1 + Math.Abs(left))));
    }

    /// <summary>col2im is the adjoint of im2col: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩.</summary>
    [TestCase(1), TestCase(3), TestCase(7)]
    public void Col2Im_IsAdjointOfIm2Col(int geometryIndex)
    {
        Conv2DGeometry g = Geometry(Geometries[geometryIndex]);
        var random = new Random(geometryIndex);
        double[] image = Integers(random, g.InputImageLength), columns = Integers(random, g.PatchLength * g.OutputPlaneLength);
        double[] unfolded = new double[columns.Length], folded = new double[image.Length];
        Conv2DKernels.Im2Col(g, image, unfolded);
        Conv2DKernels.Col2Im(g, columns, folded);
        Assert.That(unfolded.Zip(columns, (a, b) => a * b).Sum(), Is.EqualTo(image.Zip(folded, (a, b) => a * b).Sum()));
    }

    [Test]
    public void Geometry_ComputesOutputSize_AndRejectsKernelsLargerThanTheInput()
    {
        var g = new Conv2DGeometry(1, 1, 28, 30, 1, 5, 3, strideHeight: 2, strideWidth: 3, padHeight: 2, padWidth: 0, dilationHeight: 1, dilationWidth: 2);
        Assert.Multiple(() =>
        {
            Assert.That((g.OutHeight, g.OutWidth), Is.EqualTo((14, 9))); // ⌊(28+4−5)/2⌋+1, ⌊(30−5)/3⌋+1
            Assert.That(() => new Conv2DGeometry(1, 1, 4, 4, 1, 3, 3, dilationHeight: 2),
                Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("exceeds the padded input height 4"));
            Assert.That(() => new Conv2DGeometry(1, 0, 4, 4, 1, 3, 3), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => Conv2DKernels.Forward(g, new float[10], new float[15], [], new float[126]),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("input").And.Message.Contains("840"));
            Assert.That(() => Conv2DKernels.Forward(g, new float[840], new float[15], new float[2], new float[126]),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("bias"));
        });
    }

    /// <summary>The definition, in seven loops: y = b + Σ w·x; dx += w·dy; dw += x·dy; db += dy.</summary>
    private static (double[] Y, double[] Dx, double[] Dw, double[] Db) Naive(Conv2DGeometry g, double[] x, double[] w, double[] b, double[] dy)
    {
        double[] y = new double[g.OutputLength], dx = new double[g.InputLength], dw = new double[g.WeightLength], db = new double[g.OutChannels];
        for (int n = 0; n < g.Batch; n++)
        for (int o = 0; o < g.OutChannels; o++)
        for (int p = 0; p < g.OutHeight; p++)
        for (int q = 0; q < g.OutWidth; q++)
        {
            int yi = ((n * g.OutChannels + o) * g.OutHeight + p) * g.OutWidth + q;
            double sum = b.Length > 0 ? b[o] : 0;
            db[o] += dy[yi];
            for (int c = 0; c < g.InChannels; c++)
            for (int i = 0; i < g.KernelHeight; i++)
            for (int j = 0; j < g.KernelWidth; j++)
            {
                int row = p * g.StrideHeight - g.PadHeight + i * g.DilationHeight, col = q * g.StrideWidth - g.PadWidth + j * g.DilationWidth;
                if (row < 0 || row >= g.InHeight || col < 0 || col >= g.InWidth) continue;
                int xi = ((n * g.InChannels + c) * g.InHeight + row) * g.InWidth + col;
                int wi = ((o * g.InChannels + c) * g.KernelHeight + i) * g.KernelWidth + j;
                sum += w[wi] * x[xi];
                dx[xi] += w[wi] * dy[yi];
                dw[wi] += x[xi] * dy[yi];
            }
            y[yi] = sum;
        }
        return (y, dx, dw, db);
    }
}
