namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>A contiguous copy of <paramref name="x"/>. Backward: <c>dx = dy</c>.</summary>
    public static Tensor Copy(Tensor x) => new CopyFunction().Apply(x);

    /// <summary>Views <paramref name="x"/> with a new shape of the same element count; one dimension may be −1
    /// (inferred). No copy when <paramref name="x"/> is contiguous. Backward: <c>dx = reshape(dy, x.shape)</c>.</summary>
    /// <exception cref="ArgumentException">The element counts differ, or more than one −1.</exception>
    public static Tensor Reshape(Tensor x, ReadOnlySpan<int> shape)
    {
        int[] target = shape.ToArray();
        int inferred = -1, known = 1;
        for (int i = 0; i < target.Length; i++)
        {
            if (target[i] == -1)
            {
                if (inferred >= 0) throw new ArgumentException($"reshape: {Shapes.Format(shape)} has more than one -1.");
                inferred = i;
            }
            else known *= target[i];
        }
        if (inferred >= 0)
        {
            if (known == 0 || x.Length % known != 0)
                throw new ArgumentException($"reshape: cannot reshape {Shapes.Format(x.Shape)} ({x.Length} elements) to {Shapes.Format(shape)}.");
            target[inferred] = x.Length / known;
        }
        if (Shapes.ElementCount(target) != x.Length)
            throw new ArgumentException($"reshape: cannot reshape {Shapes.Format(x.Shape)} ({x.Length} elements) to {Shapes.Format(shape)} ({Shapes.ElementCount(target)} elements).");
        if (Shapes.Equal(target, x.Shape)) return x;
        return new ViewFunction("reshape", x.ShapeArray, t => ReshapeRaw(t, target), dy => ReshapeRaw(dy, x.ShapeArray)).Apply(x);
    }

    private static Tensor ReshapeRaw(Tensor t, int[] shape)
    {
        Tensor c = t.IsContiguous ? t : t.MaterializeRaw();
        return c.ViewRaw(shape, Shapes.ContiguousStrides(shape), c.Offset);
    }

    /// <summary>Reorders the axes: output axis i is input axis <paramref name="axes"/>[i]. A view (no copy).</summary>
    /// <remarks>Backward: <c>dx = permute(dy, inverse)</c>.</remarks>
    /// <exception cref="ArgumentException"><paramref name="axes"/> is not a permutation of 0..rank−1.</exception>
    public static Tensor Permute(Tensor x, ReadOnlySpan<int> axes)
    {
        if (axes.Length != x.Rank)
            throw new ArgumentException($"permute: {Shapes.Format(axes)} does not name each of the {x.Rank} axes of {Shapes.Format(x.Shape)} once.");
        int[] order = new int[axes.Length], inverse = new int[axes.Length];
        Array.Fill(inverse, -1);
        for (int i = 0; i < axes.Length; i++)
        {
            order[i] = Shapes.NormalizeAxis(axes[i], x.Rank, "permute");
            if (inverse[order[i]] >= 0) throw new ArgumentException($"permute: axis {axes[i]} appears twice in {Shapes.Format(axes)}.");
            inverse[order[i]] = i;
        }
        return new ViewFunction("permute", x.ShapeArray, t => PermuteRaw(t, order), dy => PermuteRaw(dy, inverse)).Apply(x);
    }

    private static Tensor PermuteRaw(Tensor t, int[] order)
    {
        int[] shape = new int[order.Length], strides = new int[order.Length];
        for (int i = 0; i < order.Length; i++) (shape[i], strides[i]) = (t.Shape[order[i]], t.Strides[order[i]]);
        return t.ViewRaw(shape, strides, t.Offset);
    }

    /// <summary>Swaps two axes (a view). Backward: swaps them back.</summary>
    public static Tensor Transpose(Tensor x, int axis0 = -2, int axis1 = -1)
    {
        int[] order = new int[x.Rank];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        int a = Shapes.NormalizeAxis(axis0, x.Rank, "transpose"), b = Shapes.NormalizeAxis(axis1, x.Rank, "transpose");
        (order[a], order[b]) = (order[b], order[a]);
        return Permute(x, order);
    }

    /// <summary>Elements <c>start, start+step, …</c> (<paramref name="length"/> of them) along <paramref name="axis"/>; a view.</summary>
    /// <remarks>Backward: <c>dx</c> is zero except the selected positions, which receive <c>dy</c>.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">The range leaves the axis.</exception>
    public static Tensor Slice(Tensor x, int axis, int start, int length, int step = 1)
    {
        int ax = Shapes.NormalizeAxis(axis, x.Rank, "slice");
        int dim = x.Shape[ax];
        if (step < 1 || start < 0 || length < 0 || (length > 0 && start + (long)(length - 1) * step >= dim))
            throw new ArgumentOutOfRangeException(nameof(start),
                $"slice: start {start}, length {length}, step {step} does not fit axis {axis} of size {dim} in {Shapes.Format(x.Shape)}.");
        int[] shape = x.ShapeArray.ToArray();
        shape[ax] = length;
        int[] inputShape = x.ShapeArray;
        return new ViewFunction("slice", inputShape, t => SliceRaw(t, ax, start, length, step), dy =>
        {
            Tensor dx = Tensor.Empty(inputShape, dy.DType);
            Strided.ScatterInto(SliceRaw(dx, ax, start, length, step), dy);
            return dx;
        }).Apply(x);
    }

    private static Tensor SliceRaw(Tensor t, int axis, int start, int length, int step)
    {
        int[] shape = t.ShapeArray.ToArray(), strides = t.Strides.ToArray();
        shape[axis] = length;
        strides[axis] *= step;
        return t.ViewRaw(shape, strides, t.Offset + start * t.Strides[axis]);
    }

    /// <summary>Broadcasts <paramref name="x"/> to <paramref name="shape"/> (NumPy rules) as a view with zero strides.</summary>
    /// <remarks>Backward: <c>dx = dy</c> summed over the broadcast axes (leading new axes and axes of size 1).</remarks>
    /// <exception cref="ArgumentException">The shape is not a broadcast of x's shape.</exception>
    public static Tensor Expand(Tensor x, ReadOnlySpan<int> shape)
    {
        int[] target = shape.ToArray();
        if (Shapes.Equal(target, x.Shape)) return x;
        int extra = target.Length - x.Rank;
        int[] strides = new int[target.Length];
        for (int i = 0; i < target.Length; i++)
        {
            int source = i - extra;
            int dim = source < 0 ? 1 : x.Shape[source];
            if (extra < 0 || (dim != target[i] && dim != 1))
                throw new ArgumentException($"expand: shape {Shapes.Format(x.Shape)} cannot be broadcast to {Shapes.Format(shape)}.");
            strides[i] = source < 0 || dim == 1 ? 0 : x.Strides[source];
        }
        int[] inputShape = x.ShapeArray;
        return new ViewFunction("expand", inputShape, t => t.ViewRaw(target, strides, t.Offset), dy => SumToShape(dy, inputShape)).Apply(x);
    }

    /// <summary>Sums <paramref name="grad"/> over the axes along which a tensor of <paramref name="shape"/> was
    /// broadcast to produce it (outside the graph).</summary>
    internal static Tensor SumToShape(Tensor grad, int[] shape)
    {
        int extra = grad.Rank - shape.Length;
        var axes = new List<int>();
        for (int i = 0; i < grad.Rank; i++)
            if (i < extra || (shape[i - extra] == 1 && grad.Shape[i] != 1)) axes.Add(i);
        Tensor summed = axes.Count == 0 ? grad : SumRaw(grad, [.. axes]);
        return ReshapeRaw(summed, shape);
    }

    /// <summary>Inserts an axis of size 1 at <paramref name="axis"/>. Backward: removes it.</summary>
    public static Tensor Unsqueeze(Tensor x, int axis)
    {
        int ax = axis < 0 ? axis + x.Rank + 1 : axis;
        if (ax < 0 || ax > x.Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"unsqueeze: axis {axis} is out of range for rank {x.Rank}.");
        var shape = x.ShapeArray.ToList();
        shape.Insert(ax, 1);
        return Reshape(x, [.. shape]);
    }

    /// <summary>Removes axis <paramref name="axis"/>, which must have size 1. Backward: reinserts it.</summary>
    public static Tensor Squeeze(Tensor x, int axis)
    {
        int ax = Shapes.NormalizeAxis(axis, x.Rank, "squeeze");
        if (x.Shape[ax] != 1) throw new ArgumentException($"squeeze: axis {axis} of {Shapes.Format(x.Shape)} has size {x.Shape[ax]}, not 1.");
        var shape = x.ShapeArray.ToList();
        shape.RemoveAt(ax);
        return Reshape(x, [.. shape]);
    }

    /// <summary>Flattens all axes from <paramref name="startAxis"/> on into one.</summary>
    public static Tensor Flatten(Tensor x, int startAxis = 1)
    {
        int start = Shapes.NormalizeAxis(startAxis, x.Rank, "flatten");
        int[] shape = new int[start + 1];
        for (int i = 0; i < start; i++) shape[i] = x.Shape[i];
        shape[start] = -1;
        return x.Length == 0 ? x : Reshape(x, shape);
    }

    /// <summary>A view op: forward re-describes storage, backward maps dy back to the input's shape.</summary>
    private sealed class ViewFunction(string name, int[] inputShape, Func<Tensor, Tensor> view, Func<Tensor, Tensor> back) : Function
    {
        public override string Name => name;
        protected override Tensor Forward(Tensor[] inputs) => view(inputs[0]);
        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor dx = back(dy);
            return [Shapes.Equal(dx.Shape, inputShape) ? dx : ReshapeRaw(dx, inputShape)];
        }
    }

    private sealed class CopyFunction : Function
    {
        public override string Name => "copy";
        protected override Tensor Forward(Tensor[] inputs) => inputs[0].MaterializeRaw();
        protected internal override Tensor?[] Backward(Tensor dy) => [dy];
    }
}

public sealed partial class Tensor
{
    /// <summary><see cref="Ops.Reshape"/>.</summary>
    public Tensor Reshape(params int[] shape) => Ops.Reshape(this, shape);
    /// <summary><see cref="Ops.Permute"/>.</summary>
    public Tensor Permute(params int[] axes) => Ops.Permute(this, axes);
    /// <summary><see cref="Ops.Transpose"/>.</summary>
    public Tensor Transpose(int axis0 = -2, int axis1 = -1) => Ops.Transpose(this, axis0, axis1);
    /// <summary><see cref="Ops.Slice"/>.</summary>
    public Tensor Slice(int axis, int start, int length, int step = 1) => Ops.Slice(this, axis, start, length, step);
    /// <summary><see cref="Ops.Expand"/>.</summary>
    public Tensor Expand(params int[] shape) => Ops.Expand(this, shape);
}
