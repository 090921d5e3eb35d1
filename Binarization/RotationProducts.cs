using System.Numerics;
using System.Runtime.InteropServices;
using BinaryGrad.Kernels;

namespace BinaryGrad.Binarization;

/// <summary>RBNN's per-filter rotation products batched over all O filters as a handful of DGEMM calls.</summary>
/// <remarks>
/// <para>The standardised weights are stored filter-major, so X = [X_1; …; X_O] is one (O·a)×b row-major matrix
/// ("stacked"); the same numbers regrouped as the a×(O·b) matrix [X_1 … X_O] are the "side-by-side" layout
/// (a copy of contiguous rows of length b). With these two layouts every per-filter product is one GEMM:
/// X_o·R2 for all o = X·R2 (stacked); R1ᵀ·Y_o and R1·B_o for all o = R1ᵀ·[Y_1 … Y_O], R1·[B_1 … B_O] (side by side);
/// Σ_o B_o·Y_oᵀ = [B_1 … B_O]·[Y_1 … Y_O]ᵀ (side by side, an a×a result); Σ_o X_oᵀ·C_o = Xᵀ·C (stacked, b×b).</para>
/// <para>The math is the scalar loop's (<see cref="RotatedSign"/>). The products run in <typeparamref name="T"/>:
/// float64 gives the reference's results up to the summation order (the GEMM blocks and fuses multiply-adds; ~1e-13
/// relative); float32 (used when the scheme's parameters are float32) rounds the weights, rotations and products to
/// single precision (~1e-6 relative, and a sign B_o = sign(R1ᵀX_oR2) may differ for an entry within that of 0), while
/// the tiny a×a / b×b SVDs and the rotations R1, R2 themselves stay float64.</para>
/// </remarks>
internal sealed class RotationProducts<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private T[] _x = [], _y = [], _side = [], _signs = [], _c = [];

    private static T[] Ensure(ref T[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new T[length];
        return buffer;
    }

    private static Span<double> Flat(double[,] m) => MemoryMarshal.CreateSpan(ref m[0, 0], m.Length);

    private static T[] Narrow(double[,] m)
    {
        var r = new T[m.Length];
        Span<double> f = Flat(m);
        for (int i = 0; i < r.Length; i++) r[i] = T.CreateTruncating(f[i]);
        return r;
    }

    private static double[,] Widen(T[] v, int n)
    {
        var r = new double[n, n];
        Span<double> f = Flat(r);
        for (int i = 0; i < f.Length; i++) f[i] = double.CreateTruncating(v[i]);
        return r;
    }

    private Span<T> Load(ReadOnlySpan<double> x)
    {
        Span<T> t = Ensure(ref _x, x.Length).AsSpan(0, x.Length);
        if (typeof(T) == typeof(double)) x.CopyTo(MemoryMarshal.Cast<T, double>(t));
        else for (int i = 0; i < x.Length; i++) t[i] = T.CreateTruncating(x[i]);
        return t;
    }

    /// <summary>C = α·op(A)·op(B) + β·C on the float or double <see cref="Gemm"/> overload.</summary>
    private static void Multiply(bool transA, bool transB, int m, int n, int k, ReadOnlySpan<T> a, int lda,
        ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc)
    {
        if (typeof(T) == typeof(float))
            Gemm.Multiply(transA, transB, m, n, k, 1f, MemoryMarshal.Cast<T, float>(a), lda, MemoryMarshal.Cast<T, float>(b), ldb,
                0f, MemoryMarshal.Cast<T, float>(c), ldc);
        else
            Gemm.Multiply(transA, transB, m, n, k, 1.0, MemoryMarshal.Cast<T, double>(a), lda, MemoryMarshal.Cast<T, double>(b), ldb,
                0.0, MemoryMarshal.Cast<T, double>(c), ldc);
    }

    /// <summary>Stacked (O·a)×b → side by side a×(O·b): side[i, o·b + j] = stacked[o·a + i, j].</summary>
    internal static void ToSideBySide(ReadOnlySpan<T> stacked, Span<T> side, int filters, int a, int b)
    {
        int width = filters * b;
        for (int o = 0; o < filters; o++)
            for (int i = 0; i < a; i++)
                stacked.Slice((o * a + i) * b, b).CopyTo(side.Slice(i * width + o * b, b));
    }

    /// <summary>Side by side a×(O·b) → stacked (O·a)×b, the inverse of <see cref="ToSideBySide"/>.</summary>
    internal static void ToStacked(ReadOnlySpan<T> side, Span<T> stacked, int filters, int a, int b)
    {
        int width = filters * b;
        for (int o = 0; o < filters; o++)
            for (int i = 0; i < a; i++)
                side.Slice(i * width + o * b, b).CopyTo(stacked.Slice((o * a + i) * b, b));
    }

    /// <summary>R1ᵀ·X_o·R2 for every filter into <paramref name="rotated"/> (stacked layout): Y = X·R2, then
    /// R1ᵀ·[Y_1 … Y_O].</summary>
    public void Rotate(ReadOnlySpan<double> x, int filters, double[,] r1, double[,] r2, Span<double> rotated)
    {
        int a = r1.GetLength(0), b = r2.GetLength(0), length = filters * a * b;
        Span<T> xt = Load(x), side = Ensure(ref _c, length).AsSpan(0, length), stacked = Ensure(ref _signs, length).AsSpan(0, length);
        RotateSideBySide(xt, filters, Narrow(r1), Narrow(r2), a, b, side);
        ToStacked(side, stacked, filters, a, b);
        if (typeof(T) == typeof(double)) MemoryMarshal.Cast<T, double>(stacked).CopyTo(rotated);
        else for (int i = 0; i < length; i++) rotated[i] = double.CreateTruncating(stacked[i]);
    }

    /// <summary>R1ᵀ·[X_1R2 … X_OR2] side by side into <paramref name="into"/>; returns the side-by-side X·R2 (scratch).</summary>
    private Span<T> RotateSideBySide(ReadOnlySpan<T> x, int filters, T[] r1, T[] r2, int a, int b, Span<T> into)
    {
        int length = filters * a * b, width = filters * b;
        Span<T> y = Ensure(ref _y, length).AsSpan(0, length), side = Ensure(ref _side, length).AsSpan(0, length);
        Multiply(false, false, filters * a, b, b, x, b, r2, b, y, b);            // X_o R2
        ToSideBySide(y, side, filters, a, b);
        Multiply(true, false, a, width, a, r1, a, side, width, into, width);     // R1ᵀ X_o R2
        return side;
    }

    /// <summary>The 3 alternating iterations of <see cref="RotatedSign"/>: B_o = sign(R1ᵀX_oR2);
    /// R1 ← V1U1ᵀ, svd(Σ_o B_o R2ᵀX_oᵀ) = U1S1V1ᵀ; R2 ← U2V2ᵀ, svd(Σ_o X_oᵀR1B_o) = U2S2V2ᵀ.</summary>
    public void Update(ReadOnlySpan<double> x, int filters, ref double[,] r1, ref double[,] r2)
    {
        int a = r1.GetLength(0), b = r2.GetLength(0), length = filters * a * b, width = filters * b;
        Span<T> xt = Load(x);
        Span<T> signs = Ensure(ref _signs, length).AsSpan(0, length), c = Ensure(ref _c, length).AsSpan(0, length);
        T[] d1 = new T[a * a], d2 = new T[b * b];
        for (int iteration = 0; iteration < 3; iteration++)
        {
            Span<T> ySide = RotateSideBySide(xt, filters, Narrow(r1), Narrow(r2), a, b, signs);
            for (int i = 0; i < signs.Length; i++) signs[i] = T.CreateTruncating(T.Sign(signs[i]));  // torch.sign: 0 at 0
            Multiply(false, true, a, a, width, signs, width, ySide, width, d1, a);                      // Σ B_o (X_oR2)ᵀ
            (double[,] u1, _, double[,] v1) = Orthogonal.Svd(Widen(d1, a));
            r1 = Orthogonal.Multiply(v1, u1, transposeB: true);
            Span<T> cSide = ySide;                                                                       // Y no longer needed
            Multiply(false, false, a, width, a, Narrow(r1), a, signs, width, cSide, width);              // R1 B_o
            ToStacked(cSide, c, filters, a, b);
            Multiply(true, false, b, b, filters * a, xt, b, c, b, d2, b);                                // Σ X_oᵀ R1 B_o
            (double[,] u2, _, double[,] v2) = Orthogonal.Svd(Widen(d2, b));
            r2 = Orthogonal.Multiply(u2, v2, transposeB: true);
        }
    }
}
