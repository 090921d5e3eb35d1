using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels;

/// <summary>The "dot-product" GEMM for <c>C = α·A·Bᵀ + β·C</c> when A (m×k) and B (n×k) are both stored with k
/// contiguous and k is long compared with m and n — the weight gradient of a convolution,
/// <c>dW (C_out × C_in·k²) += dY (C_out × pixels) · colsᵀ</c>, with few channels and many pixels.</summary>
/// <remarks>
/// <para>The packed driver (<see cref="GemmBlocked{T}"/>) would transpose both operands into k-major slivers for every
/// 256-deep block; with m = 16 output channels the packing costs more than the 2·m FLOP it enables per packed B
/// element (best of 15 runs on one Zen 5 core, 16 × 144 × 1024: packed 111 µs, this kernel 35–65 µs; 32 × 288 × 256:
/// 83 against 62 µs; but 64 × 576 × 1024: 714 against 855 µs, hence <see cref="MaxOutputs"/>). Here the operands are read in place: a block of
/// 4 rows of A × 4 rows of B keeps 16 vector accumulators, each step loads 4 + 4 vectors along k and issues 16 fused
/// multiply-adds; after the row pair's k loop each accumulator is summed across lanes and the k tail (k mod lanes)
/// is added in k order.</para>
/// <para>Summation order of element (i, j): lane l accumulates <c>a[i,p]·b[j,p]</c> for p ≡ l (mod lanes) in
/// increasing p with fused multiply-adds, the lanes are added by <c>Vector.Sum</c>, then the tail products in
/// order; α and β as in <see cref="Gemm"/> (<c>α·sum + β·c</c>, β = 0 does not read C). The result equals
/// <see cref="Gemm.Reference(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/>
/// within the usual GEMM bound, and exactly when every partial sum is exactly representable. The scalar path is
/// that reference order.</para>
/// </remarks>
internal static class GemmDot
{
    /// <summary>k below which the packed driver wins (the cross-lane sums would dominate).</summary>
    public const int MinDepth = 256;

    /// <summary>m·n above which the packed driver wins (each operand row is re-read from cache n/4 or m/4 times).</summary>
    public const long MaxOutputs = 16L * 1024;

    /// <summary>True when the dot-product kernel serves <c>op(A)·op(B)</c> better than the packed driver.</summary>
    public static bool Applies(bool transA, bool transB, int m, int n, int k) =>
        !transA && transB && k >= MinDepth && (long)m * n <= MaxOutputs;

