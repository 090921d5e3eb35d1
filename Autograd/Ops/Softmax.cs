using System.Numerics;
using System.Numerics.Tensors;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary><c>y = exp(x − max) / Σ exp(x − max)</c> along <paramref name="axis"/> (shifting by the max keeps it finite).</summary>
    /// <remarks>Backward: <c>dx = y ⊙ (dy − Σ(dy ⊙ y))</c>, the sum along the axis.</remarks>
    public static Tensor Softmax(Tensor x, int axis = -1) => AlongLastAxis(x, axis, t => new SoftmaxFunction(log: false).Apply(t));

    /// <summary><c>y = x − max − ln Σ exp(x − max)</c> along <paramref name="axis"/> (log-sum-exp, stable).</summary>
    /// <remarks>Backward: <c>dx = dy − softmax(x) · Σ dy</c>, the sum along the axis.</remarks>
    public static Tensor LogSoftmax(Tensor x, int axis = -1) => AlongLastAxis(x, axis, t => new SoftmaxFunction(log: true).Apply(t));

    /// <summary>Moves <paramref name="axis"/> last (a view), applies <paramref name="f"/> to rows, moves it back.</summary>
    private static Tensor AlongLastAxis(Tensor x, int axis, Func<Tensor, Tensor> f)
    {
        int ax = Shapes.NormalizeAxis(axis, x.Rank, "softmax");
        if (ax == x.Rank - 1) return f(x);
        return Transpose(f(Transpose(x, ax, -1)), ax, -1);
    }

    private sealed class SoftmaxFunction(bool log) : Function
    {
        private Tensor? _y;
        public override string Name => log ? "log_softmax" : "softmax";

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor y = inputs[0].MaterializeRaw();
            int n = y.Rank == 0 ? 1 : y.Shape[^1];
            DTypeDispatch.Run(y.DType, new RowsAction(y, null, n, log, backward: false));
            return _y = y;
        }

        private static void Rows<T>(Span<T> data, int n, bool log) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            for (int start = 0; start + n <= data.Length && n > 0; start += n)
            {
                Span<T> row = data.Slice(start, n);
                T max = TensorPrimitives.Max<T>(row);
                TensorPrimitives.Subtract(row, max, row);
                if (log)
                {
                    T logSum = T.Log(SumExp<T>(row));
                    TensorPrimitives.Subtract(row, logSum, row);
                }
                else
                {
                    TensorPrimitives.Exp(row, row);
                    TensorPrimitives.Divide(row, TensorPrimitives.Sum<T>(row), row);
                }
            }
        }

        private static T SumExp<T>(ReadOnlySpan<T> row) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T sum = T.Zero;
            foreach (T v in row) sum += T.Exp(v);
            return sum;
        }

        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor y = _y!, dx = dy.MaterializeRaw();
            int n = y.Rank == 0 ? 1 : y.Shape[^1];
            DTypeDispatch.Run(y.DType, new RowsAction(y, dx, n, log, backward: true));
            return [dx];
        }

        private static void BackRows<T>(ReadOnlySpan<T> y, Span<T> g, int n, bool log) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            for (int start = 0; start + n <= y.Length && n > 0; start += n)
            {
                ReadOnlySpan<T> yr = y.Slice(start, n);
                Span<T> gr = g.Slice(start, n);
                if (log)
                {
                    T total = TensorPrimitives.Sum<T>(gr);
                    for (int j = 0; j < n; j++) gr[j] -= T.Exp(yr[j]) * total;
                }
                else
                {
                    T dot = TensorPrimitives.Dot(gr, yr);
                    for (int j = 0; j < n; j++) gr[j] = yr[j] * (gr[j] - dot);
                }
            }
        }

        protected override void ReleaseSaved() => _y = null;

        /// <summary>The forward (rows of y in place) or the backward (rows of the gradient g in place, from y), per dtype.</summary>
        private readonly struct RowsAction(Tensor y, Tensor? g, int n, bool log, bool backward) : IDTypeAction
        {
            public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
            {
                if (backward) BackRows<T>(y.AsSpan<T>(), g!.AsSpan<T>(), n, log);
                else Rows<T>(y.AsSpan<T>(), n, log);
            }
        }
    }
}
