using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BinaryGrad.Kernels;

/// <summary>A register-blocked GEMM micro-kernel: it multiplies one packed sliver of A (<see cref="Rows"/> rows,
/// k-major) by one packed sliver of B (<see cref="Columns"/> columns, k-major) and writes the
/// <see cref="Rows"/>×<see cref="Columns"/> tile <c>C = α·(A·B) + β·C</c>.</summary>
/// <remarks>The whole tile lives in registers for the k loop, so each k step costs <see cref="Rows"/> broadcasts,
/// <see cref="Columns"/>/lanes loads and Rows·Columns/lanes FMAs: the ratio of arithmetic to memory traffic is
/// what makes a GEMM run near the FMA peak. β = 0 never reads C, so stale NaN in C cannot leak through.</remarks>
internal interface IGemmMicroKernel<T> where T : unmanaged, INumber<T>
{
    /// <summary>MR: rows of the tile, i.e. height of a packed A sliver.</summary>
    static abstract int Rows { get; }

    /// <summary>NR: columns of the tile, i.e. width of a packed B sliver.</summary>
    static abstract int Columns { get; }

    /// <summary>Computes the tile from <paramref name="depth"/> steps of packed A (Rows values per step) and
    /// packed B (Columns values per step), writing it at <paramref name="c"/> with row stride <paramref name="ldc"/>.</summary>
    static abstract void Run(int depth, ref T packedA, ref T packedB, ref T c, nint ldc, T alpha, T beta);
}

/// <summary>Vector FMA helpers that pick the float or double intrinsic at JIT time (the <c>typeof</c> tests
/// fold away for value-type T), so the micro-kernels are written once for both element types.</summary>
internal static class VectorFma
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MultiplyAdd<T>(Vector256<T> x, Vector256<T> y, Vector256<T> addend)
    {
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), addend.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector256.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), addend.As<T, double>()).As<double, T>();
        return x * y + addend;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MultiplyAdd<T>(Vector512<T> x, Vector512<T> y, Vector512<T> addend)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), addend.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector512.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), addend.As<T, double>()).As<double, T>();
        return x * y + addend;
    }
}

/// <summary>The scalar reference micro-kernel: a 4×4 tile in 16 scalar accumulators, <c>acc += a·b</c> in k order
/// exactly as <see cref="Gemm.Reference(bool,bool,int,int,int,float,ReadOnlySpan{float},int,ReadOnlySpan{float},int,float,Span{float},int)"/> does.</summary>
internal readonly struct ScalarMicroKernel<T> : IGemmMicroKernel<T> where T : unmanaged, INumber<T>
{
    public static int Rows => 4;
    public static int Columns => 4;

    public static void Run(int depth, ref T packedA, ref T packedB, ref T c, nint ldc, T alpha, T beta)
    {
        Span<T> acc = stackalloc T[16];
        acc.Clear();
        for (int p = 0; p < depth; p++)
        {
            ref T a = ref Unsafe.Add(ref packedA, p * 4);
            ref T b = ref Unsafe.Add(ref packedB, p * 4);
            for (int r = 0; r < 4; r++)
            {
                T ar = Unsafe.Add(ref a, r);
                for (int j = 0; j < 4; j++) acc[r * 4 + j] += ar * Unsafe.Add(ref b, j);
            }
        }
        for (int r = 0; r < 4; r++)
        for (int j = 0; j < 4; j++)
        {
            ref T target = ref Unsafe.Add(ref c, r * ldc + j);
            target = beta == T.Zero ? alpha * acc[r * 4 + j] : alpha * acc[r * 4 + j] + beta * target;
        }
    }
}

