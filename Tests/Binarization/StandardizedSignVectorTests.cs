using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary><see cref="StandardizedSign"/>'s float32 vector loops against its scalar loops (forced scalar path, one
/// thread), bit for bit: forward signs and backward gradients, on odd sample sizes (blocks of eight plus a tail),
/// with a constant sample (every d = 0: the sign loop must hand it to the scalar code), a sample with a NaN, and
/// values beyond one standard deviation (the surrogate's zero branch).</summary>
[TestFixture, Category("Kernels")]
public class StandardizedSignVectorTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    private static (int[] Y, int[] Dx) Run(SimdPath path, int threads, bool center, float[] values, float[] upstream, int[] shape)
    {
        using var threadsScope = KernelThreadsScope.Set(threads);
        using IDisposable _ = Simd.Force(path);
        var quantizer = new StandardizedSign(center) { Training = true };
        var x = new Tensor((float[])values.Clone(), shape, requiresGrad: true);
        Tensor y = quantizer.Apply(x);
        y.Backward(new Tensor((float[])upstream.Clone(), y.Shape));
        return (Bits(y), Bits(x.Grad!));
    }

    private static int[] Bits(Tensor t) => t.ToArray<float>().Select(BitConverter.SingleToInt32Bits).ToArray();

    [Test]
    public void VectorLoops_EqualTheScalarLoops([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 7, 8, 9, 23, 67)] int n,
        [Values] bool center, [Values(1, 2)] int threads)
    {
        const int groups = 4;
        var random = new Random(n * 31 + (center ? 1 : 0));
        float[] values = Enumerable.Range(0, groups * n).Select(_ => (float)(random.NextDouble() * 6 - 2)).ToArray();
        float[] upstream = Enumerable.Range(0, groups * n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        Array.Fill(values, 0.5f, 0, n);                   // sample 0 constant: d = 0 everywhere (with centring)
        values[2 * n + n / 2] = float.NaN;                // sample 2 has a NaN
        upstream[3 * n] = float.PositiveInfinity;         // dy·0 = NaN where the surrogate is zero
        int[] shape = [groups, n];

        (int[] expectedY, int[] expectedDx) = Run(SimdPath.Scalar, 1, center, values, upstream, shape);
        (int[] y, int[] dx) = Run(path, threads, center, values, upstream, shape);
        Assert.That(y, Is.EqualTo(expectedY), "forward signs");
        Assert.That(dx, Is.EqualTo(expectedDx), "backward gradients");
    }
}
