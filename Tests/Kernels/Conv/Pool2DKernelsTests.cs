using BinaryGrad.Kernels;
using NUnit.Framework;

namespace BinaryGrad.Tests.Kernels.Conv;

/// <summary>Max and average pooling against window loops written here. Values come from {0, 1, 2} so that windows
/// hold many ties, which pins down the documented rule: the first maximum in row-major window order wins.</summary>
[TestFixture, Category("Kernels")]
public class Pool2DKernelsTests
{
    // batch, channels, H, W, kH, kW, strideH, strideW, padH, padW
    private static readonly int[][] Geometries =
    [
        [1, 1, 4, 4, 2, 2, 2, 2, 0, 0],
        [2, 3, 7, 5, 3, 3, 2, 2, 1, 1],
        [1, 2, 6, 9, 2, 3, 1, 2, 1, 1],
        [2, 1, 5, 5, 5, 5, 1, 1, 2, 2],
        [1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
        [1, 2, 9, 8, 3, 2, 3, 1, 0, 1],
    ];

    private static Pool2DGeometry Geometry(int[] s) => new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9]);

    [TestCaseSource(nameof(Geometries))]
    public void MaxPool_ForwardAndBackward_MatchWindowLoops_TiesToFirst(int[] shape)
    {
        Pool2DGeometry g = Geometry(shape);
        var random = new Random(shape.Sum());
        double[] x = Enumerable.Range(0, g.InputLength).Select(_ => (double)random.Next(0, 3)).ToArray();
        double[] dy = Enumerable.Range(0, g.OutputLength).Select(_ => (double)random.Next(1, 5)).ToArray();
        double[] expectedY = new double[g.OutputLength], expectedDx = new double[g.InputLength];
        int[] expectedIndex = new int[g.OutputLength];
        int o = 0;
        foreach (var (window, _) in Windows(g))
        {
            int best = window[0];
            foreach (int i in window) if (x[i] > x[best]) best = i;
            (expectedY[o], expectedIndex[o]) = (x[best], best);
            expectedDx[best] += dy[o++];
        }
        double[] y = new double[g.OutputLength], dx = new double[g.InputLength];
        int[] index = new int[g.OutputLength];
        Pool2DKernels.MaxForward(g, x, y, index);
        Pool2DKernels.MaxBackward(g, dy, index, dx);
        Assert.Multiple(() =>
        {
            Assert.That(y, Is.EqualTo(expectedY), "values");
            Assert.That(index, Is.EqualTo(expectedIndex), "argmax");
            Assert.That(dx, Is.EqualTo(expectedDx), "gradient");
        });
    }

    [TestCaseSource(nameof(Geometries))]
    public void AveragePool_ForwardAndBackward_MatchWindowLoops(int[] shape)
    {
        Pool2DGeometry g = Geometry(shape);
        var random = new Random(shape.Sum());
        float[] x = Enumerable.Range(0, g.InputLength).Select(_ => (float)random.Next(-4, 5)).ToArray();
        float[] dy = Enumerable.Range(0, g.OutputLength).Select(_ => (float)random.Next(-4, 5)).ToArray();
        float[] expectedY = new float[g.OutputLength], expectedDx = Enumerable.Repeat(1f, g.InputLength).ToArray();
        float area = g.KernelHeight * g.KernelWidth;
        int o = 0;
        foreach (var (window, _) in Windows(g))
        {
            expectedY[o] = window.Sum(i => x[i]) / area; // padding counts in the divisor
            foreach (int i in window) expectedDx[i] += dy[o] / area;
            o++;
        }
        float[] y = new float[g.OutputLength], dx = Enumerable.Repeat(1f, g.InputLength).ToArray();
        Pool2DKernels.AverageForward(g, x, y);
        Pool2DKernels.AverageBackward(g, dy, dx);
        Assert.Multiple(() =>
        {
            Assert.That(y, Is.EqualTo(expectedY).Within(1e-6f), "values");
            Assert.That(dx, Is.EqualTo(expectedDx).Within(1e-5f), "gradient (added to ones)");
        });
    }

    /// <summary>The 2×2 stride-2 loop against the general reference loop (Simd.Path = Scalar), on odd sizes (the last
    /// row and column dropped), with ties, NaNs and signed zeros, float and double, one and several threads.</summary>
    [TestCase(1, 1, 2, 2)]
    [TestCase(3, 5, 7, 9)]
    [TestCase(2, 3, 28, 28)]
    [TestCase(64, 3, 14, 15)]
    [TestCase(2, 3, 32, 33)] // 16 outputs per row: four whole vector steps, then a window the scalar loop finishes
    [TestCase(3, 2, 6, 19)]  // 9 outputs per row: two vector steps and a tail of one
    public void MaxPool2x2_MatchesReferenceLoop_OddSizes(int batch, int channels, int height, int width)
    {
        var g = new Pool2DGeometry(batch, channels, height, width, 2, 2, 2, 2);
        var random = new Random(batch * 1000 + width);
        float[] special = [0f, -0f, 1f, 1f, float.NaN, -2f];
        float[] x = Enumerable.Range(0, g.InputLength).Select(_ => special[random.Next(special.Length)]).ToArray();
        float[] dy = Enumerable.Range(0, g.OutputLength).Select(_ => (float)random.Next(1, 5)).ToArray();
        double[] xd = x.Select(v => (double)v).ToArray();
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var threadsScope = KernelThreadsScope.Set(threads);
            (float[] y, int[] index, float[] dx) Run(SimdPath path)
            {
                using IDisposable _ = Simd.Force(path);
                float[] y = new float[g.OutputLength], dx = new float[g.InputLength];
                int[] index = new int[g.OutputLength];
                Pool2DKernels.MaxForward(g, x, y, index);
                Pool2DKernels.MaxBackward(g, dy, index, dx);
                return (y, index, dx);
            }
            var reference = Run(SimdPath.Scalar);
            var fast = Run(Simd.Best == SimdPath.Scalar ? SimdPath.Vector256 : Simd.Best);
            var fast256 = Run(SimdPath.Vector256);
            double[] yd = new double[g.OutputLength], yReference = new double[g.OutputLength];
            int[] indexD = new int[g.OutputLength], indexReference = new int[g.OutputLength];
            using (Simd.Force(SimdPath.Scalar)) Pool2DKernels.MaxForward(g, xd, yReference, indexReference);
            Pool2DKernels.MaxForward(g, xd, yd, indexD);
            Assert.Multiple(() =>
            {
                Assert.That(fast.index, Is.EqualTo(reference.index), $"argmax, {threads} threads");
                Assert.That(fast.y.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(reference.y.Select(BitConverter.SingleToInt32Bits)), "values (bits)");
                Assert.That(fast.dx, Is.EqualTo(reference.dx), "gradient");
                Assert.That(fast256.index, Is.EqualTo(reference.index), $"argmax, Vector256, {threads} threads");
                Assert.That(fast256.y.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(reference.y.Select(BitConverter.SingleToInt32Bits)), "values (bits), Vector256");
                Assert.That(indexD, Is.EqualTo(indexReference), "argmax (double)");
                Assert.That(yd.Select(BitConverter.DoubleToInt64Bits), Is.EqualTo(yReference.Select(BitConverter.DoubleToInt64Bits)), "values (double, bits)");
            });
        }
    }

    [Test]
    public void MaxPool_NaNInWindow_Propagates()
    {
        var g = new Pool2DGeometry(1, 1, 2, 2, 2, 2, 2, 2);
        float[] y = new float[1];
        int[] index = new int[1];
        Pool2DKernels.MaxForward(g, [1f, 5f, float.NaN, 2f], y, index);
        Assert.Multiple(() =>
        {
            Assert.That(y[0], Is.NaN);
            Assert.That(index[0], Is.EqualTo(2));
        });
    }

    [Test]
    public void Geometry_RejectsPaddingOverHalfTheWindow() =>
        Assert.That(() => new Pool2DGeometry(1, 1, 4, 4, 2, 2, 2, 2, padHeight: 2), Throws.TypeOf<ArgumentOutOfRangeException>());

    /// <summary>Each output's window as flat input indices of its real elements, in row-major order.</summary>
    private static IEnumerable<(List<int> Window, int Output)> Windows(Pool2DGeometry g)
    {
        int output = 0;
        for (int plane = 0; plane < g.Batch * g.Channels; plane++)
        for (int p = 0; p < g.OutHeight; p++)
        for (int q = 0; q < g.OutWidth; q++)
        {
            var window = new List<int>();
            for (int i = 0; i < g.KernelHeight; i++)
            for (int j = 0; j < g.KernelWidth; j++)
            {
                int row = p * g.StrideHeight - g.PadHeight + i, col = q * g.StrideWidth - g.PadWidth + j;
                if (row >= 0 && row < g.InHeight && col >= 0 && col < g.InWidth) window.Add((plane * g.InHeight + row) * g.InWidth + col);
            }
            yield return (window, output++);
        }
    }
}
