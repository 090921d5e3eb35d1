using System.Numerics;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>Parametric ReLU (He et al. 2015): <c>y = x</c> for x &gt; 0, <c>y = a_c·x</c> otherwise, with one learned
    /// slope per channel (axis 1; weight [C]) or one shared slope (weight [1]).</summary>
    /// <remarks>Backward: <c>dx = dy</c> where x &gt; 0, <c>a_c·dy</c> elsewhere; <c>da_c = Σ_{x ≤ 0} dy·x</c> over the
    /// channel's elements.</remarks>
    /// <exception cref="ArgumentException">The weight is neither [1] nor [C] for x's axis 1, or types differ.</exception>
    public static Tensor PRelu(Tensor x, Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        int channels = x.Rank >= 2 ? x.Shape[1] : 1;
        if (weight.Rank != 1 || (weight.Shape[0] != 1 && weight.Shape[0] != channels))
            throw new ArgumentException($"prelu: weight {Shapes.Format(weight.Shape)} must be [1] or [{channels}] for x {Shapes.Format(x.Shape)}.");
        CheckSameDType(x, weight, "prelu");
        return new PReluFunction().Apply(x, weight);
    }

    private sealed class PReluFunction : Function
    {
        private Tensor? _x, _w;
        public override string Name => "prelu";

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor x = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
            Tensor w = inputs[1].IsContiguous ? inputs[1] : inputs[1].MaterializeRaw();
            (_x, _w) = (x, w);
            Tensor y = x.ZerosLike();
            if (x.DType == DType.Float32) Run<float>(x, w, x.AsSpan<float>(), y.AsSpan<float>(), null, null);
            else Run<double>(x, w, x.AsSpan<double>(), y.AsSpan<double>(), null, null);
            return y;
        }

        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor x = _x!, w = _w!;
            Tensor dx = x.ZerosLike(), dw = w.ZerosLike();
            if (x.DType == DType.Float32) Run<float>(x, w, dy.AsContiguousSpan<float>(), dx.AsSpan<float>(), dw, x);
            else Run<double>(x, w, dy.AsContiguousSpan<double>(), dx.AsSpan<double>(), dw, x);
            return [NeedsGrad(0) ? dx : null, NeedsGrad(1) ? dw : null];
        }

        /// <summary>output = source where x &gt; 0, a_c·source elsewhere (forward: source = x; backward: source = dy, and
        /// the slope gradient Σ dy·x over x ≤ 0 goes into <paramref name="dw"/>).</summary>
        private static void Run<T>(Tensor x, Tensor w, ReadOnlySpan<T> source, Span<T> output, Tensor? dw, Tensor? savedX)
            where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            ReadOnlySpan<T> xs = x.AsSpan<T>(), slopes = w.AsSpan<T>();
            Span<T> dSlopes = dw is null ? default : dw.AsSpan<T>();
            int n = x.Rank >= 2 ? x.Shape[0] : 1, c = x.Rank >= 2 ? x.Shape[1] : 1, plane = x.Length / Math.Max(n * c, 1);
            bool shared = slopes.Length == 1;
            for (int i = 0; i < n; i++)
                for (int ch = 0; ch < c; ch++)
                {
                    int slot = shared ? 0 : ch, at = (i * c + ch) * plane;
                    T a = slopes[slot], slopeGrad = T.Zero;
                    for (int j = at; j < at + plane; j++)
                    {
                        if (xs[j] > T.Zero) output[j] = source[j];
                        else
                        {
                            output[j] = a * source[j];
                            if (savedX is not null) slopeGrad += source[j] * xs[j];
                        }
                    }
                    if (dw is not null) dSlopes[slot] += slopeGrad;
                }
        }

        protected override void ReleaseSaved() => (_x, _w) = (null, null);
    }
}
