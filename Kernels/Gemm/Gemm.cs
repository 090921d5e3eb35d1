using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels;

/// <summary>General matrix multiply (BLAS SGEMM/DGEMM) on row-major spans:
/// <c>C = α·op(A)·op(B) + β·C</c>, with op(X) = X or Xᵀ.</summary>
/// <remarks>
/// Layout (row-major, leading dimension = distance between rows): op(A) is m×k — A is stored m×k with
/// <c>A(i,p) = a[i·lda + p]</c>, or k×m when transposed (<c>op(A)(i,p) = a[p·lda + i]</c>); op(B) is k×n — B is
/// stored k×n (<c>b[p·ldb + j]</c>) or n×k when transposed (<c>b[j·ldb + p]</c>); C is m×n, <c>c[i·ldc + j]</c>.
/// β = 0 overwrites C without reading it (NaN or garbage in C is ignored), as in BLAS. When α = 0 or k = 0,
/// A and B are not read and C becomes β·C.
/// Paths (<see cref="Simd.Path"/>): small products (m·n·k ≤ 64³) run a direct register-blocked loop on the
/// unpacked operands, where packing would cost more than it saves; larger ones run the cache-blocked, packed driver with a
/// register-blocked FMA micro-kernel (6×2 vectors for Vector512/Vector256, 4×4 scalar), split across
/// <see cref="KernelThreads.Count"/> threads. Results match <see cref="Reference(bool,bool,int,int,int,float,ReadOnlySpan{float},int,ReadOnlySpan{float},int,float,Span{float},int)"/>
/// exactly when every partial sum is exactly representable (e.g. small integers), and otherwise within the
/// usual GEMM bound |error| ≤ γ·k·ε·(|α|·|A|·|B| + |β|·|C|) elementwise, γ a small constant: the vector paths
/// use fused multiply-adds and block the k sum in chunks of 256.
/// </remarks>
public static class Gemm
{
    /// <summary>Products with m·n·k at most this take the direct path (no packing, one thread).</summary>
    internal const long DirectPathMaxWork = 64L * 64 * 64;

    /// <summary>Products below this many multiply-adds run on one thread.</summary>
    private const long SingleThreadMaxWork = 4 * DirectPathMaxWork;

    /// <summary>Single-precision GEMM: <c>C[m×n] = α·op(A)[m×k]·op(B)[k×n] + β·C</c> (see the class remarks for layout).</summary>
    /// <param name="transA">Use Aᵀ: A is stored k×m.</param>
    /// <param name="transB">Use Bᵀ: B is stored n×k.</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A, row-major with leading dimension <paramref name="lda"/>.</param>
    /// <param name="lda">Row stride of A as stored: at least k (m when <paramref name="transA"/>), and at least 1.</param>
    /// <param name="b">B, row-major with leading dimension <paramref name="ldb"/>.</param>
    /// <param name="ldb">Row stride of B as stored: at least n (k when <paramref name="transB"/>), and at least 1.</param>
    /// <param name="beta">Scale of C's old contents; 0 means C is write-only.</param>
    /// <param name="c">C, row-major with leading dimension <paramref name="ldc"/>; may not overlap A or B.</param>
    /// <param name="ldc">Row stride of C: at least n, and at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">m, n or k is negative, or a leading dimension is smaller than its row length.</exception>
    /// <exception cref="ArgumentException">A span is shorter than its matrix needs ((rows−1)·ld + columns).</exception>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda,
        ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
        => Multiply(Simd.Path, KernelThreads.Count, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary><see cref="Multiply(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/>
    /// with op(B) also given packed (<see cref="PackB"/>): where the product runs on the blocked driver, its panels are
    /// read from <paramref name="packedB"/> instead of being packed again on every call (for a 128 × 784 input against a
    /// 1024 × 784 weight, a tenth of the call). Same arithmetic, same result bit for bit. A packed B made on another SIMD
    /// path or for another shape or transpose is ignored. It holds a copy of B: pass it only with the same B.</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda,
        ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, GemmPackedB? packedB)
        => Multiply(Simd.Path, KernelThreads.Count, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                    packedB is not null && packedB.Fits(Simd.Path, transB, k, n) ? packedB : null);

