using BinaryGrad.Kernels;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>2-D convolution (cross-correlation) over NCHW: x [N,C_in,H,W], weight [C_out,C_in,kH,kW], bias [C_out]
    /// or null → y [N,C_out,H_out,W_out],
    /// <c>y[n,o,p,q] = b[o] + Σ_{c,i,j} w[o,c,i,j]·x[n, c, p·s − pad + i·d, q·s − pad + j·d]</c> (zero outside),
    /// <c>H_out = ⌊(H + 2·pad − d·(kH − 1) − 1)/s⌋ + 1</c>.</summary>
    /// <remarks>Runs on <see cref="Conv2DKernels"/> (im2col + GEMM). Backward: <c>dx</c> = the transposed convolution of
    /// dy by w (col2im of Wᵀ·dY), <c>dw[o,c,i,j] = Σ_{n,p,q} dy[n,o,p,q]·x[n,c,p·s − pad + i·d, q·s − pad + j·d]</c>,
    /// <c>db[o] = Σ_{n,p,q} dy[n,o,p,q]</c>. Stride, padding and dilation apply to both spatial axes.</remarks>
    /// <exception cref="ArgumentException">Ranks, channel counts or bias length disagree (the message gives the shapes),
    /// or the dilated kernel does not fit the padded input.</exception>
    public static Tensor Conv2D(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        if (x.Rank != 4 || weight.Rank != 4)
            throw new ArgumentException($"conv2d: x {Shapes.Format(x.Shape)} must be [N,C_in,H,W] and weight {Shapes.Format(weight.Shape)} [C_out,C_in,kH,kW].");
        if (x.Shape[1] != weight.Shape[1])
            throw new ArgumentException($"conv2d: x {Shapes.Format(x.Shape)} has {x.Shape[1]} channels but weight {Shapes.Format(weight.Shape)} expects {weight.Shape[1]}.");
        CheckSameDType(x, weight, "conv2d");
        if (bias is not null)
        {
            if (bias.Rank != 1 || bias.Shape[0] != weight.Shape[0])
                throw new ArgumentException($"conv2d: bias {Shapes.Format(bias.Shape)} must be [{weight.Shape[0]}] for weight {Shapes.Format(weight.Shape)}.");
            CheckSameDType(x, bias, "conv2d");
        }
        Conv2DGeometry geometry;
        try
        {
            geometry = new Conv2DGeometry(x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], weight.Shape[0], weight.Shape[2], weight.Shape[3],
                stride, stride, padding, padding, dilation, dilation);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentException($"conv2d: x {Shapes.Format(x.Shape)}, weight {Shapes.Format(weight.Shape)}, stride {stride}, padding {padding}, dilation {dilation}: {e.Message}", e);
        }
        var function = new Conv2DFunction(geometry, bias is not null);
        return bias is null ? function.Apply(x, weight) : function.Apply(x, weight, bias);
    }

    private sealed class Conv2DFunction(Conv2DGeometry geometry, bool hasBias) : Function
    {
        private Tensor? _x, _w;
        public override string Name => "conv2d";
        internal override bool DropsGradOutput => true;

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor x = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
            Tensor w = inputs[1].IsContiguous ? inputs[1] : inputs[1].MaterializeRaw();
            (_x, _w) = (x, w);
            // Every image's GEMM writes its output with β = 0 (C write-only), so y needs no clearing pass.
            Tensor y = Tensor.Uninitialized([geometry.Batch, geometry.OutChannels, geometry.OutHeight, geometry.OutWidth], x.DType);
            if (x.DType == DType.Float32)
                Conv2DKernels.Forward(geometry, x.AsSpan<float>(), w.AsSpan<float>(), hasBias ? inputs[2].AsContiguousSpan<float>() : default, y.AsSpan<float>());
            else
                Conv2DKernels.Forward(geometry, x.AsSpan<double>(), w.AsSpan<double>(), hasBias ? inputs[2].AsContiguousSpan<double>() : default, y.AsSpan<double>());
            return y;
        }

        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor x = _x!, w = _w!, g = dy.IsContiguous ? dy : dy.MaterializeRaw();
            Tensor? dx = NeedsGrad(0) ? Tensor.RentGradient(x.Shape, x.DType, clear: true) : null; // the kernels add into dx and dw
            bool weightNeeded = NeedsGrad(1), biasNeeded = hasBias && NeedsGrad(2);
            // The kernel computes the weight and bias gradients in one pass; a gradient nobody needs goes to scratch.
            Tensor? dw = weightNeeded || biasNeeded ? Tensor.RentGradient(w.Shape, w.DType, clear: true) : null;
            Tensor? db = biasNeeded ? Tensor.Empty([geometry.OutChannels], x.DType) : null;
            if (x.DType == DType.Float32)
            {
                if (dx is not null) Conv2DKernels.BackwardInput(geometry, g.AsSpan<float>(), w.AsSpan<float>(), dx.AsSpan<float>());
                if (dw is not null) Conv2DKernels.BackwardWeight(geometry, x.AsSpan<float>(), g.AsSpan<float>(), dw.AsSpan<float>(), db is null ? default : db.AsSpan<float>());
            }
            else
            {
                if (dx is not null) Conv2DKernels.BackwardInput(geometry, g.AsSpan<double>(), w.AsSpan<double>(), dx.AsSpan<double>());
                if (dw is not null) Conv2DKernels.BackwardWeight(geometry, x.AsSpan<double>(), g.AsSpan<double>(), dw.AsSpan<double>(), db is null ? default : db.AsSpan<double>());
            }
            return hasBias ? [dx, weightNeeded ? dw : null, db] : [dx, weightNeeded ? dw : null];
        }

        protected override void ReleaseSaved() => (_x, _w) = (null, null);
    }
}
