using BinaryGrad.Kernels;
using NUnit.Framework;
using static BinaryGrad.Tests.Kernels.Conv.ConvTestData;

namespace BinaryGrad.Tests.Kernels.Conv;

/// <summary>The Winograd F(3×3, 2×2) weight gradient (<c>StackedConv3x3.Winograd…</c>): every vector kernel against
/// its scalar reference bit for bit on reals, and the whole chain (transpose, both transforms, the 16 products, the
/// output transform) against the weight gradient written out in double from the images: exact on small integers,
/// within float rounding on reals.</summary>
[TestFixture, Category("Kernels")]
public unsafe class WinogradTests
{
    // images, height, width (even), output channels, input channels. Tile rows of 16 tiles take a permute each, rows of
    // 8 and 4 tiles two or four at a time (3 rows of 8 and 5 of 4 leave one row to the per-row permutes), 17 = 16 + 1,
    // 5 = 4 + 1 and 3 tiles their scalar tails. Input channels 8, 9, 13, 16 and 21 take the
    // blocks of twelve and of eight with remainders; 1, 2 and 3 only single channels.
    [TestCase(1, 32, 32, 32, 8), TestCase(2, 16, 16, 64, 3), TestCase(3, 8, 8, 32, 13), TestCase(1, 2, 34, 32, 1),
     TestCase(2, 4, 10, 32, 9), TestCase(1, 6, 6, 96, 2), TestCase(2, 2, 2, 32, 16), TestCase(1, 4, 4, 32, 21),
     TestCase(3, 2, 16, 32, 8), TestCase(5, 2, 8, 32, 12)]
    public void Chain_EqualsTheDirectGradient_ExactlyOnIntegers_AndKernelsEqualTheirReferences(int images, int height, int width, int outC, int inC)
    {
        foreach (bool integers in new[] { true, false })
        {
            var random = new Random(images * 1000 + height * 100 + width * 10 + outC + inC + (integers ? 7 : 0));
            // the inputs rounded to float first, so the double sum is the exact gradient of what the kernels see
            Func<int, double[]> values = n => (integers ? Integers(random, n) : Reals(random, n)).Select(v => (double)(float)v).ToArray();
            double[] dy = values(images * outC * height * width), x = values(images * inC * height * width);
            float[] vector = Gradient(SimdPath.Vector512, images, height, width, outC, inC, dy, x);
            float[] scalar = Gradient(SimdPath.Scalar, images, height, width, outC, inC, dy, x);
            Assert.That(vector, Is.EqualTo(scalar), $"vector kernels against the scalar references ({(integers ? "integers" : "reals")})");
            float[] direct = DirectGradient(images, height, width, outC, inC, dy, x);
            double winogradError = 0, directError = 0;
            for (int o = 0; o < outC; o++)
                for (int c = 0; c < inC; c++)
                {
                    // Winograd's rounding follows the size of the whole tile products, so the tolerance is taken over
                    // the filter's nine taps together
                    double[] sums = new double[9];
                    double magnitude = 0;
                    for (int t = 0; t < 9; t++)
                        for (int g = 0; g < images; g++)
                            for (int yy = 0; yy < height; yy++)
                                for (int xx = 0; xx < width; xx++)
                                {
                                    int sy = yy + t / 3 - 1, sx = xx + t % 3 - 1;
                                    if (sy < 0 || sy >= height || sx < 0 || sx >= width) continue;
                                    double term = dy[((g * outC + o) * height + yy) * width + xx] * x[((g * inC + c) * height + sy) * width + sx];
                                    sums[t] += term;
                                    magnitude += Math.Abs(term);
                                }
                    for (int t = 0; t < 9; t++)
                    {
                        float got = scalar[(c * 9 + t) * outC + o];
                        if (integers) Assert.That(got, Is.EqualTo((float)sums[t]), $"dW[o {o}, c {c}, tap {t}] on integers");
                        else Assert.That(got, Is.EqualTo(sums[t]).Within(1e-6 * magnitude + 1e-7), $"dW[o {o}, c {c}, tap {t}] on reals, Σ|terms| over the taps {magnitude}");
                        winogradError += Math.Pow(got - sums[t], 2);
                        directError += Math.Pow(direct[(c * 9 + t) * outC + o] - sums[t], 2);
                    }
                }
            // the transforms cost accuracy, but not much: the root-mean-square error within a few times the direct sum's
            TestContext.Out.WriteLine($"{(integers ? "integers" : "reals")}: rms error Winograd {Math.Sqrt(winogradError / scalar.Length):E2}, direct {Math.Sqrt(directError / scalar.Length):E2}");
            Assert.That(Math.Sqrt(winogradError), Is.LessThanOrEqualTo(4 * Math.Sqrt(directError) + 1e-7), "Winograd's rounding error against the direct kernel's");
        }
    }

