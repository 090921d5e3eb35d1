using BinaryGrad.Autograd;
using BinaryGrad.Kernels;

namespace BinaryGrad.Binarization;

/// <summary>Dense float64 linear algebra for the decomposed weight parametrizations (Bulat et al. 2019, arXiv:1904.07852): products on the
/// framework GEMM, mode-n products of row-major tensors, a truncated SVD and HOSVD. All matrices are row-major.</summary>
internal static class Decompositions
{
    /// <summary>C[m×n] = op(A)·op(B) (+ C when <paramref name="accumulate"/>), op = transpose when asked; A stored m×k
    /// (k×m when transposed), B stored k×n (n×k when transposed).</summary>
    public static void MatMul(bool transA, bool transB, int m, int n, int k, ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> c, bool accumulate = false)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) c[..(m * n)].Clear();
            return;
        }
        Gemm.Multiply(transA, transB, m, n, k, 1.0, a, transA ? m : k, b, transB ? k : n, accumulate ? 1.0 : 0.0, c, n);
    }

    /// <summary>Float32 twin of <see cref="MatMul(bool, bool, int, int, int, ReadOnlySpan{double}, ReadOnlySpan{double}, Span{double}, bool)"/>
    /// on the SGEMM (the decomposed schemes' float32 training path).</summary>
    public static void MatMul(bool transA, bool transB, int m, int n, int k, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, bool accumulate = false)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) c[..(m * n)].Clear();
            return;
        }
        Gemm.Multiply(transA, transB, m, n, k, 1f, a, transA ? m : k, b, transB ? k : n, accumulate ? 1f : 0f, c, n);
    }

    /// <summary>Float32 twin of <see cref="ModeProduct(double[], int[], int, double[], int, int, bool, out int[])"/>:
    /// the same formula and the same GEMM calls, float32 accumulation.</summary>
    public static float[] ModeProduct(float[] x, int[] dims, int n, float[] u, int uRows, int uCols, bool transpose, out int[] outDims)
    {
        int j = dims[n], i = transpose ? uCols : uRows;
        if ((transpose ? uRows : uCols) != j) throw new ArgumentException($"mode-{n} product: factor is {uRows}×{uCols} but the tensor's axis {n} has {j} entries.");
        int before = Product(dims, 0, n), after = Product(dims, n + 1, dims.Length);
        outDims = (int[])dims.Clone();
        outDims[n] = i;
        float[] y = new float[before * i * after];
        if (after == 1)
        {
            MatMul(false, !transpose, before, i, j, x, u, y);
            return y;
        }
        for (int a = 0; a < before; a++)
            MatMul(transpose, false, i, after, j, u, x.AsSpan(a * j * after, j * after), y.AsSpan(a * i * after, i * after));
        return y;
    }

    /// <summary>Float32 twin of <see cref="ModeContract(double[], int[], double[], int[], int)"/>.</summary>
    public static float[] ModeContract(float[] x, int[] xDims, float[] p, int[] pDims, int n)
    {
        int i = xDims[n], r = pDims[n];
        int before = Product(xDims, 0, n), after = Product(xDims, n + 1, xDims.Length);
        float[] d = new float[i * r];
        if (after == 1)
        {
            MatMul(true, false, i, r, before, x, p, d);
            return d;
        }
        for (int a = 0; a < before; a++)
            MatMul(false, true, i, r, after, x.AsSpan(a * i * after, i * after), p.AsSpan(a * r * after, r * after), d, accumulate: true);
        return d;
    }

    /// <summary>Product of all entries of <paramref name="dims"/> in [from, to).</summary>
    public static int Product(int[] dims, int from, int to)
    {
        int p = 1;
        for (int i = from; i < to; i++) p *= dims[i];
        return p;
    }

    /// <summary>The mode-n product <c>X ×_n U</c> (U is I×J with J = dims[n]; the result has dims[n] = I), or with
    /// <paramref name="transpose"/> <c>X ×_n Uᵀ</c> (U is J×I with J = dims[n]).
    /// Formula: <c>Y[a, i, b] = Σ_j U[i, j]·X[a, j, b]</c>, a over the axes before n, b over those after.</summary>
    public static double[] ModeProduct(double[] x, int[] dims, int n, double[] u, int uRows, int uCols, bool transpose, out int[] outDims)
    {
        int j = dims[n], i = transpose ? uCols : uRows;
        if ((transpose ? uRows : uCols) != j) throw new ArgumentException($"mode-{n} product: factor is {uRows}×{uCols} but the tensor's axis {n} has {j} entries.");
        int before = Product(dims, 0, n), after = Product(dims, n + 1, dims.Length);
        outDims = (int[])dims.Clone();
        outDims[n] = i;
        double[] y = new double[before * i * after];
        if (after == 1)
        {
            // Y (A×I) = X (A×J) · op(U)ᵀ
            MatMul(false, !transpose, before, i, j, x, u, y);
            return y;
        }
        for (int a = 0; a < before; a++)
            MatMul(transpose, false, i, after, j, u, x.AsSpan(a * j * after, j * after), y.AsSpan(a * i * after, i * after));
        return y;
    }

    /// <summary><c>D[I×R] = Σ_{a,b} X[a, i, b]·P[a, r, b]</c>: the mode-n contraction of two tensors that agree on every
    /// axis but n (the gradient of a Tucker factor).</summary>
    public static double[] ModeContract(double[] x, int[] xDims, double[] p, int[] pDims, int n)
    {
        int i = xDims[n], r = pDims[n];
        int before = Product(xDims, 0, n), after = Product(xDims, n + 1, xDims.Length);
        double[] d = new double[i * r];
        if (after == 1)
        {
            MatMul(true, false, i, r, before, x, p, d);
            return d;
        }
        for (int a = 0; a < before; a++)
            MatMul(false, true, i, r, after, x.AsSpan(a * i * after, i * after), p.AsSpan(a * r * after, r * after), d, accumulate: true);
        return d;
    }

    /// <summary>Mode-n unfolding X₍ₙ₎ (dims[n] × rest, the remaining axes in their order).</summary>
    public static double[] Unfold(double[] x, int[] dims, int n)
    {
        int j = dims[n], before = Product(dims, 0, n), after = Product(dims, n + 1, dims.Length);
        double[] y = new double[x.Length];
        for (int a = 0; a < before; a++)
            for (int jj = 0; jj < j; jj++)
                for (int b = 0; b < after; b++)
                    y[jj * before * after + a * after + b] = x[(a * j + jj) * after + b];
        return y;
    }

    /// <summary>Orthonormalises the columns of the m×r matrix <paramref name="a"/> in place (modified Gram–Schmidt,
    /// twice for stability); a column that becomes (numerically) zero is replaced by a unit vector orthogonal to the others.</summary>
    public static void Orthonormalize(double[] a, int m, int r)
    {
        for (int c = 0; c < r; c++)
        {
            for (int pass = 0; pass < 2; pass++)
                for (int p = 0; p < c; p++)
                {
                    double dot = 0;
                    for (int i = 0; i < m; i++) dot += a[i * r + p] * a[i * r + c];
                    for (int i = 0; i < m; i++) a[i * r + c] -= dot * a[i * r + p];
                }
            double norm = 0;
            for (int i = 0; i < m; i++) norm += a[i * r + c] * a[i * r + c];
            norm = Math.Sqrt(norm);
            if (norm > 1e-12)
            {
                for (int i = 0; i < m; i++) a[i * r + c] /= norm;
                continue;
            }
            // degenerate column: try the basis vectors e_0, e_1, … until one survives the projection
            for (int e = 0; e < m; e++)
            {
                for (int i = 0; i < m; i++) a[i * r + c] = i == e ? 1 : 0;
                for (int pass = 0; pass < 2; pass++)
                    for (int p = 0; p < c; p++)
                    {
                        double dot = a[e * r + p];
                        if (pass == 1) { dot = 0; for (int i = 0; i < m; i++) dot += a[i * r + p] * a[i * r + c]; }
                        for (int i = 0; i < m; i++) a[i * r + c] -= dot * a[i * r + p];
                    }
                norm = 0;
                for (int i = 0; i < m; i++) norm += a[i * r + c] * a[i * r + c];
                norm = Math.Sqrt(norm);
                if (norm > 1e-6)
                {
                    for (int i = 0; i < m; i++) a[i * r + c] /= norm;
                    break;
                }
            }
        }
    }

    /// <summary>Eigen-decomposition of the symmetric n×n matrix <paramref name="a"/> by cyclic Jacobi rotations:
    /// returns eigenvalues in decreasing order and the eigenvectors as columns of an n×n matrix.</summary>
    public static (double[] Values, double[] Vectors) SymmetricEigen(double[] a, int n)
    {
        double[] m = (double[])a.Clone(), v = new double[n * n];
        for (int i = 0; i < n; i++) v[i * n + i] = 1;
        for (int sweep = 0; sweep < 60; sweep++)
        {
            double off = 0, total = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    total += m[i * n + j] * m[i * n + j];
                    if (i != j) off += m[i * n + j] * m[i * n + j];
                }
            if (off <= 1e-30 * Math.Max(total, 1e-300)) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double apq = m[p * n + q];
                    if (Math.Abs(apq) < 1e-300) continue;
                    double theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double mkp = m[k * n + p], mkq = m[k * n + q];
                        m[k * n + p] = c * mkp - s * mkq;
                        m[k * n + q] = s * mkp + c * mkq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double mpk = m[p * n + k], mqk = m[q * n + k];
                        m[p * n + k] = c * mpk - s * mqk;
                        m[q * n + k] = s * mpk + c * mqk;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double vkp = v[k * n + p], vkq = v[k * n + q];
                        v[k * n + p] = c * vkp - s * vkq;
                        v[k * n + q] = s * vkp + c * vkq;
                    }
                }
        }
        int[] order = [.. Enumerable.Range(0, n).OrderByDescending(i => m[i * n + i])];
        double[] values = [.. order.Select(i => m[i * n + i])], vectors = new double[n * n];
        for (int k = 0; k < n; k++)
            for (int c = 0; c < n; c++) vectors[k * n + c] = v[k * n + order[c]];
        return (values, vectors);
    }

    /// <summary>Rank-r truncated SVD <c>A ≈ U·diag(S)·Vᵀ</c> of the m×n matrix A (U m×r, V n×r, orthonormal columns)
    /// by a randomized range finder with two power iterations (Halko, Martinsson, Tropp 2011) and an exact
    /// eigen-decomposition of the l×l Gram matrix, l = min(r + 10, m, n) (oversampling), truncated to r. Exact (up to
    /// rounding) when l covers the rank of A (always when r + 10 ≥ min(m, n)); otherwise the usual randomized
    /// approximation with two power iterations.</summary>
    public static (double[] U, double[] S, double[] V) TruncatedSvd(double[] a, int m, int n, int rank, ulong seed = 1)
    {
        rank = Math.Min(rank, Math.Min(m, n));
        int r = Math.Min(rank + 10, Math.Min(m, n));
        var rng = new Rng(seed);
        double[] omega = new double[n * r];
        for (int i = 0; i < omega.Length; i++) omega[i] = rng.Normal();
        double[] q = new double[m * r], z = new double[n * r];
        MatMul(false, false, m, r, n, a, omega, q);
        Orthonormalize(q, m, r);
        for (int it = 0; it < 2; it++)
        {
            MatMul(true, false, n, r, m, a, q, z);
            Orthonormalize(z, n, r);
            MatMul(false, false, m, r, n, a, z, q);
            Orthonormalize(q, m, r);
        }
        double[] b = new double[r * n], gram = new double[r * r];
        MatMul(true, false, r, n, m, q, a, b);
        MatMul(false, true, r, r, n, b, b, gram);
        (double[] values, double[] e) = SymmetricEigen(gram, r);
        double[] s = [.. values.Select(v => Math.Sqrt(Math.Max(v, 0)))];
        double[] u = new double[m * r], vt = new double[n * r];
        MatMul(false, false, m, r, r, q, e, u);
        MatMul(true, false, n, r, r, b, e, vt);
        double tiny = (s.Length == 0 ? 0 : s[0]) * 1e-12;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < r; c++) vt[i * r + c] = s[c] > tiny ? vt[i * r + c] / s[c] : 0;
        return (Columns(u, m, r, rank), s[..rank], Columns(vt, n, r, rank));
    }

    /// <summary>The first <paramref name="keep"/> columns of a rows×cols matrix.</summary>
    private static double[] Columns(double[] x, int rows, int cols, int keep)
    {
        if (keep == cols) return x;
        double[] y = new double[rows * keep];
        for (int i = 0; i < rows; i++) Array.Copy(x, i * cols, y, i * keep, keep);
        return y;
    }
}
