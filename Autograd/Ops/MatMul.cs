using BinaryGrad.Kernels;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>Matrix product <c>y = a @ b</c>: [m,k] @ [k,n] → [m,n]; batched when either has rank &gt; 2 (batch
    /// axes broadcast, NumPy <c>matmul</c> rules), e.g. [B,m,k] @ [k,n] → [B,m,n].</summary>
    /// <remarks>Backward: <c>da = dy @ bᵀ</c>, <c>db = aᵀ @ dy</c> (per batch; broadcast batch axes summed).
    /// Runs on <see cref="Gemm"/> with the transposes folded into the kernel, never materialised.</remarks>
    /// <exception cref="ArgumentException">A rank below 2, or inner dimensions that differ, e.g.
    /// <c>matmul: [3,4] @ [5,6]: inner dimensions 4 and 5 differ</c>.</exception>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Rank < 2 || b.Rank < 2)
            throw new ArgumentException($"matmul: {Shapes.Format(a.Shape)} @ {Shapes.Format(b.Shape)}: both operands need rank ≥ 2 (use Reshape to add an axis).");
        if (a.Shape[^1] != b.Shape[^2])
            throw new ArgumentException($"matmul: {Shapes.Format(a.Shape)} @ {Shapes.Format(b.Shape)}: inner dimensions {a.Shape[^1]} and {b.Shape[^2]} differ.");
        CheckSameDType(a, b, "matmul");
        if (b.Rank == 2 && a.Rank > 2)
        {   // fold a's batch axes into its rows: one large GEMM instead of many small ones
            int[] outShape = [.. a.ShapeArray[..^1], b.Shape[1]];
            return Reshape(new MatMulFunction().Apply(Reshape(a, [-1, a.Shape[^1]]), b), outShape);
        }
        int[] batch = Shapes.Broadcast(a.ShapeArray[..^2], b.ShapeArray[..^2], "matmul");
        if (batch.Length > 0)
        {
            a = Expand(a, [.. batch, a.Shape[^2], a.Shape[^1]]);
            b = Expand(b, [.. batch, b.Shape[^2], b.Shape[^1]]);
        }
        return new MatMulFunction().Apply(a, b);
    }

    private sealed class MatMulFunction : Function
    {
        private Tensor? _a, _b;
        public override string Name => "matmul";

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor a = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
            Tensor b = inputs[1].IsContiguous ? inputs[1] : inputs[1].MaterializeRaw();
            (_a, _b) = (a, b);
            int m = a.Shape[^2], k = a.Shape[^1], n = b.Shape[^1];
            Tensor y = Tensor.Empty([.. a.ShapeArray[..^2], m, n], a.DType);
            BatchedGemm(false, false, a, b, y, m, n, k);
            return y;
        }

        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor a = _a!, b = _b!, g = dy.IsContiguous ? dy : dy.MaterializeRaw();
            int m = a.Shape[^2], k = a.Shape[^1], n = b.Shape[^1];
            Tensor? da = null, db = null;
            if (NeedsGrad(0)) BatchedGemm(false, true, g, b, da = a.ZerosLike(), m, k, n);  // [m,n]·[k,n]ᵀ
            if (NeedsGrad(1)) BatchedGemm(true, false, a, g, db = b.ZerosLike(), k, n, m);  // [m,k]ᵀ·[m,n]
            return [da, db];
        }

        /// <summary>y[i] = op(x[i]) · op(w[i]) for each batch index i (rank-2 operands: one product).</summary>
        private static void BatchedGemm(bool transX, bool transW, Tensor x, Tensor w, Tensor y, int m, int n, int k)
        {
            int batches = y.Length / Math.Max(m * n, 1);
            int xSize = x.Shape[^2] * x.Shape[^1], wSize = w.Shape[^2] * w.Shape[^1];
            int ldx = x.Shape[^1], ldw = w.Shape[^1];
            for (int i = 0; i < batches; i++)
            {
                if (y.DType == DType.Float32)
                    Gemm.Multiply(transX, transW, m, n, k, 1f, x.AsSpan<float>().Slice(i * xSize, xSize), ldx,
                        w.AsSpan<float>().Slice(i * wSize, wSize), ldw, 0f, y.AsSpan<float>().Slice(i * m * n, m * n), n);
                else
                    Gemm.Multiply(transX, transW, m, n, k, 1.0, x.AsSpan<double>().Slice(i * xSize, xSize), ldx,
                        w.AsSpan<double>().Slice(i * wSize, wSize), ldw, 0.0, y.AsSpan<double>().Slice(i * m * n, m * n), n);
            }
        }

        protected override void ReleaseSaved() => (_a, _b) = (null, null);
    }
}

public sealed partial class Tensor
{
    /// <summary><see cref="Ops.MatMul"/>.</summary>
    public Tensor MatMul(Tensor other) => Ops.MatMul(this, other);
}
