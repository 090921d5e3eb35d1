using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using BinaryGrad.Kernels;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>Fused affine map <c>y = x·Wᵀ + b</c>: x [N,in], weight [out,in] (PyTorch's layout), bias [out] or
    /// null → y [N,out].</summary>
    /// <remarks>
    /// One GEMM with the transpose folded into the kernel (<c>transB</c>), writing onto rows pre-filled with the
    /// bias (β = 1), so the forward allocates only y; a MatMul + Add chain would allocate and traverse y twice.
    /// Backward: <c>dx = dy·W</c> [N,in], <c>dW = dyᵀ·x</c> [out,in], <c>db = Σ_n dy[n,:]</c> [out].
    /// </remarks>
    /// <exception cref="ArgumentException">Ranks or feature counts disagree, e.g.
    /// <c>linear: x [8,3] does not match weight [4,5] (in-features 3 vs 5)</c>, or element types differ.</exception>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        if (x.Rank != 2 || weight.Rank != 2)
            throw new ArgumentException($"linear: x {Shapes.Format(x.Shape)} and weight {Shapes.Format(weight.Shape)} must both have rank 2 (x [N,in], weight [out,in]).");
        if (x.Shape[1] != weight.Shape[1])
            throw new ArgumentException($"linear: x {Shapes.Format(x.Shape)} does not match weight {Shapes.Format(weight.Shape)} (in-features {x.Shape[1]} vs {weight.Shape[1]}).");
        CheckSameDType(x, weight, "linear");
        if (bias is null) return new LinearFunction(hasBias: false).Apply(x, weight);
        if (bias.Rank != 1 || bias.Shape[0] != weight.Shape[0])
            throw new ArgumentException($"linear: bias {Shapes.Format(bias.Shape)} must be [{weight.Shape[0]}] for weight {Shapes.Format(weight.Shape)}.");
        CheckSameDType(x, bias, "linear");
        return new LinearFunction(hasBias: true).Apply(x, weight, bias);
    }

    /// <summary>Row-major <c>C = α·op(A)·op(B) + β·C</c> for either element type, on <see cref="Gemm"/>.</summary>
    internal static void GemmOf<T>(bool transA, bool transB, int m, int n, int k, ReadOnlySpan<T> a, int lda,
        ReadOnlySpan<T> b, int ldb, bool accumulate, Span<T> c, int ldc) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            Gemm.Multiply(transA, transB, m, n, k, 1f, MemoryMarshal.Cast<T, float>(a), lda,
                MemoryMarshal.Cast<T, float>(b), ldb, accumulate ? 1f : 0f,
                MemoryMarshal.Cast<T, float>(c), ldc);
        else
            Gemm.Multiply(transA, transB, m, n, k, 1.0, MemoryMarshal.Cast<T, double>(a), lda,
                MemoryMarshal.Cast<T, double>(b), ldb, accumulate ? 1.0 : 0.0,
                MemoryMarshal.Cast<T, double>(c), ldc);
    }

    private sealed class LinearFunction(bool hasBias) : Function
    {
        private Tensor? _x, _w;
        public override string Name => "linear";
        internal override bool DropsGradOutput => true;

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor x = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
            Tensor w = inputs[1].IsContiguous ? inputs[1] : inputs[1].MaterializeRaw();
            Tensor? b = hasBias ? inputs[2] : null;
            (_x, _w) = (x, w);
            Tensor y = Tensor.Uninitialized([x.Shape[0], w.Shape[0]], x.DType); // bias rows or β = 0: fully written
            if (x.DType == DType.Float32) Run<float>(x, w, b, y); else Run<double>(x, w, b, y);
            return y;
        }

        private static void Run<T>(Tensor x, Tensor w, Tensor? b, Tensor y) where T : unmanaged, INumber<T>
        {
            int n = x.Shape[0], inF = x.Shape[1], outF = w.Shape[0];
            Span<T> ys = y.AsSpan<T>();
            if (b is not null)
            {
                ReadOnlySpan<T> bs = b.AsContiguousSpan<T>();
                for (int row = 0; row < n; row++) bs.CopyTo(ys.Slice(row * outF, outF));
            }
            GemmOf<T>(false, true, n, outF, inF, x.AsSpan<T>(), inF, w.AsSpan<T>(), inF, accumulate: b is not null, ys, outF);
        }

        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor x = _x!, w = _w!;
            Tensor g = dy.IsContiguous ? dy : dy.MaterializeRaw();
            // Written by GEMMs with β = 0 (C write-only), so they need no clearing.
            Tensor? dx = NeedsGrad(0) ? Tensor.RentGradient(x.Shape, x.DType, clear: false) : null, dw = NeedsGrad(1) ? Tensor.RentGradient(w.Shape, w.DType, clear: false) : null;
            Tensor? db = hasBias && NeedsGrad(2) ? Tensor.Empty([w.Shape[0]], w.DType) : null;
            if (x.DType == DType.Float32) Gradients<float>(x, w, g, dx, dw, db); else Gradients<double>(x, w, g, dx, dw, db);
            return hasBias ? [dx, dw, db] : [dx, dw];
        }

        private static void Gradients<T>(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor? dw, Tensor? db)
            where T : unmanaged, INumber<T>
        {
            int n = x.Shape[0], inF = x.Shape[1], outF = w.Shape[0];
            ReadOnlySpan<T> g = dy.AsSpan<T>();
            if (dx is not null) GemmOf<T>(false, false, n, inF, outF, g, outF, w.AsSpan<T>(), inF, false, dx.AsSpan<T>(), inF);
            if (dw is not null) GemmOf<T>(true, false, outF, inF, n, g, outF, x.AsSpan<T>(), inF, false, dw.AsSpan<T>(), inF);
            if (db is not null)
            {
                Span<T> sums = db.AsSpan<T>();
                for (int row = 0; row < n; row++) TensorPrimitives.Add(sums, g.Slice(row * outF, outF), sums);
            }
        }

        protected override void ReleaseSaved() => (_x, _w) = (null, null);
    }
}