    /// <summary>Packs op(B) [k × n] (B stored n × k when <paramref name="transB"/>, else k × n, row stride
    /// <paramref name="ldb"/>) for repeated products on the current SIMD path (<see cref="Multiply(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int, GemmPackedB?)"/>):
    /// the layout the blocked driver packs per call, made once.</summary>
    /// <exception cref="ArgumentOutOfRangeException">k or n is not positive, or ldb is smaller than a row.</exception>
    /// <exception cref="ArgumentException">B is shorter than its matrix needs.</exception>
    public static unsafe GemmPackedB PackB(bool transB, int k, int n, ReadOnlySpan<float> b, int ldb)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        Validate(false, transB, 1, n, k, k, k, b.Length, ldb, n, n);
        SimdPath path = Simd.Path;
        int nr = path switch
        {
            SimdPath.Vector512 => Vector512MicroKernel<float>.Columns,
            SimdPath.Vector256 => Vector256MicroKernel<float>.Columns,
            _ => ScalarMicroKernel<float>.Columns,
        };
        int length = k * GemmBlocked<float>.RoundUp(n, nr);
        float[] data = GC.AllocateUninitializedArray<float>(length + 16, pinned: true);
        int offset = (int)((64 - ((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(data)) & 63)) & 63) / sizeof(float);
        GemmBlocked<float>.PackWhole(transB, k, n, nr, ref MemoryMarshal.GetReference(b), ldb, data.AsSpan(offset, length));
        return new GemmPackedB(path, transB, k, n, nr, data, offset);
    }

    /// <summary>Double-precision GEMM: <c>C[m×n] = α·op(A)[m×k]·op(B)[k×n] + β·C</c>; the same contract as the
    /// <see cref="float"/> overload.</summary>
    /// <exception cref="ArgumentOutOfRangeException">m, n or k is negative, or a leading dimension is smaller than its row length.</exception>
    /// <exception cref="ArgumentException">A span is shorter than its matrix needs ((rows−1)·ld + columns).</exception>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, double alpha, ReadOnlySpan<double> a, int lda,
        ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc)
        => Multiply(Simd.Path, KernelThreads.Count, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>The float or double GEMM (T = float or double) for code written once over the element type; the same
    /// contract as the <see cref="float"/> overload.</summary>
    public static void Multiply<T>(bool transA, bool transB, int m, int n, int k, T alpha, ReadOnlySpan<T> a, int lda,
        ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc) where T : unmanaged, INumber<T>
        => Multiply(Simd.Path, KernelThreads.Count, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>The GEMM on an explicit path and thread count: validates once, then picks the direct or the
    /// blocked driver. Kernels that already run one thread per image (convolution) pass threads = 1.</summary>
    internal static void Multiply<T>(SimdPath path, int threads, bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc, GemmPackedB? packedB = null)
        where T : unmanaged, INumber<T>
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == T.Zero)
        {
            ScaleRows(c, m, n, ldc, beta);
            return;
        }
        // A·Bᵀ with a long k goes to the dot-product kernel before the size test: the direct path has no vector form
        // for transB (a 32×9×784 weight gradient took 130 µs there, scalar)
        // (and whenever the blocked driver would run on one thread anyway: a batch-1 dense layer, 1×1024×784, took
        // 0.5 ms packing panels there against 0.05 ms here)
        if ((threads <= 1 || (long)m * n * k < SingleThreadMaxWork) && GemmDot.Applies(transA, transB, m, n, k)) GemmDot.Multiply(path, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else if ((long)m * n * k <= DirectPathMaxWork) MultiplyDirect(path, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else MultiplyBlocked(path, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, typeof(T) == typeof(float) ? packedB : null);
    }

    /// <summary>The packed, cache-blocked driver on <paramref name="path"/> (m, n, k ≥ 1, α ≠ 0, validated).</summary>
    internal static unsafe void MultiplyBlocked<T>(SimdPath path, int threads, bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc, GemmPackedB? packedB = null)
        where T : unmanaged, INumber<T>
    {
        // Worker threads receive raw addresses, so the spans stay pinned for the whole call (a packed B is pinned for life).
        fixed (T* pa = a, pb = b, pc = c)
        {
            var prepacked = packedB is null ? default : new GemmBlocked<T>.Prepacked(packedB.Address, packedB.PanelColumns);
            ref T ra = ref Unsafe.AsRef<T>(pa);
            ref T rb = ref Unsafe.AsRef<T>(pb);
            ref T rc = ref Unsafe.AsRef<T>(pc);
            // Splitting tiny products across threads costs more in fork/join than it saves.
            int useThreads = (long)m * n * k >= SingleThreadMaxWork ? threads : 1;
            switch (path)
            {
                case SimdPath.Vector512:
                    GemmBlocked<T>.MultiplyParallel<Vector512MicroKernel<T>>(transA, transB, m, n, k, alpha, ref ra, lda, ref rb, ldb, beta, ref rc, ldc, useThreads, prepacked);
                    break;
                case SimdPath.Vector256:
                    GemmBlocked<T>.MultiplyParallel<Vector256MicroKernel<T>>(transA, transB, m, n, k, alpha, ref ra, lda, ref rb, ldb, beta, ref rc, ldc, useThreads, prepacked);
                    break;
                default:
                    GemmBlocked<T>.MultiplyParallel<ScalarMicroKernel<T>>(transA, transB, m, n, k, alpha, ref ra, lda, ref rb, ldb, beta, ref rc, ldc, useThreads, prepacked);
                    break;
            }
        }
        // the workers read the packed array through a raw address: pinned, but only reachable through packedB, which a
        // caller may pass as a temporary, so it must outlive the product
        GC.KeepAlive(packedB);
    }

    /// <summary>The direct path for small products (m, n, k ≥ 1, α ≠ 0, validated): no packing, no buffers, one
    /// thread. Without transB, 4 rows × 1 vector of C are accumulated in registers straight from A (any stride) and
    /// contiguous rows of B, then stored as <c>α·acc + β·C</c> like the micro-kernels; leftover columns, transB, and the
    /// scalar path compute each element as a dot product in k order, exactly like <see cref="Reference{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: no slow tier-0 code while tiering catches up
    internal static void MultiplyDirect<T>(SimdPath path, bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, INumber<T>
    {
        // op(A)(i, p) = a[i·rowStride + p·depthStride] whichever way A is stored.
        nint rowStride = transA ? 1 : lda, depthStride = transA ? lda : 1;
        ref T ra = ref MemoryMarshal.GetReference(a);
        ref T rb = ref MemoryMarshal.GetReference(b);
        ref T rc = ref MemoryMarshal.GetReference(c);
        int vectorColumns = transB ? 0 : path switch
        {
            SimdPath.Vector512 => n / Vector512<T>.Count * Vector512<T>.Count,
            SimdPath.Vector256 => n / Vector256<T>.Count * Vector256<T>.Count,
            _ => 0,
        };
        if (vectorColumns > 0)
        {
            for (int i0 = 0; i0 < m; i0 += 4)
            {
                if (path == SimdPath.Vector512) DirectRows512(i0, m, vectorColumns, k, alpha, ref ra, rowStride, depthStride, ref rb, ldb, beta, ref rc, ldc);
                else DirectRows256(i0, m, vectorColumns, k, alpha, ref ra, rowStride, depthStride, ref rb, ldb, beta, ref rc, ldc);
            }
        }
        for (int i = 0; i < m; i++)
        for (int j = vectorColumns; j < n; j++)
        {
            T sum = T.Zero;
            for (int p = 0; p < k; p++)
                sum += Unsafe.Add(ref ra, i * rowStride + p * depthStride) * (transB ? Unsafe.Add(ref rb, (nint)j * ldb + p) : Unsafe.Add(ref rb, (nint)p * ldb + j));
            ref T target = ref Unsafe.Add(ref rc, (nint)i * ldc + j);
            target = beta == T.Zero ? alpha * sum : alpha * sum + beta * target;
        }
    }

    /// <summary>Rows i0 .. i0+3 (clamped to m: a short block recomputes its last row and stores only real rows) of
    /// C[:, 0 .. columns) with ymm accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DirectRows256<T>(int i0, int m, int columns, int k, T alpha, ref T a, nint rowStride, nint depthStride,
        ref T b, int ldb, T beta, ref T c, int ldc) where T : unmanaged, INumber<T>
    {
        nint r0 = i0, r1 = Math.Min(i0 + 1, m - 1), r2 = Math.Min(i0 + 2, m - 1), r3 = Math.Min(i0 + 3, m - 1);
        Vector256<T> va = Vector256.Create(alpha), vb = Vector256.Create(beta);
        for (int j = 0; j < columns; j += Vector256<T>.Count)
        {
            Vector256<T> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            for (int p = 0; p < k; p++)
            {
                Vector256<T> bv = Vector256.LoadUnsafe(ref b, (nuint)((nint)p * ldb + j));
                ref T ap = ref Unsafe.Add(ref a, p * depthStride);
                acc0 = VectorFma.MultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, r0 * rowStride)), bv, acc0);
                acc1 = VectorFma.MultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, r1 * rowStride)), bv, acc1);
                acc2 = VectorFma.MultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, r2 * rowStride)), bv, acc2);
                acc3 = VectorFma.MultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, r3 * rowStride)), bv, acc3);
            }
            ReadOnlySpan<Vector256<T>> sums = [acc0, acc1, acc2, acc3];
            for (int r = 0; r < 4 && i0 + r < m; r++)
            {
                ref T target = ref Unsafe.Add(ref c, (nint)(i0 + r) * ldc + j);
                Vector256<T> result = va * sums[r];
                if (beta != T.Zero) result += vb * Vector256.LoadUnsafe(ref target);
                result.StoreUnsafe(ref target);
            }
        }
    }

    /// <summary>The zmm twin of <see cref="DirectRows256{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DirectRows512<T>(int i0, int m, int columns, int k, T alpha, ref T a, nint rowStride, nint depthStride,
        ref T b, int ldb, T beta, ref T c, int ldc) where T : unmanaged, INumber<T>
    {
        nint r0 = i0, r1 = Math.Min(i0 + 1, m - 1), r2 = Math.Min(i0 + 2, m - 1), r3 = Math.Min(i0 + 3, m - 1);
        Vector512<T> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        for (int j = 0; j < columns; j += Vector512<T>.Count)
        {
            Vector512<T> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            for (int p = 0; p < k; p++)
            {
                Vector512<T> bv = Vector512.LoadUnsafe(ref b, (nuint)((nint)p * ldb + j));
                ref T ap = ref Unsafe.Add(ref a, p * depthStride);
                acc0 = VectorFma.MultiplyAdd(Vector512.Create(Unsafe.Add(ref ap, r0 * rowStride)), bv, acc0);
                acc1 = VectorFma.MultiplyAdd(Vector512.Create(Unsafe.Add(ref ap, r1 * rowStride)), bv, acc1);
                acc2 = VectorFma.MultiplyAdd(Vector512.Create(Unsafe.Add(ref ap, r2 * rowStride)), bv, acc2);
                acc3 = VectorFma.MultiplyAdd(Vector512.Create(Unsafe.Add(ref ap, r3 * rowStride)), bv, acc3);
            }
            ReadOnlySpan<Vector512<T>> sums = [acc0, acc1, acc2, acc3];
            for (int r = 0; r < 4 && i0 + r < m; r++)
            {
                ref T target = ref Unsafe.Add(ref c, (nint)(i0 + r) * ldc + j);
                Vector512<T> result = va * sums[r];
                if (beta != T.Zero) result += vb * Vector512.LoadUnsafe(ref target);
                result.StoreUnsafe(ref target);
            }
        }
    }

    /// <summary>The specification, single precision: for every i, j, <c>s = Σ_{p=0}^{k−1} op(A)(i,p)·op(B)(p,j)</c>
    /// accumulated in float in increasing p, then <c>C(i,j) = α·s + β·C(i,j)</c> (β = 0: <c>C(i,j) = α·s</c>, C unread).
    /// When α = 0 or k = 0 it sets <c>C = β·C</c> without reading A or B. Never optimize this.</summary>
    internal static void Reference(bool transA, bool transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda,
        ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
        => Reference<float>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>The specification, double precision (accumulates in double); see the float overload.</summary>
    internal static void Reference(bool transA, bool transB, int m, int n, int k, double alpha, ReadOnlySpan<double> a, int lda,
        ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc)
        => Reference<double>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    internal static void Reference<T>(bool transA, bool transB, int m, int n, int k, T alpha, ReadOnlySpan<T> a, int lda,
        ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc) where T : unmanaged, INumber<T>
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            ref T target = ref c[i * ldc + j];
            T sum = T.Zero;
            if (alpha != T.Zero)
                for (int p = 0; p < k; p++)
                    sum += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
            target = beta == T.Zero ? alpha * sum : alpha * sum + beta * target;
        }
    }

    /// <summary>C = β·C on the m×n matrix; β = 0 writes zeros without reading (clears NaN), β = 1 does nothing.</summary>
    private static void ScaleRows<T>(Span<T> c, int m, int n, int ldc, T beta) where T : unmanaged, INumber<T>
    {
        if (beta == T.One) return;
        for (int i = 0; i < m; i++)
        {
            Span<T> row = c.Slice(i * ldc, n);
            if (beta == T.Zero) row.Clear();
            else for (int j = 0; j < row.Length; j++) row[j] *= beta;
        }
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k, int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckMatrix(transA ? k : m, transA ? m : k, aLength, lda, "a", "lda", transA ? "A (stored k×m, transposed)" : "A (stored m×k)");
        CheckMatrix(transB ? n : k, transB ? k : n, bLength, ldb, "b", "ldb", transB ? "B (stored n×k, transposed)" : "B (stored k×n)");
        CheckMatrix(m, n, cLength, ldc, "c", "ldc", "C (m×n)");
    }

    private static void CheckMatrix(int rows, int columns, int length, int ld, string spanName, string ldName, string what)
    {
        if (ld < Math.Max(1, columns))
            throw new ArgumentOutOfRangeException(ldName, ld, $"{ldName} = {ld} is smaller than the row length of {what}: {rows}×{columns} needs {ldName} ≥ {Math.Max(1, columns)}.");
        long needed = rows == 0 || columns == 0 ? 0 : (long)(rows - 1) * ld + columns;
        if (length < needed)
            throw new ArgumentException($"{what} is {rows}×{columns} with {ldName} = {ld}, which needs at least {needed} elements, but the span has {length}.", spanName);
    }
}
