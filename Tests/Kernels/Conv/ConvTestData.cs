using BinaryGrad.Kernels;

namespace BinaryGrad.Tests.Kernels.Conv;

/// <summary>Data and run helpers shared by the convolution kernel tests: small integers (every sum exact on every
/// path), reals in [−1, 1), and a body run on a forced SIMD path with a given thread count.</summary>
internal static class ConvTestData
{
    public static void RunWith(SimdPath path, int threads, Action body)
    {
        using var threadsScope = KernelThreadsScope.Set(threads);
        using (Simd.Force(path)) body();
    }

    public static double[] Integers(Random random, int length) => Enumerable.Range(0, length).Select(_ => (double)random.Next(-3, 4)).ToArray();
    public static double[] Reals(Random random, int length) => Enumerable.Range(0, length).Select(_ => random.NextDouble() * 2 - 1).ToArray();
    public static float[] ToFloat(double[] values) => values.Select(v => (float)v).ToArray();
}
