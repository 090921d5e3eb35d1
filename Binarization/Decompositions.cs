using BinaryGrad.Autograd;
using BinaryGrad.Kernels;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;

namespace BinaryGrad.Binarization;

/// <summary>Dense float64 linear algebra for the decomposed weight parametrizations (Bulat et al. 2019, arXiv:1904.07852): products on the
/// framework GEMM, mode-n products of row-major tensors, unfoldings and the truncated SVD that HOSVD applies to each of them
/// (MathNet.Numerics). All matrices are row-major.</summary>
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

    /// <summary>Rank-r truncated SVD <c>A ≈ U·diag(S)·Vᵀ</c> of the row-major m×n matrix A (U m×r, V n×r, orthonormal
    /// columns, S decreasing) by a randomized range finder with two power iterations (Halko, Martinsson, Tropp 2011,
    /// arXiv:0909.4061, Alg. 4.4): Q = orth(A·Ω) for a Gaussian n×l Ω, l = min(r + 10, m, n) (oversampling), refined
    /// twice by Q ← orth(A·orth(Aᵀ·Q)); then the exact SVD of the small l×n matrix B = Qᵀ·A = U_B·S·Vᵀ gives U = Q·U_B,
    /// truncated to r. Exact (up to rounding) when l covers the rank of A (always when r + 10 ≥ min(m, n)); otherwise
    /// the usual randomized approximation. Products run on the framework GEMM, orth() (thin Householder QR) and the SVD
    /// on MathNet.Numerics: O(m·n·l), where an exact SVD of A would cost O(m·n·min(m, n)) (a 1024×1024 layer at rank 256:
    /// 10 s against 39 s, measured on two busy cores). Signs: each left vector's largest-magnitude entry is positive (the right vector
    /// flips with it), so the result does not depend on the library's sign choice.</summary>
    public static (double[] U, double[] S, double[] V) TruncatedSvd(double[] a, int m, int n, int rank, ulong seed = 1)
    {
        rank = Math.Min(rank, Math.Min(m, n));
        if (rank <= 0) return (new double[0], [], new double[0]);
        int l = Math.Min(rank + 10, Math.Min(m, n));
        var rng = new Rng(seed);
        double[] omega = new double[n * l];
        for (int i = 0; i < omega.Length; i++) omega[i] = rng.Normal();
        double[] q = new double[m * l], z = new double[n * l];
        MatMul(false, false, m, l, n, a, omega, q);
        q = OrthonormalColumns(q, m, l);
        for (int it = 0; it < 2; it++)
        {
            MatMul(true, false, n, l, m, a, q, z);
            z = OrthonormalColumns(z, n, l);
            MatMul(false, false, m, l, n, a, z, q);
            q = OrthonormalColumns(q, m, l);
        }
        double[] b = new double[l * n];
        MatMul(true, false, l, n, m, q, a, b);
        (Matrix<double> ub, double[] s, Matrix<double> v) = ThinSvd(Matrix<double>.Build.DenseOfRowMajor(l, n, b));
        Matrix<double> left = Matrix<double>.Build.DenseOfRowMajor(m, l, q) * ub;
        double[] u = new double[m * rank], vr = new double[n * rank];
        for (int c = 0; c < rank; c++)
        {
            int largest = 0;
            for (int i = 1; i < m; i++)
                if (Math.Abs(left[i, c]) > Math.Abs(left[largest, c])) largest = i;
            double sign = left[largest, c] < 0 ? -1 : 1;
            for (int i = 0; i < m; i++) u[i * rank + c] = sign * left[i, c];
            for (int j = 0; j < n; j++) vr[j * rank + c] = sign * v[j, c];
        }
        return (u, s[..rank], vr);
    }

    /// <summary>An orthonormal basis of the column space of the row-major rows×cols matrix (rows ≥ cols): the Q of
    /// its thin Householder QR. Q stays orthonormal even when the columns are (numerically) dependent, which the
    /// range finder's power iterations produce when A's rank is below l.</summary>
    private static double[] OrthonormalColumns(double[] x, int rows, int cols) =>
        Matrix<double>.Build.DenseOfRowMajor(rows, cols, x).QR(QRMethod.Thin).Q.ToRowMajorArray();

    /// <summary>Thin SVD <c>B = U·diag(S)·Vᵀ</c> of a k×n matrix, k ≤ n (U k×k, V n×k): Bᵀ = Q·R by thin QR, then the
    /// k×k SVD R = U_R·S·W_Rᵀ gives B = W_R·S·(Q·U_R)ᵀ, so MathNet never forms the n×n right basis of a full SVD.</summary>
    private static (Matrix<double> U, double[] S, Matrix<double> V) ThinSvd(Matrix<double> b)
    {
        QR<double> qr = b.Transpose().QR(QRMethod.Thin);
        Svd<double> small = qr.R.Svd(computeVectors: true);
        return (small.VT.Transpose(), small.S.ToArray(), qr.Q * small.U);
    }
}
