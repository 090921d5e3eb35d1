using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;
using NUnit.Framework;

namespace BinaryGrad.Tests.Kernels.Binary;

[TestFixture, Category("Kernels")]
public class BinaryGemmTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    // Reduction lengths around every word and vector boundary (64, 256, 512 bits), rows of 4 mod 8 words (the
    // Vector512 path's 256-bit tail), and past one byte-sum chunk (31 vectors) of each vector width.
    private static readonly int[] BitCounts = [1, 63, 64, 65, 200, 256, 511, 513, 1000, 8000, 16100];

    // M and N below, at and off the 2×2 register block; (37, 33) also spans several threads' row ranges.
    private static readonly (int M, int N)[] Sizes = [(1, 1), (2, 2), (3, 5), (37, 33)];

    private int _savedThreads;

    [SetUp] public void SaveThreads() => _savedThreads = KernelThreads.Count;
    [TearDown] public void RestoreThreads() => KernelThreads.Count = _savedThreads;

    private sealed record Operands(float[] A, float[] B, ulong[] PackedA, ulong[] PackedB, int M, int N, int K);

    private static Operands Make(int m, int n, int k, int seed)
    {
        var random = new Random(seed);
        float[] a = Enumerable.Range(0, m * k).Select(_ => random.NextSingle() - 0.5f).ToArray();
        float[] b = Enumerable.Range(0, n * k).Select(_ => random.NextSingle() - 0.5f).ToArray();
        ulong[] pa = new ulong[m * BitPack.WordsPerRow(k)], pb = new ulong[n * BitPack.WordsPerRow(k)];
        BitPack.PackRows(a, pa, m, k);
        BitPack.PackRows(b, pb, n, k);
        return new Operands(a, b, pa, pb, m, n, k);
    }

    /// <summary>The float meaning of the packed operands: Σₖ sign(A[i,k])·sign(B[j,k]) over ±1 values.</summary>
    private static float[] FloatDots(Operands o)
    {
        float[] c = new float[o.M * o.N];
        for (int i = 0; i < o.M; i++)
            for (int j = 0; j < o.N; j++)
            {
                float sum = 0f; // integers below 2^24: exact
                for (int t = 0; t < o.K; t++) sum += (o.A[i * o.K + t] >= 0f ? 1f : -1f) * (o.B[j * o.K + t] >= 0f ? 1f : -1f);
                c[i * o.N + j] = sum;
            }
        return c;
    }

    [Test]
    public void Reference_EqualsFloatDotOfUnpackedSigns([ValueSource(nameof(BitCounts))] int k)
    {
        Operands o = Make(3, 4, k, seed: k);
        int[] c = new int[o.M * o.N];
        BinaryGemm.Reference(o.PackedA, o.PackedB, c, o.M, o.N, k);
        Assert.That(c.Select(v => (float)v), Is.EqualTo(FloatDots(o)));
    }

    [Test]
    public void Multiply_EveryPathAndThreadCount_EqualsReference(
        [ValueSource(nameof(Paths))] SimdPath path, [Values(1, 2)] int threads, [ValueSource(nameof(BitCounts))] int k)
    {
        KernelThreads.Count = threads;
        foreach ((int m, int n) in Sizes)
        {
            Operands o = Make(m, n, k, seed: k * 31 + m);
            int[] expected = new int[m * n], actual = new int[m * n + 1];
            actual[^1] = 12345; // guard element
            BinaryGemm.Reference(o.PackedA, o.PackedB, expected, m, n, k);
            using (Simd.Force(path)) BinaryGemm.Multiply(o.PackedA, o.PackedB, actual.AsSpan(0, m * n), m, n, k);
            Assert.That(actual[..^1], Is.EqualTo(expected), $"M={m} N={n}");
            Assert.That(actual[^1], Is.EqualTo(12345), "wrote past the end");
        }
    }

    /// <summary>The packed-threshold epilogue against the rule written out here on the float dots of the signs: bit j of
    /// row i is (dot ≥ T_j) XOR flip_j, rows of WordsPerRow(n) words with zero padding; thresholds at, above and below the
    /// dots (ties), always and never; n with a partial byte and word (33, 70), m below and above the lane paths' 4 rows.</summary>
    [Test]
    public void MultiplyPackedThreshold_EveryPath_EqualsComparedFloatDots([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 2)] int threads,
                                                                      [Values(65, 1000)] int k, [Values(3, 37)] int m, [Values(33, 70)] int n)
    {
        KernelThreads.Count = threads;
        Operands o = Make(m, n, k, seed: k + 3 * n + m);
        float[] dots = FloatDots(o);
        var random = new Random(n);
        int[] thresholds = Enumerable.Range(0, n).Select(j => random.Next(5) switch
        {
            0 => int.MinValue,                        // always
            1 => int.MaxValue,                        // never
            2 => (int)dots[random.Next(m) * n + j],   // a tie with some row's dot
            _ => random.Next(-k, k + 1),
        }).ToArray();
        ulong[] flips = new ulong[BitPack.WordsPerPixel(n)];
        for (int j = 0; j < n; j++) if (random.Next(3) == 0) flips[j >> 6] |= 1UL << (j & 63);
        int stride = BitPack.WordsPerRow(n);
        var expected = new ulong[m * stride];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                if ((dots[i * n + j] >= thresholds[j]) != (((flips[j >> 6] >> (j & 63)) & 1) != 0)) expected[i * stride + (j >> 6)] |= 1UL << (j & 63);
        ulong[] actual = Enumerable.Repeat(ulong.MaxValue, m * stride + 1).ToArray(), reference = new ulong[m * stride];
        using (Simd.Force(path))
            BinaryGemm.MultiplyPackedThreshold(o.PackedA, o.PackedB, actual.AsSpan(0, m * stride), m, n, k, thresholds, flips, BinaryGemm.Plan(o.PackedB, n, k));
        BinaryGemm.ReferencePackedThreshold(o.PackedA, o.PackedB, reference, m, n, k, thresholds, flips);
        Assert.That(actual[..^1], Is.EqualTo(expected), "packed");
        Assert.That(actual[^1], Is.EqualTo(ulong.MaxValue), "wrote past the end");
        Assert.That(reference, Is.EqualTo(expected), "reference");
    }

    [Test]
    public void MultiplyPackedThreshold_FlipBitPastTheColumns_Throws()
    {
        Operands o = Make(4, 10, 64, seed: 1);
        Assert.That(() => BinaryGemm.MultiplyPackedThreshold(o.PackedA, o.PackedB, new ulong[4 * 4], 4, 10, 64, new int[10], [1UL << 10]),
                    Throws.ArgumentException.With.Message.Contains("past column 10"));
    }

    /// <summary>With a plan of B (the rows grouped into lanes once) the product equals the float dots of the signs, call
    /// after call; plans for another path or another B shape are ignored.</summary>
    [Test]
    public void Multiply_WithPlan_EveryPath_EqualsFloatDots([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 2)] int threads,
                                                            [Values(65, 513, 1000)] int k)
    {
        KernelThreads.Count = threads;
        Operands o = Make(37, 33, k, seed: k + 5);
        float[] expected = FloatDots(o);
        BinaryGemmPlan plan;
        using (Simd.Force(path)) plan = BinaryGemm.Plan(o.PackedB, o.N, k);
        BinaryGemmPlan otherPath;
        using (Simd.Force(path == SimdPath.Vector512 ? SimdPath.Vector256 : SimdPath.Vector512)) otherPath = BinaryGemm.Plan(o.PackedB, o.N, k);
        BinaryGemmPlan otherShape = BinaryGemm.Plan(o.PackedB, o.N - 1, k);
        foreach ((string name, BinaryGemmPlan p) in new[] { ("plan", plan), ("other path", otherPath), ("other shape", otherShape) })
        {
            int[] actual = new int[o.M * o.N];
            using (Simd.Force(path))
                for (int call = 0; call < 2; call++) BinaryGemm.Multiply(o.PackedA, o.PackedB, actual, o.M, o.N, k, p);
            Assert.That(actual.Select(v => (float)v), Is.EqualTo(expected), name);
        }
    }

    [Test]
    public void Multiply_FusedEpilogue_EveryPath_EqualsScaleTimesFloatDotPlusBias(
        [ValueSource(nameof(Paths))] SimdPath path, [Values(1, 2)] int threads, [Values(1, 65, 513)] int k)
    {
        KernelThreads.Count = threads;
        Operands o = Make(5, 7, k, seed: k);
        var random = new Random(k);
        float[] scale = Enumerable.Range(0, o.N).Select(j => j == 0 ? 0f : random.NextSingle() * 4 - 2).ToArray();
        float[] bias = Enumerable.Range(0, o.N).Select(_ => random.NextSingle() * 10 - 5).ToArray();
        float[] dots = FloatDots(o), expected = new float[o.M * o.N], actual = new float[o.M * o.N];
        for (int i = 0; i < o.M; i++)
            for (int j = 0; j < o.N; j++) expected[i * o.N + j] = scale[j] * dots[i * o.N + j] + bias[j];
        using (Simd.Force(path)) BinaryGemm.Multiply(o.PackedA, o.PackedB, actual, o.M, o.N, k, scale, bias);
        Assert.That(actual, Is.EqualTo(expected)); // same float operations on the same exact integer: bit-identical

        float[] reference = new float[o.M * o.N];
        BinaryGemm.Reference(o.PackedA, o.PackedB, reference, o.M, o.N, k, scale, bias);
        Assert.That(reference, Is.EqualTo(expected), "reference epilogue");
    }

    /// <summary>Whole groups of 8 columns and at least 4 rows: the Vector256 path's vector epilogue
    /// (8 columns per store), beside its tail columns and rows.</summary>
    [Test]
    public void Multiply_FusedEpilogue_WholeColumnGroups_EqualsScaleTimesFloatDotPlusBias(
        [ValueSource(nameof(Paths))] SimdPath path, [Values(1, 2)] int threads, [Values(63, 700)] int k)
    {
        KernelThreads.Count = threads;
        Operands o = Make(9, 19, k, seed: k + 1);
        var random = new Random(k);
        float[] scale = Enumerable.Range(0, o.N).Select(j => j == 3 ? 0f : random.NextSingle() * 4 - 2).ToArray();
        float[] bias = Enumerable.Range(0, o.N).Select(_ => random.NextSingle() * 10 - 5).ToArray();
        float[] dots = FloatDots(o), expected = new float[o.M * o.N], actual = new float[o.M * o.N];
        for (int i = 0; i < o.M; i++)
            for (int j = 0; j < o.N; j++) expected[i * o.N + j] = scale[j] * dots[i * o.N + j] + bias[j];
        using (Simd.Force(path)) BinaryGemm.Multiply(o.PackedA, o.PackedB, actual, o.M, o.N, k, scale, bias);
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void Multiply_ShortOutput_Throws() =>
        Assert.That(() => BinaryGemm.Multiply(new ulong[16], new ulong[16], new int[3], 2, 2, 64), Throws.ArgumentException);

    [Test]
    public void Multiply_EmptyShapes_DoNothing()
    {
        int[] c = [7];
        BinaryGemm.Multiply([], new ulong[3 * 8], c.AsSpan(0, 0), 0, 3, 64);
        BinaryGemm.Multiply(new ulong[8], [], c.AsSpan(0, 0), 1, 0, 64);
        Assert.That(c[0], Is.EqualTo(7));
    }
}
