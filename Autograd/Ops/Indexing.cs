using System.Numerics;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>Picks whole slices along <paramref name="axis"/>: <c>y[…, j, …] = x[…, indices[j], …]</c>. Indices may repeat.</summary>
    /// <remarks>Backward: scatter-add, <c>dx[…, indices[j], …] += dy[…, j, …]</c> (repeated indices accumulate).</remarks>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside the axis.</exception>
    public static Tensor IndexSelect(Tensor x, int axis, ReadOnlySpan<int> indices)
    {
        int ax = Shapes.NormalizeAxis(axis, x.Rank, "index_select");
        int[] idx = indices.ToArray();
        foreach (int i in idx)
            if ((uint)i >= (uint)x.Shape[ax])
                throw new ArgumentOutOfRangeException(nameof(indices), $"index_select: index {i} is out of range for axis {axis} of size {x.Shape[ax]} in {Shapes.Format(x.Shape)}.");
        return new IndexSelectFunction(ax, idx).Apply(x);
    }

    /// <summary>Element-wise gather along <paramref name="axis"/> (PyTorch <c>gather</c>): the index tensor has x's rank,
    /// and <c>y[i₀…, j, …] = x[i₀…, index[i₀…, j, …], …]</c>; y has the index's shape.</summary>
    /// <remarks>Backward: scatter-add of dy into the gathered positions.</remarks>
    /// <exception cref="ArgumentException">Rank or shape mismatch, or an index out of range.</exception>
    public static Tensor Gather(Tensor x, int axis, int[] index, ReadOnlySpan<int> indexShape)
    {
        int ax = Shapes.NormalizeAxis(axis, x.Rank, "gather");
        if (indexShape.Length != x.Rank || Shapes.ElementCount(indexShape) != index.Length)
            throw new ArgumentException($"gather: index of shape {Shapes.Format(indexShape)} ({index.Length} values) does not match input {Shapes.Format(x.Shape)} of rank {x.Rank}.");
        for (int d = 0; d < x.Rank; d++)
            if (d != ax && indexShape[d] > x.Shape[d])
                throw new ArgumentException($"gather: index shape {Shapes.Format(indexShape)} exceeds input {Shapes.Format(x.Shape)} along axis {d}.");
        foreach (int i in index)
            if ((uint)i >= (uint)x.Shape[ax])
                throw new ArgumentOutOfRangeException(nameof(index), $"gather: index {i} is out of range for axis {axis} of size {x.Shape[ax]}.");
        return new GatherFunction(ax, index, indexShape.ToArray()).Apply(x);
    }

    /// <summary>Joins tensors along <paramref name="axis"/>; all other dimensions must match.</summary>
    /// <remarks>Backward: each input receives its slice of dy.</remarks>
    public static Tensor Concat(IReadOnlyList<Tensor> tensors, int axis = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("concat: needs at least one tensor.");
        Tensor first = tensors[0];
        int ax = Shapes.NormalizeAxis(axis, first.Rank, "concat");
        foreach (Tensor t in tensors)
        {
            CheckSameDType(first, t, "concat");
            bool ok = t.Rank == first.Rank;
            for (int d = 0; ok && d < t.Rank; d++) ok = d == ax || t.Shape[d] == first.Shape[d];
            if (!ok) throw new ArgumentException($"concat: shapes {Shapes.Format(first.Shape)} and {Shapes.Format(t.Shape)} differ outside axis {axis}.");
        }
        return new ConcatFunction(ax).Apply([.. tensors]);
    }

    /// <summary>Stacks same-shaped tensors along a new axis. Backward: each input receives its slice of dy.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int axis = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("stack: needs at least one tensor.");
        foreach (Tensor t in tensors)
            if (!Shapes.Equal(t.Shape, tensors[0].Shape))
                throw new ArgumentException($"stack: shapes {Shapes.Format(tensors[0].Shape)} and {Shapes.Format(t.Shape)} differ.");
        return Concat([.. tensors.Select(t => Unsqueeze(t, axis))], axis);
    }

    /// <summary>Pads with <paramref name="value"/>: <paramref name="padding"/> holds (before, after) pairs, one per
    /// axis from the first (shorter lists pad the leading axes only; use 0 to leave an axis alone).</summary>
    /// <remarks>Backward: <c>dx</c> is the interior slice of dy (padding positions get no gradient).</remarks>
    public static Tensor Pad(Tensor x, ReadOnlySpan<int> padding, double value = 0)
    {
        if (padding.Length % 2 != 0 || padding.Length / 2 > x.Rank)
            throw new ArgumentException($"pad: {padding.Length} padding values for {Shapes.Format(x.Shape)}; give a (before, after) pair for up to {x.Rank} axes.");
        int[] before = new int[x.Rank], shape = x.ShapeArray.ToArray();
        for (int d = 0; d < padding.Length / 2; d++)
        {
            if (padding[2 * d] < 0 || padding[2 * d + 1] < 0) throw new ArgumentException($"pad: negative padding {Shapes.Format(padding)}.");
            before[d] = padding[2 * d];
            shape[d] += padding[2 * d] + padding[2 * d + 1];
        }
        return new PadFunction(before, shape, value).Apply(x);
    }

    /// <summary>The view of <paramref name="t"/> at <paramref name="starts"/> with <paramref name="shape"/>.</summary>
    private static Tensor Window(Tensor t, int[] starts, int[] shape)
    {
        int offset = t.Offset;
        for (int d = 0; d < starts.Length; d++) offset += starts[d] * t.Strides[d];
        return t.ViewRaw(shape, t.Strides.ToArray(), offset);
    }

    private sealed class PadFunction(int[] before, int[] shape, double value) : Function
    {
        private int[] _inputShape = [];
        public override string Name => "pad";
        protected override Tensor Forward(Tensor[] inputs)
        {
            _inputShape = inputs[0].ShapeArray;
            Tensor y = Tensor.Full(shape, value, inputs[0].DType);
            Strided.ScatterInto(Window(y, before, _inputShape), inputs[0]);
            return y;
        }
        protected internal override Tensor?[] Backward(Tensor dy) => [Window(dy.IsContiguous ? dy : dy.MaterializeRaw(), before, _inputShape).MaterializeRaw()];
    }

    private sealed class ConcatFunction(int axis) : Function
    {
        private int _rank;
        public override string Name => "concat";
        protected override Tensor Forward(Tensor[] inputs)
        {
            _rank = inputs[0].Rank;
            int[] shape = inputs[0].ShapeArray.ToArray();
            shape[axis] = inputs.Sum(t => t.Shape[axis]);
            Tensor y = Tensor.Empty(shape, inputs[0].DType);
            int start = 0;
            foreach (Tensor t in inputs)
            {
                Strided.ScatterInto(Window(y, Starts(start), t.ShapeArray), t);
                start += t.Shape[axis];
            }
            return y;
        }
        protected internal override Tensor?[] Backward(Tensor dy)
        {
            var grads = new Tensor?[Inputs.Count];
            int start = 0;
            for (int i = 0; i < Inputs.Count; i++)
            {
                if (NeedsGrad(i)) grads[i] = Window(dy, Starts(start), Inputs[i].ShapeArray).MaterializeRaw();
                start += Inputs[i].Shape[axis];
            }
            return grads;
        }
        private int[] Starts(int start)
        {
            int[] starts = new int[_rank];
            starts[axis] = start;
            return starts;
        }
    }

    private sealed class IndexSelectFunction(int axis, int[] indices) : Function
    {
        public override string Name => "index_select";
        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor x = inputs[0];
            int[] shape = x.ShapeArray.ToArray();
            shape[axis] = indices.Length;
            Tensor y = Tensor.Empty(shape, x.DType);
            for (int j = 0; j < indices.Length; j++)
                Strided.ScatterInto(SliceRaw(y, axis, j, 1, 1), SliceRaw(x, axis, indices[j], 1, 1));
            return y;
        }
        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor dx = Tensor.Empty(Inputs[0].ShapeArray, dy.DType);
            for (int j = 0; j < indices.Length; j++)
                Strided.ScatterInto(SliceRaw(dx, axis, indices[j], 1, 1), SliceRaw(dy, axis, j, 1, 1), accumulate: true);
            return [dx];
        }
    }

    private sealed class GatherFunction(int axis, int[] index, int[] indexShape) : Function
    {
        public override string Name => "gather";
        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor x = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
            Tensor y = Tensor.Empty(indexShape, x.DType);
            if (x.DType == DType.Float32) Walk<float>(x.AsSpan<float>(), x.ShapeArray, y.AsSpan<float>(), scatter: false);
            else Walk<double>(x.AsSpan<double>(), x.ShapeArray, y.AsSpan<double>(), scatter: false);
            return y;
        }
        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor dx = Tensor.Empty(Inputs[0].ShapeArray, dy.DType), g = dy.IsContiguous ? dy : dy.MaterializeRaw();
            if (dx.DType == DType.Float32) Walk<float>(dx.AsSpan<float>(), dx.ShapeArray, g.AsSpan<float>(), scatter: true);
            else Walk<double>(dx.AsSpan<double>(), dx.ShapeArray, g.AsSpan<double>(), scatter: true);
            return [dx];
        }
        /// <summary>For each index position p: gather y[p] = x[at(p)], or scatter x[at(p)] += y[p].</summary>
        private void Walk<T>(Span<T> x, int[] xShape, Span<T> y, bool scatter) where T : unmanaged, INumberBase<T>
        {
            int[] xStrides = Shapes.ContiguousStrides(xShape);
            int rank = indexShape.Length;
            Span<int> counter = stackalloc int[rank];
            counter.Clear();
            for (int p = 0; p < index.Length; p++)
            {
                int at = 0;
                for (int d = 0; d < rank; d++) at += (d == axis ? index[p] : counter[d]) * xStrides[d];
                if (scatter) x[at] += y[p]; else y[p] = x[at];
                for (int d = rank - 1; d >= 0; d--)
                {
                    if (++counter[d] < indexShape[d]) break;
                    counter[d] = 0;
                }
            }
        }
    }
}
