using System.Numerics;
using System.Numerics.Tensors;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>Sum over <paramref name="axes"/> (all axes when empty), keeping them as size 1 when <paramref name="keepDim"/>.</summary>
    /// <remarks>Backward: <c>dx = dy</c> broadcast back over the summed axes.</remarks>
    public static Tensor Sum(Tensor x, ReadOnlySpan<int> axes = default, bool keepDim = false) =>
        new ReduceFunction("sum", x, Shapes.NormalizeAxes(axes, x.Rank, "sum"), keepDim).Apply(x);

    /// <summary>Mean over <paramref name="axes"/> (all when empty): <c>Σx / R</c> with R the number of reduced elements.</summary>
    /// <remarks>Backward: <c>dx = dy / R</c> broadcast back.</remarks>
    public static Tensor Mean(Tensor x, ReadOnlySpan<int> axes = default, bool keepDim = false)
    {
        int[] normalized = Shapes.NormalizeAxes(axes, x.Rank, "mean");
        int count = 1;
        foreach (int a in normalized) count *= x.Shape[a];
        return Mul(new ReduceFunction("sum", x, normalized, keepDim).Apply(x), 1.0 / Math.Max(count, 1));
    }

    /// <summary>Maximum over <paramref name="axes"/> (all when empty).</summary>
    /// <remarks>Backward: dy goes to the position of the maximum; when several elements tie for the maximum it is
    /// split equally among them (a valid subgradient, symmetric in the tied elements).</remarks>
    /// <exception cref="ArgumentException">A reduced axis has size 0.</exception>
    public static Tensor Max(Tensor x, ReadOnlySpan<int> axes = default, bool keepDim = false) =>
        new ReduceFunction("max", x, Shapes.NormalizeAxes(axes, x.Rank, "max"), keepDim).Apply(x);

    /// <summary>Variance over <paramref name="axes"/>: <c>Σ(x − mean)² / (R − correction)</c>; correction 1 gives the
    /// unbiased estimate (PyTorch's default), 0 the population variance that batch norm uses.</summary>
    /// <remarks>Backward (from the composition): <c>dx = dy · 2(x − mean) / (R − correction)</c>.</remarks>
    public static Tensor Var(Tensor x, ReadOnlySpan<int> axes = default, bool keepDim = false, int correction = 1)
    {
        int[] normalized = Shapes.NormalizeAxes(axes, x.Rank, "var");
        int count = 1;
        foreach (int a in normalized) count *= x.Shape[a];
        if (count - correction <= 0)
            throw new ArgumentException($"var: {count} elements per reduction with correction {correction} leave no degrees of freedom.");
        Tensor centered = Sub(x, Mean(x, normalized, keepDim: true));
        Tensor squares = Sum(Mul(centered, centered), normalized, keepDim);
        return Mul(squares, 1.0 / (count - correction));
    }

    /// <summary>Sum outside the graph, keepDim false.</summary>
    internal static Tensor SumRaw(Tensor x, int[] axes) => ReduceFunction.Compute("sum", x, axes, keepDim: false, out _);

    private sealed class ReduceFunction(string name, Tensor input, int[] axes, bool keepDim) : Function
    {
        private Tensor? _rows, _result; // input as [outer, R] rows, and the per-row result
        private int[]? _permutation;
        public override string Name => name;

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor y = Compute(name, input, axes, keepDim, out (Tensor Rows, Tensor Result, int[] Permutation) saved);
            (_rows, _result, _permutation) = saved;
            return y;
        }

        /// <summary>Moves the reduced axes last, copies to [outer, R] rows, reduces each row.</summary>
        internal static Tensor Compute(string name, Tensor x, int[] axes, bool keepDim, out (Tensor, Tensor, int[]) saved)
        {
            var kept = new List<int>();
            for (int i = 0; i < x.Rank; i++) if (Array.IndexOf(axes, i) < 0) kept.Add(i);
            int[] permutation = [.. kept, .. axes];
            int outer = 1, reduced = 1;
            foreach (int a in kept) outer *= x.Shape[a];
            foreach (int a in axes) reduced *= x.Shape[a];
            if (name == "max" && reduced == 0)
                throw new ArgumentException($"max: cannot reduce over an axis of size 0 in {Shapes.Format(x.Shape)}.");
            Tensor rows = PermuteRaw(x, permutation).MaterializeRaw();
            Tensor result = Tensor.Empty([outer], x.DType);
            if (x.DType == DType.Float32) ReduceRows<float>(name, rows.AsSpan<float>(), reduced, result.AsSpan<float>());
            else ReduceRows<double>(name, rows.AsSpan<double>(), reduced, result.AsSpan<double>());
            saved = (rows, result, permutation);
            int[] shape = keepDim
                ? [.. Enumerable.Range(0, x.Rank).Select(i => Array.IndexOf(axes, i) >= 0 ? 1 : x.Shape[i])]
                : [.. kept.Select(i => x.Shape[i])];
            return result.ViewRaw(shape, Shapes.ContiguousStrides(shape), 0);
        }

        private static void ReduceRows<T>(string name, ReadOnlySpan<T> rows, int length, Span<T> result) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            for (int r = 0; r < result.Length; r++)
            {
                ReadOnlySpan<T> row = rows.Slice(r * length, length);
                result[r] = name == "sum" ? TensorPrimitives.Sum(row) : TensorPrimitives.Max(row);
            }
        }

        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor rows = _rows!, result = _result!;
            int outer = result.Length, reduced = outer == 0 ? 0 : rows.Length / Math.Max(outer, 1);
            Tensor dRows = rows.ZerosLike();
            if (rows.DType == DType.Float32) Spread<float>(dy.AsContiguousSpan<float>(), rows.AsSpan<float>(), result.AsSpan<float>(), reduced, dRows.AsSpan<float>());
            else Spread<double>(dy.AsContiguousSpan<double>(), rows.AsSpan<double>(), result.AsSpan<double>(), reduced, dRows.AsSpan<double>());
            // dRows has the permuted shape; undo the permutation
            int[] permutedShape = [.. _permutation!.Select(a => input.Shape[a])];
            int[] inverse = new int[_permutation!.Length];
            for (int i = 0; i < inverse.Length; i++) inverse[_permutation[i]] = i;
            Tensor permuted = dRows.ViewRaw(permutedShape, Shapes.ContiguousStrides(permutedShape), 0);
            return [PermuteRaw(permuted, inverse).MaterializeRaw()];
        }

        private void Spread<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> rows, ReadOnlySpan<T> result, int length, Span<T> dRows) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            for (int r = 0; r < result.Length; r++)
            {
                Span<T> d = dRows.Slice(r * length, length);
                if (name == "sum") { d.Fill(dy[r]); continue; }
                ReadOnlySpan<T> row = rows.Slice(r * length, length);
                int ties = 0;
                foreach (T v in row) if (v == result[r]) ties++;
                T share = dy[r] / T.CreateTruncating(Math.Max(ties, 1));
                for (int j = 0; j < length; j++) d[j] = row[j] == result[r] ? share : T.Zero;
            }
        }

        protected override void ReleaseSaved() => (_rows, _result) = (null, null);
    }
}

public sealed partial class Tensor
{
    /// <summary><see cref="Ops.Sum"/> over the given axes (all when none).</summary>
    public Tensor Sum(params int[] axes) => Ops.Sum(this, axes);
    /// <summary><see cref="Ops.Mean"/> over the given axes (all when none).</summary>
    public Tensor Mean(params int[] axes) => Ops.Mean(this, axes);
}
