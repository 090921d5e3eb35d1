using BinaryGrad.Autograd;
using BinaryGrad.Kernels;
using NUnit.Framework;

namespace BinaryGrad.Tests.Autograd;

/// <summary>The vectorized and threaded paths of the training ops against their scalar, single-threaded references,
/// bit for bit, on odd sizes (vector tails, uneven thread splits), with special values where the rules matter.</summary>
[TestFixture, Category("Autograd")]
public class FastPathTests
{
    private static (int[] Y, int[] Dx) Run(SimdPath path, int threads, Func<Tensor, Tensor> op, float[] values, int[] shape, float[] seed)
    {
        using var threadsScope = KernelThreadsScope.Set(threads);
        using IDisposable _ = Simd.Force(path);
        var x = new Tensor((float[])values.Clone(), shape, requiresGrad: true);
        Tensor y = op(x);
        y.Backward(new Tensor((float[])seed.Clone(), y.Shape));
        return (Bits(y), Bits(x.Grad!));
    }

    private static int[] Bits(Tensor t) => t.ToArray<float>().Select(BitConverter.SingleToInt32Bits).ToArray();

    private static float[] Values(int count, int seed, float[] special)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(4) == 0 ? special[random.Next(special.Length)] : (float)(random.NextDouble() * 4 - 2)).ToArray();
    }

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(1037)]
    public void LeakyRelu_VectorBackward_MatchesScalarBits(int count)
    {
        float[] special = [0f, -0f, float.NaN, float.PositiveInfinity, -3f];
        float[] x = Values(count, count, special), seed = Values(count, count + 1, special);
        foreach (double slope in new[] { 0, 0.01 })
        {
            Func<Tensor, Tensor> op = slope == 0 ? Ops.Relu : t => Ops.LeakyRelu(t, slope);
            var reference = Run(SimdPath.Scalar, 1, op, x, [count], seed);
            var fast = Run(Simd.Best == SimdPath.Scalar ? SimdPath.Vector256 : Simd.Best, 1, op, x, [count], seed);
            Assert.That(fast.Dx, Is.EqualTo(reference.Dx), $"slope {slope}");
        }
    }

    [Test]
    public void UnaryOps_ThreadedChunks_MatchSingleThreadBits()
    {
        const int count = 300_007; // above the threading threshold, not a multiple of any vector width
        float[] x = Values(count, 5, [0f, -0f, float.NaN, 30f, -30f]), seed = Values(count, 6, [0f, -1f]);
        foreach ((string name, Func<Tensor, Tensor> op) in new (string, Func<Tensor, Tensor>)[] { ("relu", Ops.Relu), ("tanh", Ops.Tanh), ("sigmoid", Ops.Sigmoid) })
        {
            var single = Run(Simd.Best, 1, op, x, [count], seed);
            foreach (int threads in new[] { 2, 3 })
            {
                var threaded = Run(Simd.Best, threads, op, x, [count], seed);
                Assert.That(threaded.Y, Is.EqualTo(single.Y), $"{name} y, {threads} threads");
                Assert.That(threaded.Dx, Is.EqualTo(single.Dx), $"{name} dx, {threads} threads");
            }
        }
    }

    [TestCase(3, 5, 7, 3)]
    [TestCase(2, 3, 1, 2)]
    [TestCase(4, 1, 1, 1)]
    public void BatchNorm_ThreadedChannels_MatchSingleThreadBits(int n, int c, int h, int w)
    {
        int[] shape = [n, c, h, w];
        float[] x = Values(n * c * h * w, c, [1f, -1f]), seed = Values(n * c * h * w, h, [0f]);
        foreach (bool training in new[] { true, false })
        {
            Tensor gamma = Tensor.FromValues(Enumerable.Range(0, c).Select(i => 0.5 + i).ToArray(), [c], requiresGrad: true);
            Tensor beta = Tensor.FromValues(Enumerable.Range(0, c).Select(i => 0.25 * i).ToArray(), [c], requiresGrad: true);
            Tensor Op(Tensor t, Tensor rm, Tensor rv) => Ops.BatchNorm(t, gamma, beta, rm, rv, training);
            (int[], int[]) Once(int threads)
            {
                Tensor rm = Tensor.FromValues(Enumerable.Range(0, c).Select(i => 0.1 * i).ToArray(), [c]);
                Tensor rv = Tensor.FromValues(Enumerable.Range(0, c).Select(i => 1 + 0.1 * i).ToArray(), [c]);
                return Run(SimdPath.Scalar, threads, t => Op(t, rm, rv), x, shape, seed);
            }
            var single = Once(1);
            foreach (int threads in new[] { 2, 3 })
            {
                var threaded = Once(threads);
                Assert.That(threaded.Item1, Is.EqualTo(single.Item1), $"y, training {training}, {threads} threads");
                Assert.That(threaded.Item2, Is.EqualTo(single.Item2), $"dx, training {training}, {threads} threads");
            }
        }
    }
}
