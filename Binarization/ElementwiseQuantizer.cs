namespace BinaryGrad.Binarization;

/// <summary>A scheme that is one scalar map per element: the forward y_i = q(x_i) and the backward dx_i = dy_i·q'(x_i)
/// (q' the exact derivative, or the declared surrogate of a straight-through scheme), nothing per tensor, no parameters.
/// Subclasses write only <see cref="Quantizer.Forward(double)"/> and <see cref="Quantizer.Derivative(double)"/>.</summary>
/// <remarks>
/// <para>Why a separate base: the whole-tensor methods are sealed here, so the graph node knows — without reflection —
/// that the scalar pair is the whole scheme, and may run it directly on float32 storage (<c>(float)q(x_i)</c> and
/// <c>(float)(dy_i·q'(x_i))</c>, each computed in float64 and rounded once: bit for bit the float64 path followed by
/// the rounding to float32, without the float64 copies of the tensor). Schemes with a vectorized float32 kernel
/// (<see cref="SteSign"/>, <see cref="ApproxSign"/>, …) take that kernel instead, with the same results.</para>
/// <para>A scheme with per-tensor state (a scale, a mean), parameters or a custom whole-tensor rule derives from
/// <see cref="Quantizer"/> directly; user-defined elementwise estimators are easiest as a <see cref="FunctionQuantizer"/>.</para>
/// </remarks>
public abstract class ElementwiseQuantizer : Quantizer
{
    private protected sealed override bool IsScalarElementwise => true;

    /// <summary>y_i = <see cref="Quantizer.Forward(double)"/>(x_i).</summary>
    protected sealed override double[] ForwardValues(QuantizerCall call) => base.ForwardValues(call);

    /// <summary>dx_i = dy_i · <see cref="Quantizer.Derivative(double)"/>(x_i).</summary>
    protected sealed override double[] BackwardValues(QuantizerCall call, double[] dy, double[][] parameterGrads) =>
        base.BackwardValues(call, dy, parameterGrads);
}
