using BinaryGrad.Kernels;
using NUnit.Framework;

namespace BinaryGrad.Tests.Kernels.Gemm;

using Gemm = BinaryGrad.Kernels.Gemm;

/// <summary>Every GEMM path against <c>Gemm.Reference</c>. Inputs are small integers so that every partial sum is
/// exact in float and the paths must agree bit for bit whatever their summation order or FMA use; random real
/// inputs get a tolerance proportional to k.</summary>
[TestFixture, Category("Kernels")]
public class GemmTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    // (m, n, k): 1s, primes, exact tiles (6×16, 4×4), and shapes crossing MC = 144 / KC = 256 / tile edges.
    private static readonly (int M, int N, int K)[] BlockedShapes =
        [(1, 1, 1), (1, 37, 3), (29, 1, 7), (6, 16, 4), (7, 13, 5), (13, 35, 29), (150, 33, 260), (5, 70, 300)];

    private static readonly (float Alpha, float Beta)[] Scalings = [(1f, 0f), (-1.5f, 0.5f), (2f, 1f)];

    private static IEnumerable<TestCaseData> BlockedCases()
    {
        foreach (SimdPath path in Paths)
        foreach (bool transA in new[] { false, true })
        foreach (bool transB in new[] { false, true })
        foreach (var (m, n, k) in BlockedShapes)
        {
            // Emulated Vector512 is slow on machines without AVX-512: keep its biggest shapes out.
            if (path == SimdPath.Vector512 && m * n * k > 100_000) continue;
            foreach (var (alpha, beta) in Scalings)
                yield return new TestCaseData(path, transA, transB, m, n, k, alpha, beta);
        }
    }

    [TestCaseSource(nameof(BlockedCases))]
    public void Blocked_Float_EqualsReferenceExactly(SimdPath path, bool transA, bool transB, int m, int n, int k, float alpha, float beta)
    {
        var p = Problem<float>.Create(transA, transB, m, n, k, seed: m * 31 + n * 7 + k);
        float[] expected = p.C.ToArray(), actual = p.C.ToArray();
        Gemm.Reference(transA, transB, m, n, k, alpha, p.A, p.Lda, p.B, p.Ldb, beta, expected, p.Ldc);
        Gemm.MultiplyBlocked(path, 1, transA, transB, m, n, k, alpha, p.A, p.Lda, p.B, p.Ldb, beta, actual, p.Ldc);
        Assert.That(actual, Is.EqualTo(expected));
    }

    [TestCaseSource(nameof(BlockedCases))]
    public void Blocked_Double_EqualsReferenceExactly(SimdPath path, bool transA, bool transB, int m, int n, int k, float alpha, float beta)
    {
        var p = Problem<double>.Create(transA, transB, m, n, k, seed: m * 31 + n * 7 + k + 1);
        double[] expected = p.C.ToArray(), actual = p.C.ToArray();
        Gemm.Reference(transA, transB, m, n, k, alpha, p.A, p.Lda, p.B, p.Ldb, beta, expected, p.Ldc);
        Gemm.MultiplyBlocked<double>(path, 1, transA, transB, m, n, k, alpha, p.A, p.Lda, p.B, p.Ldb, beta, actual, p.Ldc);
        Assert.That(actual, Is.EqualTo(expected));
    }

    private static IEnumerable<TestCaseData> DirectCases()
    {
        foreach (SimdPath path in Paths)
        foreach (bool transA in new[] { false, true })
        foreach (bool transB in new[] { false, true })
        foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 19, 2), (17, 35, 11), (6, 64, 9) })
        foreach (var (alpha, beta) in Scalings)
            yield return new TestCaseData(path, transA, transB, m, n, k, alpha, beta);
    }

    [TestCaseSource(nameof(DirectCases))]
    public void Direct_EqualsReferenceExactly(SimdPath path, bool transA, bool transB, int m, int n, int k, float alpha, float beta)
    {
        var p = Problem<float>.Create(transA, transB, m, n, k, seed: 5);
        float[] expected = p.C.ToArray(), actual = p.C.ToArray();
        if (beta == 0)
            for (int i = 0; i < m; i++) (actual[i * p.Ldc], actual[i * p.Ldc + n - 1]) = (float.NaN, float.NaN); // β = 0 must never read C
        Gemm.Reference(transA, transB, m, n, k, alpha, p.A, p.Lda, p.B, p.Ldb, beta, expected, p.Ldc);
        Gemm.MultiplyDirect(path, transA, transB, m, n, k, alpha, p.A, p.Lda, p.B, p.Ldb, beta, actual, p.Ldc);
        Assert.That(actual, Is.EqualTo(expected));
    }

    private static IEnumerable<TestCaseData> DotCases()
    {
        // 4×4 blocks with row/column edges (m, n not multiples of 4) and k tails of every length mod 16, on each path
        foreach (SimdPath path in Paths)
        foreach (var (m, n, k) in new[] { (4, 4, 512), (16, 144, 1024), (7, 13, 515), (5, 9, 527), (1, 3, 600), (9, 4, 1039) })
        foreach (var (alpha, beta) in Scalings)
            yield return new TestCaseData(path, m, n, k, alpha, beta);
    }

    [TestCaseSource(nameof(DotCases))]
    public void DotProductPath_EqualsReferenceExactly(SimdPath path, int m, int n, int k, float alpha, float beta)
    {
        var p = Problem<float>.Create(false, true, m, n, k, seed: m * 13 + n + k);
        float[] expected = p.C.ToArray(), actual = p.C.ToArray();
        if (beta == 0)
            for (int i = 0; i < m; i++) (actual[i * p.Ldc], actual[i * p.Ldc + n - 1]) = (float.NaN, float.NaN); // β = 0 must never read C
        Gemm.Reference(false, true, m, n, k, alpha, p.A, p.Lda, p.B, p.Ldb, beta, expected, p.Ldc);
        Assert.That(GemmDot.Applies(false, true, m, n, k), Is.True);
        GemmDot.Multiply(path, m, n, k, alpha, p.A, p.Lda, p.B, p.Ldb, beta, actual, p.Ldc);
        Assert.That(actual, Is.EqualTo(expected));
        // and the public entry on one thread routes there (same bits)
        float[] routed = p.C.ToArray();
        Gemm.Multiply(path, 1, false, true, m, n, k, alpha, (ReadOnlySpan<float>)p.A, p.Lda, p.B, p.Ldb, beta, routed, p.Ldc);
        Assert.That(routed, Is.EqualTo(expected));
    }

    [Test]
    public void DotProductPath_Double_RandomReals_WithinToleranceProportionalToK([ValueSource(nameof(Paths))] SimdPath path)
    {
        const int m = 6, n = 10, k = 777;
        var random = new Random(3);
        double[] a = Enumerable.Range(0, m * k).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        double[] b = Enumerable.Range(0, n * k).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        double[] actual = new double[m * n];
        GemmDot.Multiply(path, m, n, k, 1.0, a, k, b, k, 0.0, actual, n);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                decimal exact = 0, magnitude = 0; // the dot product in decimal (28 digits) as the oracle
                for (int p = 0; p < k; p++)
                {
                    exact += (decimal)a[i * k + p] * (decimal)b[j * k + p];
                    magnitude += Math.Abs((decimal)a[i * k + p] * (decimal)b[j * k + p]);
                }
                double tolerance = 2.0 * k * Math.ScaleB(1.0, -53) * (double)magnitude;
                Assert.That(actual[i * n + j], Is.EqualTo((double)exact).Within(tolerance), $"C[{i},{j}]");
            }
    }

    [Test]
    public void Multiply_BetaZero_OverwritesNaNInC([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 2)] int threads)
    {
        const int m = 70, n = 50, k = 90; // above the direct-path size: the blocked driver
        var p = Problem<float>.Create(false, false, m, n, k, seed: 11);
        float[] expected = new float[p.C.Length], actual = new float[p.C.Length];
        Array.Fill(actual, float.NaN);
        Array.Fill(expected, float.NaN);
        Gemm.Reference(false, false, m, n, k, 1f, p.A, p.Lda, p.B, p.Ldb, 0f, expected, p.Ldc);
        Gemm.Multiply(path, threads, false, false, m, n, k, 1f, p.A, p.Lda, p.B, p.Ldb, 0f, actual.AsSpan(), p.Ldc);
        Assert.That(actual, Is.EqualTo(expected)); // padding columns stay NaN in both (NUnit treats NaN = NaN)
    }

    [Test]
    public void Multiply_ThreadCounts_GiveIdenticalResults([Values(SimdPath.Scalar, SimdPath.Vector256)] SimdPath path,
        [Values(false, true)] bool transA, [Values(false, true)] bool transB)
    {
        const int m = 97, n = 131, k = 167; // above the threading threshold (4·64³)
        var p = Problem<float>.Create(transA, transB, m, n, k, seed: 3);
        float[] expected = p.C.ToArray(), one = p.C.ToArray(), two = p.C.ToArray();
        Gemm.Reference(transA, transB, m, n, k, -1f, p.A, p.Lda, p.B, p.Ldb, 2f, expected, p.Ldc);
        Gemm.Multiply(path, 1, transA, transB, m, n, k, -1f, p.A, p.Lda, p.B, p.Ldb, 2f, one.AsSpan(), p.Ldc);
        Gemm.Multiply(path, 2, transA, transB, m, n, k, -1f, p.A, p.Lda, p.B, p.Ldb, 2f, two.AsSpan(), p.Ldc);
        Assert.Multiple(() =>
        {
            Assert.That(one, Is.EqualTo(expected), "1 thread");
            Assert.That(two, Is.EqualTo(expected), "2 threads");
        });
    }

    /// <summary>A B packed once (Gemm.PackB) gives the reference on integer data and, on random reals, the very floats
    /// of the same call without it, on both transposes, every path, 1 and 2 threads; the shapes cross KC = 256, end in
    /// partial slivers and split unevenly between threads. A packed B of another shape is ignored.</summary>
    [Test]
    public void Multiply_WithPackedB_EqualsReferenceAndTheUnpackedCall([ValueSource(nameof(Paths))] SimdPath path, [Values(false, true)] bool transB,
        [Values(1, 2)] int threads, [Values(1, 77, 130)] int m, [Values(33, 100, 1024)] int n, [Values(300, 784)] int k)
    {
        if (path == SimdPath.Vector512 && !System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && (long)m * n * k > 1_000_000) return; // emulated: too slow
        using var threadsScope = KernelThreadsScope.Set(threads);
        using (Simd.Force(path))
        {
            var p = Problem<float>.Create(false, transB, m, n, k, seed: m + n + k);
            GemmPackedB packed = Gemm.PackB(transB, k, n, p.B, p.Ldb);
            float[] expected = p.C.ToArray(), actual = p.C.ToArray();
            Gemm.Reference(false, transB, m, n, k, -1f, p.A, p.Lda, p.B, p.Ldb, 0.5f, expected, p.Ldc);
            Gemm.Multiply(false, transB, m, n, k, -1f, p.A, p.Lda, p.B, p.Ldb, 0.5f, actual, p.Ldc, packed);
            Assert.That(actual, Is.EqualTo(expected), "integer data: the reference");

            var random = new Random(k);
            float[] a = Enumerable.Range(0, p.A.Length).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray();
            float[] b = Enumerable.Range(0, p.B.Length).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray();
            GemmPackedB packedReal = Gemm.PackB(transB, k, n, b, p.Ldb);
            float[] plain = new float[p.C.Length], withPacked = new float[p.C.Length];
            Gemm.Multiply(false, transB, m, n, k, 1f, a, p.Lda, b, p.Ldb, 0f, plain, p.Ldc);
            Gemm.Multiply(false, transB, m, n, k, 1f, a, p.Lda, b, p.Ldb, 0f, withPacked, p.Ldc, packedReal);
            Assert.That(withPacked, Is.EqualTo(plain), "reals: the unpacked call's floats");

            float[] ignored = p.C.ToArray();
            Gemm.Multiply(false, transB, m, n, k, -1f, p.A, p.Lda, p.B, p.Ldb, 0.5f, ignored, p.Ldc, Gemm.PackB(transB, k - 1, n, p.B, p.Ldb));
            Assert.That(ignored, Is.EqualTo(expected), "a packed B of another depth is ignored");
        }
    }

    /// <summary>A packed B past the blocked driver's 4 096-column block (n = 5 003: panels of several column blocks and a
    /// partial last sliver) gives the unpacked call's floats on random reals, on each path and 1 or 2 threads.</summary>
    [Test]
    public void Multiply_WithPackedB_PastOneColumnBlock_EqualsTheUnpackedCall([ValueSource(nameof(Paths))] SimdPath path, [Values(false, true)] bool transB,
        [Values(1, 2)] int threads)
    {
        const int m = 20, n = 5003, k = 70;
        using var threadsScope = KernelThreadsScope.Set(threads);
        using (Simd.Force(path))
        {
            var random = new Random(n + (transB ? 1 : 0));
            float[] a = Enumerable.Range(0, m * k).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray();
            float[] b = Enumerable.Range(0, n * k).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray();
            int ldb = transB ? k : n;
            float[] plain = new float[m * n], withPacked = new float[m * n];
            Gemm.Multiply(false, transB, m, n, k, 1f, a, k, b, ldb, 0f, plain, n);
            Gemm.Multiply(false, transB, m, n, k, 1f, a, k, b, ldb, 0f, withPacked, n, Gemm.PackB(transB, k, n, b, ldb));
            Assert.That(withPacked, Is.EqualTo(plain));
        }
    }

    [Test]
    public void PublicMultiply_UsesForcedPathAndKernelThreads([Values] SimdPath path, [Values(1, 2)] int threads)
    {
        const int m = 40, n = 90, k = 100;
        var p = Problem<double>.Create(true, false, m, n, k, seed: 8);
        double[] expected = p.C.ToArray(), actual = p.C.ToArray();
        Gemm.Reference(true, false, m, n, k, 1.0, p.A, p.Lda, p.B, p.Ldb, -1.0, expected, p.Ldc);
        using var threadsScope = KernelThreadsScope.Set(threads);
        using (Simd.Force(path))
            Gemm.Multiply(true, false, m, n, k, 1.0, p.A, p.Lda, p.B, p.Ldb, -1.0, actual, p.Ldc);
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void Multiply_RandomReals_WithinToleranceProportionalToK([Values(SimdPath.Scalar, SimdPath.Vector256)] SimdPath path,
        [Values(1, 300)] int k)
    {
        const int m = 50, n = 60;
        var random = new Random(k);
        float[] a = Enumerable.Range(0, m * k).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray();
        float[] b = Enumerable.Range(0, k * n).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray();
        float[] actual = new float[m * n];
        double[] exact = new double[m * n], magnitude = new double[m * n];
        double[] a64 = a.Select(x => (double)x).ToArray(), b64 = b.Select(x => (double)x).ToArray();
        Gemm.Reference(false, false, m, n, k, 1.0, a64, k, b64, n, 0.0, exact, n);
        Gemm.Reference(false, false, m, n, k, 1.0, a64.Select(Math.Abs).ToArray(), k, b64.Select(Math.Abs).ToArray(), n, 0.0, magnitude, n);
        Gemm.MultiplyBlocked(path, 2, false, false, m, n, k, 1f, a, k, b, n, 0f, actual, n);
        for (int i = 0; i < m * n; i++)
        {
            // Recursive summation: |error| ≤ k·u·Σ|a||b| with u = 2⁻²⁴ (float unit roundoff); 2× for the final rounding.
            double tolerance = 2.0 * k * Math.ScaleB(1.0, -24) * magnitude[i];
            Assert.That(actual[i], Is.EqualTo(exact[i]).Within(tolerance), $"element {i}");
        }
    }

    [Test]
    public void Multiply_ZeroSizes_AndZeroDepth([Values(0, 1)] int m, [Values(0, 3)] int n)
    {
        float[] c = Enumerable.Repeat(float.NaN, Math.Max(1, m * 3)).ToArray();
        Gemm.Multiply(false, false, m, n, 0, 1f, [], 1, [], Math.Max(1, n), 0f, c, 3);
        float[] expected = Enumerable.Repeat(float.NaN, c.Length).ToArray();
        for (int i = 0; i < m * n; i++) expected[i] = 0f; // k = 0: C = β·C, and β = 0 clears
        Assert.That(c, Is.EqualTo(expected));
    }

    [Test]
    public void Multiply_AlphaZero_ScalesCWithoutReadingA()
    {
        float[] a = [float.NaN, float.NaN], b = [1f, 2f], c = [4f];
        Gemm.Multiply(false, false, 1, 1, 2, 0f, a, 2, b, 1, 0.5f, c, 1);
        Assert.That(c, Is.EqualTo(new[] { 2f }));
    }

    [Test]
    public void Reference_SmallProduct_IsTheTextbookOne()
    {
        double[] a = [1, 2, 3, 4], b = [5, 6, 7, 8], c = [1, 1, 1, 1];
        Gemm.Reference(false, false, 2, 2, 2, 1.0, a, 2, b, 2, 1.0, c, 2);
        Assert.That(c, Is.EqualTo(new double[] { 20, 23, 44, 51 }));
    }

    [Test]
    public void Multiply_InvalidArguments_ThrowNamingTheArgument()
    {
        float[] a = new float[6], b = new float[6], c = new float[4];
        Assert.Multiple(() =>
        {
            Assert.That(() => Gemm.Multiply(false, false, -1, 2, 3, 1f, a, 3, b, 2, 0f, c, 2),
                Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("m"));
            Assert.That(() => Gemm.Multiply(false, false, 2, 2, 3, 1f, a, 2, b, 2, 0f, c, 2),
                Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("lda"));
            Assert.That(() => Gemm.Multiply(false, false, 2, 2, 3, 1f, a.AsSpan(0, 5), 3, b, 2, 0f, c, 2),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("a").And.Message.Contains("6"));
            Assert.That(() => Gemm.Multiply(false, true, 2, 2, 3, 1f, a, 3, b, 2, 0f, c, 2),
                Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("ldb"));
            Assert.That(() => Gemm.Multiply(false, false, 2, 2, 3, 1f, a, 3, b, 2, 0f, c.AsSpan(0, 3), 2),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("c"));
        });
    }

    /// <summary>Integer-valued operands with padded leading dimensions (ld = row length + 3) so that strides are tested.</summary>
    private sealed record Problem<T>(T[] A, int Lda, T[] B, int Ldb, T[] C, int Ldc) where T : struct, System.Numerics.INumber<T>
    {
        public static Problem<T> Create(bool transA, bool transB, int m, int n, int k, int seed)
        {
            var random = new Random(seed);
            int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
            int lda = aCols + 3, ldb = bCols + 3, ldc = n + 3;
            T[] Fill(int length) => Enumerable.Range(0, length).Select(_ => T.CreateChecked(random.Next(-3, 4))).ToArray();
            return new Problem<T>(Fill(aRows * lda), lda, Fill(bRows * ldb), ldb, Fill(m * ldc), ldc);
        }
    }
}
