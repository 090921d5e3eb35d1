using System.Numerics;
using BinaryGrad.Kernels;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>He et al.'s option-A shortcut as one op: every <paramref name="stride"/>-th row and column of x
    /// [N,C,H,W], with <paramref name="before"/> zero channels in front and <paramref name="after"/> behind:
    /// <c>y[n, before + c, i, j] = x[n, c, s·i, s·j]</c>, zero in the added channels; y is
    /// [N, before + C + after, ⌈H/s⌉, ⌈W/s⌉].</summary>
    /// <remarks>
    /// <para>Equal to <c>Pad(Slice(Slice(x, 2, 0, ⌈H/s⌉, s), 3, 0, ⌈W/s⌉, s), [0, 0, before, after])</c>, the
    /// reference code's <c>F.pad(x[:, :, ::s, ::s], …)</c>, value for value. Why one op: the composite's backward
    /// scattered twice into zeroed full-size tensors and its forward copied the padded result; here the forward
    /// writes y once and the backward writes dx once.</para>
    /// <para>Backward: <c>dx[n, c, h, w] = dy[n, before + c, h/s, w/s]</c> where s divides h and w, else 0.</para>
    /// </remarks>
    /// <exception cref="ArgumentException">x is not [N,C,H,W], or the stride or a padding is out of range.</exception>
    public static Tensor SubsamplePad(Tensor x, int stride, int before, int after)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 4)
            throw new ArgumentException($"subsample_pad: x {Shapes.Format(x.Shape)} must be [N,C,H,W].");
        if (stride < 1 || before < 0 || after < 0)
            throw new ArgumentException($"subsample_pad: stride {stride} must be ≥ 1 and the channel paddings ({before}, {after}) ≥ 0.");
        return new SubsamplePadFunction(stride, before, after).Apply(x);
    }

    private sealed class SubsamplePadFunction(int stride, int before, int after) : Function
    {
        private int[] _inputShape = [];
        public override string Name => "subsample_pad";
        internal override bool DropsGradOutput => true;

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor x = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
            _inputShape = x.ShapeArray.ToArray();
            int n = _inputShape[0], c = _inputShape[1], h = _inputShape[2], w = _inputShape[3];
            int outChannels = before + c + after, oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride;
            Tensor y = Tensor.Uninitialized([n, outChannels, oh, ow], x.DType);
            if (x.DType == DType.Float32) Subsample<float>(x, y); else Subsample<double>(x, y);
            return y;
        }

        /// <summary>y's planes, one output plane per range step: a zero plane or the subsampled input plane.</summary>
        private void Subsample<T>(Tensor x, Tensor y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            int c = _inputShape[1], h = _inputShape[2], w = _inputShape[3], outChannels = y.Shape[1], oh = y.Shape[2], ow = y.Shape[3];
            int s = stride, first = before;
            KernelThreads.For(y.Shape[0] * outChannels, Math.Max(1, (1 << 14) / Math.Max(1, oh * ow)), (start, end) =>
            {
                ReadOnlySpan<T> xs = x.AsSpan<T>();
                Span<T> ys = y.AsSpan<T>();
                for (int p = start; p < end; p++)
                {
                    Span<T> plane = ys.Slice(p * oh * ow, oh * ow);
                    int image = p / outChannels, channel = p % outChannels - first;
                    if (channel < 0 || channel >= c)
                    {
                        plane.Clear();
                        continue;
                    }
                    ReadOnlySpan<T> source = xs.Slice((image * c + channel) * h * w, h * w);
                    for (int i = 0; i < oh; i++)
                    {
                        ReadOnlySpan<T> row = source.Slice(s * i * w, w);
                        Span<T> target = plane.Slice(i * ow, ow);
                        for (int j = 0; j < ow; j++) target[j] = row[s * j];
                    }
                }
            });
        }

        protected internal override Tensor?[] Backward(Tensor gradOutput)
        {
            Tensor g = gradOutput.IsContiguous ? gradOutput : gradOutput.MaterializeRaw();
            Tensor dx = RentGradient(_inputShape, g.DType); // every element written below
            if (g.DType == DType.Float32) Scatter<float>(g, dx); else Scatter<double>(g, dx);
            return [dx];
        }

        /// <summary>dx's planes: the sampled positions from dy's interior channel, zero elsewhere, each row written once.</summary>
        private void Scatter<T>(Tensor dy, Tensor dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            int n = _inputShape[0], c = _inputShape[1], h = _inputShape[2], w = _inputShape[3];
            int outChannels = dy.Shape[1], oh = dy.Shape[2], ow = dy.Shape[3], s = stride, first = before;
            KernelThreads.For(n * c, Math.Max(1, (1 << 14) / Math.Max(1, h * w)), (start, end) =>
            {
                ReadOnlySpan<T> gs = dy.AsSpan<T>();
                Span<T> ds = dx.AsSpan<T>();
                for (int p = start; p < end; p++)
                {
                    int image = p / c, channel = p % c;
                    ReadOnlySpan<T> source = gs.Slice((image * outChannels + first + channel) * oh * ow, oh * ow);
                    Span<T> plane = ds.Slice(p * h * w, h * w);
                    for (int r = 0; r < h; r++)
                    {
                        Span<T> row = plane.Slice(r * w, w);
                        if (r % s != 0)
                        {
                            row.Clear();
                            continue;
                        }
                        ReadOnlySpan<T> values = source.Slice(r / s * ow, ow);
                        if (s > 1) row.Clear();
                        for (int j = 0; j < ow; j++) row[s * j] = values[j];
                    }
                }
            });
        }
    }
}
