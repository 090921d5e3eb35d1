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
/// <para>The math is the scalar loop's (<see cref="RotatedSign"/>), in float64; only the summation order differs (the
/// GEMM blocks and fuses multiply-adds), so results agree to rounding (~1e-13 relative), not bit for bit.</para>
/// </remarks>
internal sealed class RotationProducts
{
    private double[] _y = [], _side = [], _signs = [], _c = [];

    private static double[] Ensure(ref double[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new double[length];
        return buffer;
    }

    private static Span<double> Flat(double[,] m) => MemoryMarshal.CreateSpan(ref m[0, 0], m.Length);

    /// <summary>Stacked (O·a)×b → side by side a×(O·b): side[i, o·b + j] = stacked[o·a + i, j].</summary>
    internal static void ToSideBySide(ReadOnlySpan<double> stacked, Span<double> side, int filters, int a, int b)
    {
        int width = filters * b;
        for (int o = 0; o < filters; o++)
            for (int i = 0; i < a; i++)
                stacked.Slice((o * a + i) * b, b).CopyTo(side.Slice(i * width + o * b, b));
    }

    /// <summary>Side by side a×(O·b) → stacked (O·a)×b, the inverse of <see cref="ToSideBySide"/>.</summary>
    internal static void ToStacked(ReadOnlySpan<double> side, Span<double> stacked, int filters, int a, int b)
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
        Span<double> side = Ensure(ref _c, length).AsSpan(0, length);
        RotateSideBySide(x, filters, r1, r2, side);
        ToStacked(side, rotated, filters, a, b);
    }

    /// <summary>R1ᵀ·[X_1R2 … X_OR2] side by side into <paramref name="into"/>; returns the side-by-side X·R2 (scratch).</summary>
    private Span<double> RotateSideBySide(ReadOnlySpan<double> x, int filters, double[,] r1, double[,] r2, Span<double> into)
    {
        int a = r1.GetLength(0), b = r2.GetLength(0), length = filters * a * b, width = filters * b;
        Span<double> y = Ensure(ref _y, length).AsSpan(0, length), side = Ensure(ref _side, length).AsSpan(0, length);
        Gemm.Multiply(false, false, filters * a, b, b, 1.0, x, b, Flat(r2), b, 0.0, y, b);            // X_o R2
        ToSideBySide(y, side, filters, a, b);
        Gemm.Multiply(true, false, a, width, a, 1.0, Flat(r1), a, side, width, 0.0, into, width);     // R1ᵀ X_o R2
        return side;
    }

    /// <summary>The 3 alternating iterations of <see cref="RotatedSign"/>: B_o = sign(R1ᵀX_oR2);
    /// R1 ← V1U1ᵀ, svd(Σ_o B_o R2ᵀX_oᵀ) = U1S1V1ᵀ; R2 ← U2V2ᵀ, svd(Σ_o X_oᵀR1B_o) = U2S2V2ᵀ.</summary>
    public void Update(ReadOnlySpan<double> x, int filters, ref double[,] r1, ref double[,] r2)
    {
        int a = r1.GetLength(0), b = r2.GetLength(0), length = filters * a * b, width = filters * b;
        Span<double> signs = Ensure(ref _signs, length).AsSpan(0, length), c = Ensure(ref _c, length).AsSpan(0, length);
        for (int iteration = 0; iteration < 3; iteration++)
        {
            Span<double> ySide = RotateSideBySide(x, filters, r1, r2, signs);
            for (int i = 0; i < signs.Length; i++) signs[i] = Math.Sign(signs[i]);                  // torch.sign: 0 at 0
            var d1 = new double[a, a];
            Gemm.Multiply(false, true, a, a, width, 1.0, signs, width, ySide, width, 0.0, Flat(d1), a); // Σ B_o (X_oR2)ᵀ
            (double[,] u1, _, double[,] v1) = Orthogonal.Svd(d1);
            r1 = Orthogonal.Multiply(v1, u1, transposeB: true);
            Span<double> cSide = ySide;                                                                 // Y no longer needed
            Gemm.Multiply(false, false, a, width, a, 1.0, Flat(r1), a, signs, width, 0.0, cSide, width); // R1 B_o
            ToStacked(cSide, c, filters, a, b);
            var d2 = new double[b, b];
            Gemm.Multiply(true, false, b, b, filters * a, 1.0, x, b, c, b, 0.0, Flat(d2), b);          // Σ X_oᵀ R1 B_o
            (double[,] u2, _, double[,] v2) = Orthogonal.Svd(d2);
            r2 = Orthogonal.Multiply(u2, v2, transposeB: true);
        }
    }
}