/// <summary>AVX2/FMA micro-kernel: 6 rows × 2 ymm vectors (6×16 float, 6×8 double). 12 accumulators + 2 B vectors
/// + 1 broadcast = 15 of the 16 ymm registers, the largest tile that does not spill (the BLIS Haswell/Zen shape).</summary>
internal readonly struct Vector256MicroKernel<T> : IGemmMicroKernel<T> where T : unmanaged, INumber<T>
{
    public static int Rows => 6;
    public static int Columns => 2 * Vector256<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(int depth, ref T packedA, ref T packedB, ref T c, nint ldc, T alpha, T beta)
    {
        nuint lanes = (nuint)Vector256<T>.Count;
        // Prefetch the C tile now, so its cache misses overlap the k loop instead of stalling the stores at the end:
        // with C rows ldc apart (4–8 KiB at n = 1024–2048, a new page per row) the tile is rarely still cached, and
        // each later KC block reads C back (β = 1). A row's 2 vectors can straddle two lines: touch first and last byte.
        if (Sse.IsSupported)
        {
            byte* row = (byte*)Unsafe.AsPointer(ref c); // the caller pins C (or it is the stack edge tile)
            nint stride = ldc * Unsafe.SizeOf<T>(), last = 2 * Vector256<byte>.Count - 1;
            for (int r = 0; r < 6; r++, row += stride)
            {
                Sse.Prefetch0(row);
                Sse.Prefetch0(row + last);
            }
        }
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        ref T a = ref packedA;
        ref T b = ref packedB;
        int p = 0;
        // k unrolled ×4 with constant offsets from a and b: per step the loop bookkeeping (2 pointer bumps, counter,
        // compare-branch) drops from 4 to 1 µop beside the 12 FMAs + 8 loads; measured ≈ +5 % FLOP per CPU-second.
        // Each accumulator still sums in k order, so results are bit-identical to the rolled loop.
        {
            Vector256<T> b0, b1, ai;
            for (; p + 4 <= depth; p += 4)
            {
                b0 = Vector256.LoadUnsafe(ref b);
                b1 = Vector256.LoadUnsafe(ref b, 1 * lanes);
                ai = Vector256.Create(Unsafe.Add(ref a, 0));
                c00 = VectorFma.MultiplyAdd(ai, b0, c00); c01 = VectorFma.MultiplyAdd(ai, b1, c01);
                ai = Vector256.Create(Unsafe.Add(ref a, 1));
                c10 = VectorFma.MultiplyAdd(ai, b0, c10); c11 = VectorFma.MultiplyAdd(ai, b1, c11);
                ai = Vector256.Create(Unsafe.Add(ref a, 2));
                c20 = VectorFma.MultiplyAdd(ai, b0, c20); c21 = VectorFma.MultiplyAdd(ai, b1, c21);
                ai = Vector256.Create(Unsafe.Add(ref a, 3));
                c30 = VectorFma.MultiplyAdd(ai, b0, c30); c31 = VectorFma.MultiplyAdd(ai, b1, c31);
                ai = Vector256.Create(Unsafe.Add(ref a, 4));
                c40 = VectorFma.MultiplyAdd(ai, b0, c40); c41 = VectorFma.MultiplyAdd(ai, b1, c41);
                ai = Vector256.Create(Unsafe.Add(ref a, 5));
                c50 = VectorFma.MultiplyAdd(ai, b0, c50); c51 = VectorFma.MultiplyAdd(ai, b1, c51);
                b0 = Vector256.LoadUnsafe(ref b, 2 * lanes);
                b1 = Vector256.LoadUnsafe(ref b, 3 * lanes);
                ai = Vector256.Create(Unsafe.Add(ref a, 6));
                c00 = VectorFma.MultiplyAdd(ai, b0, c00); c01 = VectorFma.MultiplyAdd(ai, b1, c01);
                ai = Vector256.Create(Unsafe.Add(ref a, 7));
                c10 = VectorFma.MultiplyAdd(ai, b0, c10); c11 = VectorFma.MultiplyAdd(ai, b1, c11);
                ai = Vector256.Create(Unsafe.Add(ref a, 8));
                c20 = VectorFma.MultiplyAdd(ai, b0, c20); c21 = VectorFma.MultiplyAdd(ai, b1, c21);
                ai = Vector256.Create(Unsafe.Add(ref a, 9));
                c30 = VectorFma.MultiplyAdd(ai, b0, c30); c31 = VectorFma.MultiplyAdd(ai, b1, c31);
                ai = Vector256.Create(Unsafe.Add(ref a, 10));
                c40 = VectorFma.MultiplyAdd(ai, b0, c40); c41 = VectorFma.MultiplyAdd(ai, b1, c41);
                ai = Vector256.Create(Unsafe.Add(ref a, 11));
                c50 = VectorFma.MultiplyAdd(ai, b0, c50); c51 = VectorFma.MultiplyAdd(ai, b1, c51);
                b0 = Vector256.LoadUnsafe(ref b, 4 * lanes);
                b1 = Vector256.LoadUnsafe(ref b, 5 * lanes);
                ai = Vector256.Create(Unsafe.Add(ref a, 12));
                c00 = VectorFma.MultiplyAdd(ai, b0, c00); c01 = VectorFma.MultiplyAdd(ai, b1, c01);
                ai = Vector256.Create(Unsafe.Add(ref a, 13));
                c10 = VectorFma.MultiplyAdd(ai, b0, c10); c11 = VectorFma.MultiplyAdd(ai, b1, c11);
                ai = Vector256.Create(Unsafe.Add(ref a, 14));
                c20 = VectorFma.MultiplyAdd(ai, b0, c20); c21 = VectorFma.MultiplyAdd(ai, b1, c21);
                ai = Vector256.Create(Unsafe.Add(ref a, 15));
                c30 = VectorFma.MultiplyAdd(ai, b0, c30); c31 = VectorFma.MultiplyAdd(ai, b1, c31);
                ai = Vector256.Create(Unsafe.Add(ref a, 16));
                c40 = VectorFma.MultiplyAdd(ai, b0, c40); c41 = VectorFma.MultiplyAdd(ai, b1, c41);
                ai = Vector256.Create(Unsafe.Add(ref a, 17));
                c50 = VectorFma.MultiplyAdd(ai, b0, c50); c51 = VectorFma.MultiplyAdd(ai, b1, c51);
                b0 = Vector256.LoadUnsafe(ref b, 6 * lanes);
                b1 = Vector256.LoadUnsafe(ref b, 7 * lanes);
                ai = Vector256.Create(Unsafe.Add(ref a, 18));
                c00 = VectorFma.MultiplyAdd(ai, b0, c00); c01 = VectorFma.MultiplyAdd(ai, b1, c01);
                ai = Vector256.Create(Unsafe.Add(ref a, 19));
                c10 = VectorFma.MultiplyAdd(ai, b0, c10); c11 = VectorFma.MultiplyAdd(ai, b1, c11);
                ai = Vector256.Create(Unsafe.Add(ref a, 20));
                c20 = VectorFma.MultiplyAdd(ai, b0, c20); c21 = VectorFma.MultiplyAdd(ai, b1, c21);
                ai = Vector256.Create(Unsafe.Add(ref a, 21));
                c30 = VectorFma.MultiplyAdd(ai, b0, c30); c31 = VectorFma.MultiplyAdd(ai, b1, c31);
                ai = Vector256.Create(Unsafe.Add(ref a, 22));
                c40 = VectorFma.MultiplyAdd(ai, b0, c40); c41 = VectorFma.MultiplyAdd(ai, b1, c41);
                ai = Vector256.Create(Unsafe.Add(ref a, 23));
                c50 = VectorFma.MultiplyAdd(ai, b0, c50); c51 = VectorFma.MultiplyAdd(ai, b1, c51);
                a = ref Unsafe.Add(ref a, 24);
                b = ref Unsafe.Add(ref b, 8 * lanes);
            }
        }
        for (; p < depth; p++)
        {
            Vector256<T> b0 = Vector256.LoadUnsafe(ref b);
            Vector256<T> b1 = Vector256.LoadUnsafe(ref b, lanes);
            Vector256<T> ai = Vector256.Create(a);
            c00 = VectorFma.MultiplyAdd(ai, b0, c00); c01 = VectorFma.MultiplyAdd(ai, b1, c01);
            ai = Vector256.Create(Unsafe.Add(ref a, 1));
            c10 = VectorFma.MultiplyAdd(ai, b0, c10); c11 = VectorFma.MultiplyAdd(ai, b1, c11);
            ai = Vector256.Create(Unsafe.Add(ref a, 2));
            c20 = VectorFma.MultiplyAdd(ai, b0, c20); c21 = VectorFma.MultiplyAdd(ai, b1, c21);
            ai = Vector256.Create(Unsafe.Add(ref a, 3));
            c30 = VectorFma.MultiplyAdd(ai, b0, c30); c31 = VectorFma.MultiplyAdd(ai, b1, c31);
            ai = Vector256.Create(Unsafe.Add(ref a, 4));
            c40 = VectorFma.MultiplyAdd(ai, b0, c40); c41 = VectorFma.MultiplyAdd(ai, b1, c41);
            ai = Vector256.Create(Unsafe.Add(ref a, 5));
            c50 = VectorFma.MultiplyAdd(ai, b0, c50); c51 = VectorFma.MultiplyAdd(ai, b1, c51);
            a = ref Unsafe.Add(ref a, 6);
            b = ref Unsafe.Add(ref b, 2 * lanes);
        }
        Vector256<T> va = Vector256.Create(alpha), vb = Vector256.Create(beta);
        bool readC = beta != T.Zero;
        StoreRow(ref c, c00, c01, va, vb, readC);
        StoreRow(ref Unsafe.Add(ref c, ldc), c10, c11, va, vb, readC);
        StoreRow(ref Unsafe.Add(ref c, 2 * ldc), c20, c21, va, vb, readC);
        StoreRow(ref Unsafe.Add(ref c, 3 * ldc), c30, c31, va, vb, readC);
        StoreRow(ref Unsafe.Add(ref c, 4 * ldc), c40, c41, va, vb, readC);
        StoreRow(ref Unsafe.Add(ref c, 5 * ldc), c50, c51, va, vb, readC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(ref T row, Vector256<T> sum0, Vector256<T> sum1, Vector256<T> alpha, Vector256<T> beta, bool readC)
    {
        nuint lanes = (nuint)Vector256<T>.Count;
        if (readC)
        {
            (alpha * sum0 + beta * Vector256.LoadUnsafe(ref row)).StoreUnsafe(ref row);
            (alpha * sum1 + beta * Vector256.LoadUnsafe(ref row, lanes)).StoreUnsafe(ref row, lanes);
        }
        else
        {
            (alpha * sum0).StoreUnsafe(ref row);
            (alpha * sum1).StoreUnsafe(ref row, lanes);
        }
    }
}

/// <summary>AVX-512 micro-kernel: 6 rows × 2 zmm vectors (6×32 float, 6×16 double), the same shape as the ymm
/// kernel so the two share blocking; it runs in software emulation (exact, slow) where AVX-512 is absent.</summary>
internal readonly struct Vector512MicroKernel<T> : IGemmMicroKernel<T> where T : unmanaged, INumber<T>
{
    public static int Rows => 6;
    public static int Columns => 2 * Vector512<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int depth, ref T packedA, ref T packedB, ref T c, nint ldc, T alpha, T beta)
    {
        nuint lanes = (nuint)Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        ref T a = ref packedA;
        ref T b = ref packedB;
        for (int p = 0; p < depth; p++)
        {
            Vector512<T> b0 = Vector512.LoadUnsafe(ref b);
            Vector512<T> b1 = Vector512.LoadUnsafe(ref b, lanes);
            Vector512<T> ai = Vector512.Create(a);
            c00 = VectorFma.MultiplyAdd(ai, b0, c00); c01 = VectorFma.MultiplyAdd(ai, b1, c01);
            ai = Vector512.Create(Unsafe.Add(ref a, 1));
            c10 = VectorFma.MultiplyAdd(ai, b0, c10); c11 = VectorFma.MultiplyAdd(ai, b1, c11);
            ai = Vector512.Create(Unsafe.Add(ref a, 2));
            c20 = VectorFma.MultiplyAdd(ai, b0, c20); c21 = VectorFma.MultiplyAdd(ai, b1, c21);
            ai = Vector512.Create(Unsafe.Add(ref a, 3));
            c30 = VectorFma.MultiplyAdd(ai, b0, c30); c31 = VectorFma.MultiplyAdd(ai, b1, c31);
            ai = Vector512.Create(Unsafe.Add(ref a, 4));
            c40 = VectorFma.MultiplyAdd(ai, b0, c40); c41 = VectorFma.MultiplyAdd(ai, b1, c41);
            ai = Vector512.Create(Unsafe.Add(ref a, 5));
            c50 = VectorFma.MultiplyAdd(ai, b0, c50); c51 = VectorFma.MultiplyAdd(ai, b1, c51);
            a = ref Unsafe.Add(ref a, 6);
            b = ref Unsafe.Add(ref b, 2 * lanes);
        }
        Vector512<T> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        bool readC = beta != T.Zero;
        StoreRow(ref c, c00, c01, va, vb, readC);
        StoreRow(ref Unsafe.Add(ref c, ldc), c10, c11, va, vb, readC);
        StoreRow(ref Unsafe.Add(ref c, 2 * ldc), c20, c21, va, vb, readC);
        StoreRow(ref Unsafe.Add(ref c, 3 * ldc), c30, c31, va, vb, readC);
        StoreRow(ref Unsafe.Add(ref c, 4 * ldc), c40, c41, va, vb, readC);
        StoreRow(ref Unsafe.Add(ref c, 5 * ldc), c50, c51, va, vb, readC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(ref T row, Vector512<T> sum0, Vector512<T> sum1, Vector512<T> alpha, Vector512<T> beta, bool readC)
    {
        nuint lanes = (nuint)Vector512<T>.Count;
        if (readC)
        {
            (alpha * sum0 + beta * Vector512.LoadUnsafe(ref row)).StoreUnsafe(ref row);
            (alpha * sum1 + beta * Vector512.LoadUnsafe(ref row, lanes)).StoreUnsafe(ref row, lanes);
        }
        else
        {
            (alpha * sum0).StoreUnsafe(ref row);
            (alpha * sum1).StoreUnsafe(ref row, lanes);
        }
    }
}
