using BinaryGrad.Autograd;
using BinaryGrad.Kernels;
using NUnit.Framework;

namespace BinaryGrad.Tests.Autograd;

/// <summary><see cref="Ops.SubsamplePad"/> against the composite it replaces, <c>Pad(Slice(Slice(x)))</c>: the same
/// output and input gradient value for value (it only moves values), float32 and float64, odd sides (⌈H/s⌉), strides
/// 1–3, on 1 and 3 threads; its gradient against finite differences is in the op catalog (OpGradCheckTests).</summary>
[TestFixture, Category("Autograd")]
public class SubsamplePadTests
{
    private static (double[] Y, double[] Dx, int[] Shape) Run(bool fused, DType dtype, int[] shape, int stride, int before, int after, int threads)
    {
        using var threadsScope = KernelThreadsScope.Set(threads);
        var rng = new Rng(7);
        Tensor x = Tensor.Normal(shape, rng, dtype: dtype, requiresGrad: true);
        Tensor y;
        if (fused) y = Ops.SubsamplePad(x, stride, before, after);
        else
        {
            y = Ops.Slice(x, 2, 0, (shape[2] + stride - 1) / stride, stride);
            y = Ops.Slice(y, 3, 0, (shape[3] + stride - 1) / stride, stride);
            y = Ops.Pad(y, [0, 0, before, after]);
        }
        y.Backward(Tensor.Normal(y.Shape, new Rng(8), dtype: dtype));
        return (y.ToDoubleArray(), x.Grad!.ToDoubleArray(), y.ShapeArray.ToArray());
    }

    [Test]
    public void EqualsSliceSliceAndPad([Values(DType.Float32, DType.Float64)] DType dtype, [Values(1, 3)] int threads)
    {
        foreach ((int[] shape, int stride, int before, int after) in new (int[], int, int, int)[]
                 { ([3, 4, 8, 8], 2, 2, 2), ([2, 3, 7, 5], 2, 1, 0), ([2, 2, 7, 8], 3, 0, 3), ([2, 5, 4, 3], 1, 2, 1), ([1, 2, 1, 1], 2, 1, 1) })
        {
            var expected = Run(fused: false, dtype, shape, stride, before, after, 1);
            var actual = Run(fused: true, dtype, shape, stride, before, after, threads);
            string what = $"[{string.Join(',', shape)}] stride {stride}, channels +{before}/+{after}";
            Assert.That(actual.Shape, Is.EqualTo(expected.Shape), what);
            Assert.That(actual.Y, Is.EqualTo(expected.Y), $"y, {what}");
            Assert.That(actual.Dx, Is.EqualTo(expected.Dx), $"dx, {what}");
        }
    }

    [Test]
    public void BadArguments_AreNamed()
    {
        Assert.That(() => Ops.SubsamplePad(Tensor.Zeros([2, 3, 4]), 2, 0, 0),
            Throws.ArgumentException.With.Message.Contains("subsample_pad: x [2,3,4] must be [N,C,H,W]"));
        Assert.That(() => Ops.SubsamplePad(Tensor.Zeros([1, 1, 2, 2]), 0, 0, 0),
            Throws.ArgumentException.With.Message.Contains("stride 0 must be ≥ 1"));
        Assert.That(() => Ops.SubsamplePad(Tensor.Zeros([1, 1, 2, 2]), 2, -1, 0),
            Throws.ArgumentException.With.Message.Contains("(-1, 0) ≥ 0"));
    }
}
