using System.Runtime.InteropServices;
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

    /// <summary>A random orthogonal matrix: Gram–Schmidt on a Gaussian matrix (columns of the Q factor).</summary>
    public static double[,] Random(int n, Rng rng)
    {
        var q = new double[n, n];
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) q[i, j] = rng.Normal();
        Orthonormalize(q, new bool[n]);
        return q;
    }

    /// <summary>Classical Gram–Schmidt, applied twice for stability, over the columns of a full-rank matrix.</summary>
    private static void Orthonormalize(double[,] q, bool[] replace)
    {
        int n = q.GetLength(0);
        for (int j = 0; j < n; j++)
            if (!replace[j]) Project(q, j, Enumerable.Range(0, j).Where(p => !replace[p]));
        Complete(q, replace);
    }

    /// <summary>Fills the columns flagged in <paramref name="replace"/> with unit vectors orthogonal to every other
    /// column, leaving the (orthonormal) unflagged columns untouched.</summary>
    private static void Complete(double[,] q, bool[] replace)
    {
        int n = q.GetLength(0);
        var done = new List<int>(Enumerable.Range(0, n).Where(p => !replace[p]));
        int basis = 0;
        foreach (int j in Enumerable.Range(0, n).Where(p => replace[p]))
        {
            while (true)
            {
                for (int i = 0; i < n; i++) q[i, j] = i == basis ? 1 : 0;
                basis++;
                if (Project(q, j, done) > 1e-6 || basis >= n) break;
            }
            done.Add(j);
        }
    }

    /// <summary>Removes from column j its components along <paramref name="against"/> (twice) and normalises it;
    /// returns the norm before normalisation.</summary>
    private static double Project(double[,] q, int j, IEnumerable<int> against)
    {
        int n = q.GetLength(0);
        int[] ps = [.. against];
        for (int pass = 0; pass < 2; pass++)
            foreach (int p in ps)
            {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += q[i, p] * q[i, j];
                for (int i = 0; i < n; i++) q[i, j] -= dot * q[i, p];
            }
        double norm = 0;
        for (int i = 0; i < n; i++) norm += q[i, j] * q[i, j];
        norm = Math.Sqrt(norm);
        if (norm > 0) for (int i = 0; i < n; i++) q[i, j] /= norm;
        return norm;
    }

    /// <summary>Singular value decomposition M = U·diag(S)·Vᵀ of a square matrix by one-sided (Hestenes) Jacobi
    /// rotations: accurate to working precision for the small matrices RBNN uses (a, b ≤ ~100). Left singular vectors
    /// of zero singular values are completed to an orthonormal basis.</summary>
    public static (double[,] U, double[] S, double[,] V) Svd(double[,] m)
    {
        int n = m.GetLength(0);
        var u = (double[,])m.Clone();
        var v = new double[n, n];
        for (int i = 0; i < n; i++) v[i, i] = 1;
        for (int sweep = 0; sweep < 80; sweep++)
        {
            double off = 0;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double alpha = 0, beta = 0, gamma = 0;
                    for (int i = 0; i < n; i++)
                    {
                        alpha += u[i, p] * u[i, p];
                        beta += u[i, q] * u[i, q];
                        gamma += u[i, p] * u[i, q];
                    }
                    if (gamma == 0 || Math.Abs(gamma) <= 1e-15 * Math.Sqrt(alpha * beta)) continue;
                    off = Math.Max(off, Math.Abs(gamma) / Math.Sqrt(alpha * beta));
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = (zeta >= 0 ? 1 : -1) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
                    double c = 1 / Math.Sqrt(1 + t * t), s = c * t;
                    Rotate(u, p, q, c, s);
                    Rotate(v, p, q, c, s);
                }
            if (off < 1e-15) break;
        }
        double[] sv = new double[n];
        double max = 0;
        for (int j = 0; j < n; j++)
        {
            double norm = 0;
            for (int i = 0; i < n; i++) norm += u[i, j] * u[i, j];
            sv[j] = Math.Sqrt(norm);
            max = Math.Max(max, sv[j]);
        }
        bool[] replace = new bool[n];
        for (int j = 0; j < n; j++)
        {
            replace[j] = sv[j] <= 1e-13 * Math.Max(max, 1e-300);
            if (!replace[j]) for (int i = 0; i < n; i++) u[i, j] /= sv[j];
        }
        if (replace.Any(r => r)) Complete(u, replace);
        return (u, sv, v);
    }

    private static void Rotate(double[,] a, int p, int q, double c, double s)
    {
        for (int i = 0; i < a.GetLength(0); i++)
        {
            double ap = a[i, p], aq = a[i, q];
            a[i, p] = c * ap - s * aq;
            a[i, q] = s * ap + c * aq;
        }
    }
}
