using System.Numerics;
using System.Numerics.Tensors;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary><c>y = |x|</c>.</summary>
    /// <remarks>Backward: <c>dx = dy · sign(x)</c>; convention at the kink: the derivative at x = 0 is 0 (the
    /// minimum-norm subgradient, as in PyTorch).</remarks>
    public static Tensor Abs(Tensor x) => Unary(x, new AbsKernel());

    /// <summary><c>y = sign(x)</c> ∈ {−1, 0, +1} (0 at 0, NaN stays NaN).</summary>
    /// <remarks>Backward: <c>dx = 0</c>: the true derivative, zero almost everywhere and undefined at 0 (taken as 0).
    /// Binarization schemes use quantizers with an estimator instead (see BinaryGrad.Binarization).</remarks>
    public static Tensor Sign(Tensor x) => Unary(x, new SignKernel());

    /// <summary><c>y = min(max(x, min), max)</c>.</summary>
    /// <remarks>Backward: <c>dx = dy · [min ≤ x ≤ max]</c> (boundaries pass the gradient).</remarks>
    /// <exception cref="ArgumentException">min &gt; max.</exception>
    public static Tensor Clamp(Tensor x, double min, double max)
    {
        if (min > max) throw new ArgumentException($"clamp: min {min} is greater than max {max}.");
        return Unary(x, new ClampKernel("clamp", min, max));
    }

    /// <summary>Element-wise <c>y = max(a, b)</c> with broadcasting.</summary>
    /// <remarks>Backward: the gradient goes to the larger operand; on ties (a = b) it is split equally, ½dy each.</remarks>
    public static Tensor Maximum(Tensor a, Tensor b) => Binary(a, b, new ExtremumKernel(true));

    /// <summary>Element-wise <c>y = min(a, b)</c> with broadcasting.</summary>
    /// <remarks>Backward: the gradient goes to the smaller operand; on ties it is split equally, ½dy each.</remarks>
    public static Tensor Minimum(Tensor a, Tensor b) => Binary(a, b, new ExtremumKernel(false));

    /// <summary><c>y = condition ≠ 0 ? a : b</c>, element-wise with broadcasting of all three.</summary>
    /// <remarks>Backward: <c>da = dy · [c ≠ 0]</c>, <c>db = dy · [c = 0]</c>; the condition gets no gradient.</remarks>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(condition);
        CheckSameDType(a, b, "where");
        int[] shape = Shapes.Broadcast(Shapes.Broadcast(condition.Shape, a.Shape, "where"), b.Shape, "where");
        Tensor keep = Expand(condition.Detach(), shape).MaterializeRaw().To(a.DType);
        if (keep.DType == DType.Float32) { Span<float> m = keep.AsSpan<float>(); for (int i = 0; i < m.Length; i++) m[i] = m[i] != 0 ? 1 : 0; }
        else { Span<double> m = keep.AsSpan<double>(); for (int i = 0; i < m.Length; i++) m[i] = m[i] != 0 ? 1 : 0; }
        // Not a·m + b·(1 − m): that gives NaN where the unselected operand is infinite (∞·0).
        return new WhereFunction(keep).Apply(Expand(a, shape), Expand(b, shape));
    }

    private sealed class WhereFunction(Tensor mask) : Function
    {
        public override string Name => "where";
        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor a = inputs[0].MaterializeRaw(), b = inputs[1].MaterializeRaw();
            if (a.DType == DType.Float32) Select<float>(mask.AsSpan<float>(), a.AsSpan<float>(), b.AsSpan<float>(), a.AsSpan<float>());
            else Select<double>(mask.AsSpan<double>(), a.AsSpan<double>(), b.AsSpan<double>(), a.AsSpan<double>());
            return a;
        }
        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor? da = NeedsGrad(0) ? dy.MaterializeRaw() : null, db = NeedsGrad(1) ? dy.MaterializeRaw() : null;
            Tensor zero = dy.ZerosLike();
            if (dy.DType == DType.Float32)
            {
                if (da is not null) Select<float>(mask.AsSpan<float>(), da.AsSpan<float>(), zero.AsSpan<float>(), da.AsSpan<float>());
                if (db is not null) Select<float>(mask.AsSpan<float>(), zero.AsSpan<float>(), db.AsSpan<float>(), db.AsSpan<float>());
            }
            else
            {
                if (da is not null) Select<double>(mask.AsSpan<double>(), da.AsSpan<double>(), zero.AsSpan<double>(), da.AsSpan<double>());
                if (db is not null) Select<double>(mask.AsSpan<double>(), zero.AsSpan<double>(), db.AsSpan<double>(), db.AsSpan<double>());
            }
            return [da, db];
        }
        private static void Select<T>(ReadOnlySpan<T> m, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            for (int i = 0; i < y.Length; i++) y[i] = m[i] != T.Zero ? a[i] : b[i];
        }
    }

    private readonly struct AbsKernel : IUnaryKernel
    {
        public string Name => "abs";
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Abs(x, y);
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            for (int i = 0; i < dx.Length; i++) dx[i] = x[i] > T.Zero ? dy[i] : x[i] < T.Zero ? -dy[i] : T.Zero;
        }
    }

    private readonly struct SignKernel : IUnaryKernel
    {
        public string Name => "sign";
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            for (int i = 0; i < y.Length; i++) y[i] = x[i] > T.Zero ? T.One : x[i] < T.Zero ? -T.One : x[i] == T.Zero ? T.Zero : x[i];
        }
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T> => dx.Clear();
    }

    private readonly struct ExtremumKernel(bool isMax) : IBinaryKernel
    {
        public string Name => isMax ? "maximum" : "minimum";
        public void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            if (isMax) TensorPrimitives.Max(a, b, y); else TensorPrimitives.Min(a, b, y);
        }
        public void BackwardA<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> da) where T : unmanaged, IBinaryFloatingPointIeee754<T> => Route(a, b, dy, da);
        public void BackwardB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> db) where T : unmanaged, IBinaryFloatingPointIeee754<T> => Route(b, a, dy, db);

        /// <summary>Gradient of the extremum with respect to <paramref name="self"/>: dy where self wins, ½dy on ties.</summary>
        private void Route<T>(ReadOnlySpan<T> self, ReadOnlySpan<T> other, ReadOnlySpan<T> dy, Span<T> d) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T half = T.CreateTruncating(0.5);
            for (int i = 0; i < d.Length; i++)
            {
                bool wins = isMax ? self[i] > other[i] : self[i] < other[i];
                d[i] = wins ? dy[i] : self[i] == other[i] ? half * dy[i] : T.Zero;
            }
        }
    }
}