    // The same gradient by the output-lanes kernel (the direct sum in float), for the accuracy comparison.
    private static float[] DirectGradient(int images, int height, int width, int outC, int inC, double[] dy, double[] x)
    {
        var layout = new StackedConv3x3.Layout(images, height, width);
        int planes = (outC + 7) / 8 * 8, stride = layout.PlaneStride;
        float[] stackedY = new float[planes * stride], stackedX = new float[inC * stride + 2 * layout.Pitch + 2];
        StackedConv3x3.Stack<float>(layout, ToFloat(dy), outC * height * width, outC, planes, stackedY);
        StackedConv3x3.Stack<float>(layout, ToFloat(x), inC * height * width, inC, inC, stackedX);
        float[] panels = new float[layout.Positions * outC], result = new float[inC * 9 * outC];
        Span<int> taps = stackalloc int[9], unused = stackalloc int[9];
        StackedConv3x3.Stride1Offsets(layout.Pitch, taps, unused);
        fixed (float* ys = stackedY, xs = stackedX, dt = panels, r = result)
        {
            StackedConv3x3.TransposeGradOutput(layout, ys, outC, dt);
            StackedConv3x3.WeightGradientAcrossOutputsScalar(layout.Positions, dt, outC, xs, inC, stride, taps, r);
        }
        return result;
    }

    // The whole chain on one path, as Conv2DCore runs it for one group, into dWᵀ[(c·9 + t)·O + o]. Each step is also
    // compared with its scalar reference on the same inputs, so a wrong vector kernel is named.
    private static float[] Gradient(SimdPath path, int images, int height, int width, int outC, int inC, double[] dy, double[] x)
    {
        var layout = new StackedConv3x3.Layout(images, height, width);
        int planes = (outC + 7) / 8 * 8, stride = layout.PlaneStride, tiles = StackedConv3x3.WinogradTiles(layout);
        int padded = StackedConv3x3.WinogradPaddedTiles(layout), points = StackedConv3x3.WinogradPoints;
        float[] stackedY = new float[planes * stride], stackedX = new float[inC * stride];
        StackedConv3x3.Stack<float>(layout, ToFloat(dy), outC * height * width, outC, planes, stackedY);
        StackedConv3x3.Stack<float>(layout, ToFloat(x), inC * height * width, inC, inC, stackedX);
        float[] panels = new float[layout.Positions * outC], u = new float[points * outC * tiles], uRef = new float[u.Length];
        float[] v = new float[points * inC * padded], vRef = new float[v.Length], m = new float[points * inC * outC], mRef = new float[m.Length];
        float[] result = new float[inC * 9 * outC], resultRef = new float[result.Length];
        fixed (float* ys = stackedY, xs = stackedX, dt = panels, pu = u, pur = uRef, pv = v, pvr = vRef, pm = m, pmr = mRef, pr = result, prr = resultRef)
        {
            StackedConv3x3.TransposeGradOutput(layout, ys, outC, dt);
            StackedConv3x3.WinogradTransformGradOutput(path, layout, dt, outC, pu);
            StackedConv3x3.WinogradTransformGradOutput(SimdPath.Scalar, layout, dt, outC, pur);
            Assert.That(u, Is.EqualTo(uRef), "output-gradient transform");
            StackedConv3x3.WinogradTransformInput(path, layout, xs, inC, stride, padded, pv);
            StackedConv3x3.WinogradTransformInput(SimdPath.Scalar, layout, xs, inC, stride, padded, pvr);
            Assert.That(v, Is.EqualTo(vRef), "input transform (padding tiles zero)");
            for (int p = 0; p < points; p++)
            {
                StackedConv3x3.WinogradProducts(path, tiles, pu + p * outC * tiles, outC, pv + p * inC * padded, inC, padded, pm + p * inC * outC);
                StackedConv3x3.WinogradProductsScalar(tiles, pu + p * outC * tiles, outC, pv + p * inC * padded, inC, padded, pmr + p * inC * outC);
            }
            Assert.That(m, Is.EqualTo(mRef), "the sixteen products");
            StackedConv3x3.WinogradGradient(path, pm, outC, inC, pr);
            StackedConv3x3.WinogradGradient(SimdPath.Scalar, pm, outC, inC, prr);
            Assert.That(result, Is.EqualTo(resultRef), "output transform");
        }
        return result;
    }

    [Test]
    public void Products_AddIntoWhatTheSumsHold()
    {
        // one tile, one point: m += u·v on top of the start value, for every (c, o)
        const int outC = 32, inC = 9, padded = 16;
        float[] u = Enumerable.Range(0, outC).Select(o => (float)o).ToArray();
        float[] v = new float[inC * padded];
        for (int c = 0; c < inC; c++) v[c * padded] = c + 1;
        float[] m = Enumerable.Repeat(0.25f, inC * outC).ToArray();
        fixed (float* pu = u, pv = v, pm = m) StackedConv3x3.WinogradProducts(SimdPath.Vector512, 1, pu, outC, pv, inC, padded, pm);
        Assert.That(m[5 * outC + 7], Is.EqualTo(0.25f + 7 * 6));
        Assert.That(m[8 * outC + 31], Is.EqualTo(0.25f + 31 * 9));
    }

    [Test]
    public void InputTransform_RefusesPaddingThatIsNotWholeVectors()
    {
        var layout = new StackedConv3x3.Layout(1, 8, 8);
        float[] buffer = new float[16 * 32 + layout.PlaneStride];
        var error = Assert.Throws<ArgumentException>(() => { fixed (float* p = buffer) StackedConv3x3.WinogradTransformInput(SimdPath.Scalar, layout, p, 1, layout.PlaneStride, 20, p); });
        Assert.That(error!.Message, Does.Contain("whole 16-tile vectors covering 16 tiles, not 20"));
    }
}
