using System.Numerics;

namespace BinaryGrad.Kernels.Binary;

/// <summary>Matrix product of ±1 matrices packed by <see cref="BitPack.PackRows(ReadOnlySpan{float}, Span{ulong}, int, int)"/>:
/// <c>C[i,j] = Σₖ A[i,k]·B[j,k]</c> for A [M × K] and B [N × K], both K-major (B is the transposed right operand,
/// i.e. a weight matrix stored one output per row).</summary>
/// <remarks>
/// <para><b>Identity.</b> For ±1 values a matching pair adds +1 and a mismatch −1, and bits match exactly where
/// <c>a XOR b</c> is 0, so <c>C[i,j] = K − 2·popcount(A[i] XOR B[j])</c>. Padding bits are zero in both rows
/// (see <see cref="BitPack"/>), so they never count as mismatches and K is the true length.</para>
/// <para><b>Layout.</b> Row i of A starts at word <c>i·BitPack.WordsPerRow(K)</c>, row j of B likewise; outputs
/// are row-major [M × N].</para>
/// <para><b>Paths</b> (<see cref="Simd.Path"/>): Vector512 and Vector256 count mismatches with nibble-lookup
/// byte counts (<see cref="BitCount"/>), Scalar with hardware <c>popcnt</c>. All three are exact, so all agree
/// bit for bit with the scalar <c>Reference</c>. Work is split over rows of A with <see cref="KernelThreads"/>.</para>
/// </remarks>
public static unsafe partial class BinaryGemm
{
    /// <summary>Computes <c>C[i,j] = K − 2·popcount(A[i] XOR B[j])</c>, the dot product of the ±1 rows.</summary>
    /// <param name="a">Packed A, [<paramref name="m"/> × WordsPerRow(<paramref name="k"/>)] words.</param>
    /// <param name="b">Packed B, [<paramref name="n"/> × WordsPerRow(<paramref name="k"/>)] words.</param>
    /// <param name="c">Output, row-major [<paramref name="m"/> × <paramref name="n"/>].</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Rows of B, columns of C.</param>
    /// <param name="k">Reduction length in bits (±1 values per row).</param>
    /// <exception cref="ArgumentException">A span is too short for the shape.</exception>
    public static void Multiply(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<int> c, int m, int n, int k)
    {
        int stride = Validate(a, b, c.Length, m, n, k);
        fixed (ulong* pa = a, pb = b)
        fixed (int* pc = c)
            Run(pa, pb, m, n, stride, new DotEpilogue(pc, n, k));
    }

    /// <summary>Fused epilogue: <c>y[i,j] = scale[j]·(K − 2·popcount(A[i] XOR B[j])) + bias[j]</c>, a binary dense
    /// layer with its folded batch norm (per-output-column scale and bias), written straight to float.</summary>
    /// <remarks>Computed as <c>scale[j] * (float)dot + bias[j]</c> (a multiply then an add, never fused), so it equals
    /// the same float expression evaluated on the exact integer dot.</remarks>
    /// <exception cref="ArgumentException">A span is too short for the shape.</exception>
    public static void Multiply(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<float> y, int m, int n, int k,
                                ReadOnlySpan<float> scale, ReadOnlySpan<float> bias)
    {
        int stride = Validate(a, b, y.Length, m, n, k);
        BitPack.CheckLength(scale.Length, n, nameof(scale));
        BitPack.CheckLength(bias.Length, n, nameof(bias));
        fixed (ulong* pa = a, pb = b)
        fixed (float* py = y, ps = scale, pbias = bias)
            Run(pa, pb, m, n, stride, new ScaledDotEpilogue(py, n, k, ps, pbias));
    }

    /// <summary>The specification: one popcount per word, no blocking, no threads.</summary>
    internal static void Reference(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<int> c, int m, int n, int k)
    {
        int stride = BitPack.WordsPerRow(k);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                int mismatches = 0;
                for (int w = 0; w < stride; w++) mismatches += BitOperations.PopCount(a[i * stride + w] ^ b[j * stride + w]);
                c[i * n + j] = k - 2 * mismatches;
            }
    }

    /// <summary>The specification of the fused epilogue: <see cref="Reference(ReadOnlySpan{ulong}, ReadOnlySpan{ulong}, Span{int}, int, int, int)"/> then scale and bias.</summary>
    internal static void Reference(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<float> y, int m, int n, int k,
                                   ReadOnlySpan<float> scale, ReadOnlySpan<float> bias)
    {
        int[] dots = new int[m * n];
        Reference(a, b, dots, m, n, k);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) y[i * n + j] = scale[j] * dots[i * n + j] + bias[j];
    }

    private static int Validate(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, int outputLength, int m, int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        int stride = BitPack.WordsPerRow(k);
        BitPack.CheckLength(a.Length, (long)m * stride, nameof(a));
        BitPack.CheckLength(b.Length, (long)n * stride, nameof(b));
        BitPack.CheckLength(outputLength, (long)m * n, "c");
        return stride;
    }

    /// <summary>Splits rows of A over <see cref="KernelThreads"/>; each thread runs the blocked kernel on its rows.</summary>
    private static void Run<TEpilogue>(ulong* a, ulong* b, int m, int n, int stride, TEpilogue epilogue)
        where TEpilogue : struct, IMismatchEpilogue
    {
        if (m == 0 || n == 0) return;
        SimdPath path = Simd.Path;
        nint pa = (nint)a, pb = (nint)b;
        KernelThreads.For(m, RowsPerKernel, (start, end) =>
            CountMismatches((ulong*)pa, (ulong*)pb, start, end, n, stride, path, epilogue));
    }

    /// <summary>Receives each output's mismatch count <c>popcount(A[row] XOR B[col])</c> once, from the kernel
    /// that computed it, while it is still in a register: this is where int and float outputs differ.</summary>
    internal interface IMismatchEpilogue
    {
        void Store(int row, int col, int mismatches);
    }

    /// <summary>Stores <c>K − 2·mismatches</c> to an int [rows × ld] matrix.</summary>
    internal readonly struct DotEpilogue(int* c, int ld, int k) : IMismatchEpilogue
    {
        public void Store(int row, int col, int mismatches) => c[(nint)row * ld + col] = k - 2 * mismatches;
    }

    /// <summary>Stores <c>scale[col]·(K − 2·mismatches) + bias[col]</c> to a float [rows × ld] matrix.</summary>
    internal readonly struct ScaledDotEpilogue(float* y, int ld, int k, float* scale, float* bias) : IMismatchEpilogue
    {
        public void Store(int row, int col, int mismatches) =>
            y[(nint)row * ld + col] = scale[col] * (float)(k - 2 * mismatches) + bias[col];
    }

    /// <summary>Stores the raw mismatch count to an int [rows × ld] matrix (the convolution corrects it itself).</summary>
    internal readonly struct MismatchEpilogue(int* counts, int ld) : IMismatchEpilogue
    {
        public void Store(int row, int col, int mismatches) => counts[(nint)row * ld + col] = mismatches;
    }
}
