using BinaryGrad.Kernels;
using NUnit.Framework;
using static BinaryGrad.Tests.Kernels.Conv.ConvTestData;

namespace BinaryGrad.Tests.Kernels.Conv;

/// <summary>The float weight gradient with the output channels in the lanes (<c>StackedConv3x3.WeightGradientAcrossOutputs</c>):
/// its transposition of dY, the 512-bit kernel against the scalar reference (the same fused multiply-add chains, so
/// bit for bit on reals) and the reference against the sum written out in double.</summary>
[TestFixture, Category("Kernels")]
public unsafe class AcrossOutputsTests
{
    // images, height, width, output channels, input channels
    [TestCase(1, 3, 4, 32, 1), TestCase(2, 5, 7, 64, 3), TestCase(3, 8, 8, 96, 2), TestCase(1, 1, 1, 32, 5)]
    public void Kernel_EqualsScalarReferenceBitForBit_AndTheDoubleSum(int images, int height, int width, int outC, int inC)
    {
        var layout = new StackedConv3x3.Layout(images, height, width);
        int stride = layout.PlaneStride, positions = layout.Positions, p = layout.Pitch;
        var random = new Random(images * 1000 + height * 100 + width * 10 + outC + inC);
        float[] stackedY = ToFloat(Reals(random, outC * stride)), stackedX = ToFloat(Reals(random, inC * stride + 2 * p + 2));
        float[] start = ToFloat(Reals(random, inC * 9 * outC)); // the kernel adds into what the result holds
        Span<int> taps = stackalloc int[9], unused = stackalloc int[9];
        StackedConv3x3.Stride1Offsets(p, taps, unused);
        float[] panels = new float[positions * outC], vector = (float[])start.Clone(), scalar = (float[])start.Clone();
        // without 512-bit vectors (the CI's forced AVX2 and scalar runs) the kernel falls back to the scalar reference
        bool hasKernel = StackedConv3x3.AcrossOutputsApplies(SimdPath.Vector512, outC);
        fixed (float* ys = stackedY, xs = stackedX, dt = panels, v = vector, s = scalar)
        {
            StackedConv3x3.TransposeGradOutput(layout, ys, outC, dt);
            StackedConv3x3.WeightGradientAcrossOutputs(SimdPath.Vector512, positions, dt, outC, xs, inC, stride, taps, v);
            StackedConv3x3.WeightGradientAcrossOutputsScalar(positions, dt, outC, xs, inC, stride, taps, s);
        }
        Assert.That(vector, Is.EqualTo(scalar), hasKernel ? "512-bit kernel against the scalar reference" : "the fallback is the scalar reference");
        for (int c = 0; c < inC; c++)
            for (int t = 0; t < 9; t++)
                for (int o = 0; o < outC; o++)
                {
                    double sum = start[(c * 9 + t) * outC + o];
                    for (int k = 0; k < positions; k++) sum += (double)stackedY[o * stride + p + 1 + k] * stackedX[c * stride + k + taps[t]];
                    Assert.That(scalar[(c * 9 + t) * outC + o], Is.EqualTo(sum).Within(1e-5 * (1 + Math.Abs(sum))), $"dWᵀ[c {c}, tap {t}, o {o}]");
                }
    }

    [Test]
    public void OutputChannelsNotInWholePanels_AreRefused()
    {
        var layout = new StackedConv3x3.Layout(1, 2, 2);
        float[] buffer = new float[64 * layout.PlaneStride];
        var error = Assert.Throws<ArgumentException>(() => { fixed (float* p = buffer) StackedConv3x3.TransposeGradOutput(layout, p, 40, p); });
        Assert.That(error!.Message, Does.Contain("blocks of 32, not 40"));
    }

    [Test]
    public void AddTransposed_PutsEachSumAtItsFilterTap()
    {
        const int outC = 3, inC = 2;
        float[] transposed = Enumerable.Range(0, inC * 9 * outC).Select(i => (float)i).ToArray();
        float[] gradWeight = Enumerable.Repeat(0.5f, outC * inC * 9).ToArray();
        StackedConv3x3.AddTransposedWeightGradient(transposed, outC, inC, gradWeight);
        // dW[o = 2, c = 1, t = 4] comes from dWᵀ[(1·9 + 4)·3 + 2] = 41
        Assert.That(gradWeight[(2 * inC + 1) * 9 + 4], Is.EqualTo(41.5f));
        Assert.That(gradWeight[0], Is.EqualTo(0.5f));
    }
}
