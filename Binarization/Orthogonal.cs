using System.Runtime.InteropServices;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;
using BinaryGrad.Autograd;
using BinaryGrad.Kernels;

namespace BinaryGrad.Binarization;

/// <summary>Small dense linear algebra for RBNN's rotations: square matrices as <c>double[,]</c>.</summary>
internal static class Orthogonal
{
    public static double[,] Multiply(double[,] a, double[,] b, bool transposeA = false, bool transposeB = false)
    {
        int n = transposeA ? a.GetLength(1) : a.GetLength(0), k = transposeA ? a.GetLength(0) : a.GetLength(1);
        int m = transposeB ? b.GetLength(0) : b.GetLength(1);
        var c = new double[n, m];
        if (k == 0 || m == 0) return c;
        // B as a k×m row-major copy (transposed if asked), so that row p of B is contiguous
        double[,] bk = b;
        if (transposeB)
        {
            bk = new double[k, m];
            for (int p = 0; p < k; p++)
                for (int j = 0; j < m; j++) bk[p, j] = b[j, p];
        }
        Span<double> cs = MemoryMarshal.CreateSpan(ref c[0, 0], n * m);
        ReadOnlySpan<double> bs = MemoryMarshal.CreateReadOnlySpan(ref bk[0, 0], k * m);
        for (int i = 0; i < n; i++)
        {
            Span<double> row = cs.Slice(i * m, m);
            for (int p = 0; p < k; p++)
            {
                double av = transposeA ? a[p, i] : a[i, p];
                if (av == 0) continue;
                RowUpdate.MultiplyAdd(row, av, bs.Slice(p * m, m));
            }
        }
        return c;
    }

    /// <summary>A random orthogonal matrix: the Q factor of a Gaussian matrix (Householder QR), its columns signed so
    /// that diag(R) &gt; 0 — the unique Q with that property, i.e. the Gram–Schmidt orthonormalisation of the Gaussian
    /// columns, which makes Q Haar-distributed (Mezzadri 2007, arXiv:math-ph/0609050).</summary>
    public static double[,] Random(int n, Rng rng)
    {
        var gaussian = new double[n, n];
        // column by column: the draw order fixes the matrix for a given seed
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) gaussian[i, j] = rng.Normal();
        if (n == 0) return gaussian;
        QR<double> qr = Matrix<double>.Build.DenseOfArray(gaussian).QR();
        double[,] q = qr.Q.ToArray();
        for (int j = 0; j < n; j++)
            if (qr.R[j, j] < 0)
                for (int i = 0; i < n; i++) q[i, j] = -q[i, j];
        return q;
    }

    /// <summary>Singular value decomposition M = U·diag(S)·Vᵀ of a square matrix (MathNet.Numerics, Golub–Kahan):
    /// S in decreasing order, U and V orthogonal — left singular vectors of zero singular values complete an
    /// orthonormal basis. Singular vectors are unique only up to a common sign per pair (and a rotation within a
    /// repeated singular value); RBNN uses only the polar factors V·Uᵀ and U·Vᵀ, which do not depend on that choice
    /// when M has full rank.</summary>
    public static (double[,] U, double[] S, double[,] V) Svd(double[,] m)
    {
        if (m.GetLength(0) != m.GetLength(1)) throw new ArgumentException($"Svd: expected a square matrix, got {m.GetLength(0)}×{m.GetLength(1)}.", nameof(m));
        if (m.Length == 0) return (new double[0, 0], [], new double[0, 0]);
        Svd<double> svd = Matrix<double>.Build.DenseOfArray(m).Svd(computeVectors: true);
        return (svd.U.ToArray(), svd.S.ToArray(), svd.VT.Transpose().ToArray());
    }
}