    /// <summary><c>C[m×n] = α·A·Bᵀ + β·C</c>; A is m×k with row stride lda, B is n×k with row stride ldb (validated).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<T>(SimdPath path, int m, int n, int k, T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
                                   T beta, Span<T> c, int ldc) where T : unmanaged, INumber<T>
    {
        ref T ra = ref MemoryMarshal.GetReference(a);
        ref T rb = ref MemoryMarshal.GetReference(b);
        ref T rc = ref MemoryMarshal.GetReference(c);
        int rows = path == SimdPath.Scalar ? 0 : m / 4 * 4, columns = path == SimdPath.Scalar ? 0 : n / 4 * 4;
        for (int i = 0; i < rows; i += 4)
            for (int j = 0; j < columns; j += 4)
            {
                if (path == SimdPath.Vector512) Block512(ref Unsafe.Add(ref ra, (nint)i * lda), lda, ref Unsafe.Add(ref rb, (nint)j * ldb), ldb, k, alpha, beta, ref Unsafe.Add(ref rc, (nint)i * ldc + j), ldc);
                else Block256(ref Unsafe.Add(ref ra, (nint)i * lda), lda, ref Unsafe.Add(ref rb, (nint)j * ldb), ldb, k, alpha, beta, ref Unsafe.Add(ref rc, (nint)i * ldc + j), ldc);
            }
        // the rows and columns outside whole 4×4 blocks (all of C on the scalar path): one dot product each
        for (int i = 0; i < m; i++)
            for (int j = i < rows ? columns : 0; j < n; j++)
            {
                T sum = path == SimdPath.Scalar ? ScalarDot(ref Unsafe.Add(ref ra, (nint)i * lda), ref Unsafe.Add(ref rb, (nint)j * ldb), k)
                    : VectorDot(path, ref Unsafe.Add(ref ra, (nint)i * lda), ref Unsafe.Add(ref rb, (nint)j * ldb), k);
                Store(ref Unsafe.Add(ref rc, (nint)i * ldc + j), sum, alpha, beta);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(ref T target, T sum, T alpha, T beta) where T : unmanaged, INumber<T> =>
        target = beta == T.Zero ? alpha * sum : alpha * sum + beta * target;

    private static T ScalarDot<T>(ref T a, ref T b, int k) where T : unmanaged, INumber<T>
    {
        T sum = T.Zero;
        for (int p = 0; p < k; p++) sum += Unsafe.Add(ref a, p) * Unsafe.Add(ref b, p);
        return sum;
    }

    private static T VectorDot<T>(SimdPath path, ref T a, ref T b, int k) where T : unmanaged, INumber<T>
    {
        T sum;
        int p = 0;
        if (path == SimdPath.Vector512)
        {
            Vector512<T> acc = Vector512<T>.Zero;
            for (; p <= k - Vector512<T>.Count; p += Vector512<T>.Count)
                acc = VectorFma.MultiplyAdd(Vector512.LoadUnsafe(ref a, (nuint)p), Vector512.LoadUnsafe(ref b, (nuint)p), acc);
            sum = Vector512.Sum(acc);
        }
        else
        {
            Vector256<T> acc = Vector256<T>.Zero;
            for (; p <= k - Vector256<T>.Count; p += Vector256<T>.Count)
                acc = VectorFma.MultiplyAdd(Vector256.LoadUnsafe(ref a, (nuint)p), Vector256.LoadUnsafe(ref b, (nuint)p), acc);
            sum = Vector256.Sum(acc);
        }
        for (; p < k; p++) sum += Unsafe.Add(ref a, p) * Unsafe.Add(ref b, p);
        return sum;
    }

    /// <summary>The 4×4 block on Vector512: 16 accumulators, 8 loads and 16 FMAs per step along k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block512<T>(ref T a, int lda, ref T b, int ldb, int k, T alpha, T beta, ref T c, int ldc) where T : unmanaged, INumber<T>
    {
        ref T a0 = ref a, a1 = ref Unsafe.Add(ref a, lda), a2 = ref Unsafe.Add(ref a, 2 * lda), a3 = ref Unsafe.Add(ref a, 3 * lda);
        ref T b0 = ref b, b1 = ref Unsafe.Add(ref b, ldb), b2 = ref Unsafe.Add(ref b, 2 * ldb), b3 = ref Unsafe.Add(ref b, 3 * ldb);
        Vector512<T> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<T> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        int p = 0;
        for (; p <= k - Vector512<T>.Count; p += Vector512<T>.Count)
        {
            nuint q = (nuint)p;
            Vector512<T> x0 = Vector512.LoadUnsafe(ref b0, q), x1 = Vector512.LoadUnsafe(ref b1, q), x2 = Vector512.LoadUnsafe(ref b2, q), x3 = Vector512.LoadUnsafe(ref b3, q);
            Vector512<T> y = Vector512.LoadUnsafe(ref a0, q);
            c00 = VectorFma.MultiplyAdd(y, x0, c00); c01 = VectorFma.MultiplyAdd(y, x1, c01); c02 = VectorFma.MultiplyAdd(y, x2, c02); c03 = VectorFma.MultiplyAdd(y, x3, c03);
            y = Vector512.LoadUnsafe(ref a1, q);
            c10 = VectorFma.MultiplyAdd(y, x0, c10); c11 = VectorFma.MultiplyAdd(y, x1, c11); c12 = VectorFma.MultiplyAdd(y, x2, c12); c13 = VectorFma.MultiplyAdd(y, x3, c13);
            y = Vector512.LoadUnsafe(ref a2, q);
            c20 = VectorFma.MultiplyAdd(y, x0, c20); c21 = VectorFma.MultiplyAdd(y, x1, c21); c22 = VectorFma.MultiplyAdd(y, x2, c22); c23 = VectorFma.MultiplyAdd(y, x3, c23);
            y = Vector512.LoadUnsafe(ref a3, q);
            c30 = VectorFma.MultiplyAdd(y, x0, c30); c31 = VectorFma.MultiplyAdd(y, x1, c31); c32 = VectorFma.MultiplyAdd(y, x2, c32); c33 = VectorFma.MultiplyAdd(y, x3, c33);
        }
        Finish(ref a, lda, ref b, ldb, p, k, alpha, beta, ref c, ldc,
            [Vector512.Sum(c00), Vector512.Sum(c01), Vector512.Sum(c02), Vector512.Sum(c03), Vector512.Sum(c10), Vector512.Sum(c11), Vector512.Sum(c12), Vector512.Sum(c13),
             Vector512.Sum(c20), Vector512.Sum(c21), Vector512.Sum(c22), Vector512.Sum(c23), Vector512.Sum(c30), Vector512.Sum(c31), Vector512.Sum(c32), Vector512.Sum(c33)]);
    }

    /// <summary>The 4×4 block on Vector256 (same order of operations with 256-bit lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block256<T>(ref T a, int lda, ref T b, int ldb, int k, T alpha, T beta, ref T c, int ldc) where T : unmanaged, INumber<T>
    {
        ref T a0 = ref a, a1 = ref Unsafe.Add(ref a, lda), a2 = ref Unsafe.Add(ref a, 2 * lda), a3 = ref Unsafe.Add(ref a, 3 * lda);
        ref T b0 = ref b, b1 = ref Unsafe.Add(ref b, ldb), b2 = ref Unsafe.Add(ref b, 2 * ldb), b3 = ref Unsafe.Add(ref b, 3 * ldb);
        Vector256<T> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        Vector256<T> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        int p = 0;
        for (; p <= k - Vector256<T>.Count; p += Vector256<T>.Count)
        {
            nuint q = (nuint)p;
            Vector256<T> x0 = Vector256.LoadUnsafe(ref b0, q), x1 = Vector256.LoadUnsafe(ref b1, q), x2 = Vector256.LoadUnsafe(ref b2, q), x3 = Vector256.LoadUnsafe(ref b3, q);
            Vector256<T> y = Vector256.LoadUnsafe(ref a0, q);
            c00 = VectorFma.MultiplyAdd(y, x0, c00); c01 = VectorFma.MultiplyAdd(y, x1, c01); c02 = VectorFma.MultiplyAdd(y, x2, c02); c03 = VectorFma.MultiplyAdd(y, x3, c03);
            y = Vector256.LoadUnsafe(ref a1, q);
            c10 = VectorFma.MultiplyAdd(y, x0, c10); c11 = VectorFma.MultiplyAdd(y, x1, c11); c12 = VectorFma.MultiplyAdd(y, x2, c12); c13 = VectorFma.MultiplyAdd(y, x3, c13);
            y = Vector256.LoadUnsafe(ref a2, q);
            c20 = VectorFma.MultiplyAdd(y, x0, c20); c21 = VectorFma.MultiplyAdd(y, x1, c21); c22 = VectorFma.MultiplyAdd(y, x2, c22); c23 = VectorFma.MultiplyAdd(y, x3, c23);
            y = Vector256.LoadUnsafe(ref a3, q);
            c30 = VectorFma.MultiplyAdd(y, x0, c30); c31 = VectorFma.MultiplyAdd(y, x1, c31); c32 = VectorFma.MultiplyAdd(y, x2, c32); c33 = VectorFma.MultiplyAdd(y, x3, c33);
        }
        Finish(ref a, lda, ref b, ldb, p, k, alpha, beta, ref c, ldc,
            [Vector256.Sum(c00), Vector256.Sum(c01), Vector256.Sum(c02), Vector256.Sum(c03), Vector256.Sum(c10), Vector256.Sum(c11), Vector256.Sum(c12), Vector256.Sum(c13),
             Vector256.Sum(c20), Vector256.Sum(c21), Vector256.Sum(c22), Vector256.Sum(c23), Vector256.Sum(c30), Vector256.Sum(c31), Vector256.Sum(c32), Vector256.Sum(c33)]);
    }

    /// <summary>Adds the k tail [p, k) of each of the 16 dot products in order and stores <c>α·sum + β·c</c>.</summary>
    private static void Finish<T>(ref T a, int lda, ref T b, int ldb, int p, int k, T alpha, T beta, ref T c, int ldc, ReadOnlySpan<T> sums)
        where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
            {
                T sum = sums[i * 4 + j];
                for (int q = p; q < k; q++) sum += Unsafe.Add(ref a, (nint)i * lda + q) * Unsafe.Add(ref b, (nint)j * ldb + q);
                Store(ref Unsafe.Add(ref c, (nint)i * ldc + j), sum, alpha, beta);
            }
    }
}
