using System.Numerics;

namespace BinaryGrad.Binarization;

/// <summary>A scheme that is one scalar map per element: the forward y_i = q(x_i) and the backward dx_i = dy_i·q'(x_i)
/// (q' the exact derivative, or the declared surrogate of a straight-through scheme), nothing per tensor, no parameters.
/// Subclasses write only <see cref="Quantizer.Forward(double)"/> and <see cref="Quantizer.Derivative(double)"/>.</summary>
/// <remarks>
/// <para>The span contract of <see cref="Quantizer"/> is implemented here from the scalar pair: each value is computed
/// in float64 and rounded once to the element type (<c>(float)q(x_i)</c>, <c>(float)(dy_i·q'(x_i))</c>), so float32
/// and float64 inputs give the same formula without float64 copies of the tensor. Built-in schemes with a vectorized
/// float32 kernel (<see cref="SteSign"/>, <see cref="ApproxSign"/>, …) override the span methods to call it and fall
/// back to these loops for other element types.</para>
/// <para>A scheme with per-tensor state (a scale, a mean), parameters or a custom whole-tensor rule derives from
/// <see cref="Quantizer"/> directly; user-defined elementwise estimators are easiest as a <see cref="FunctionQuantizer"/>.</para>
/// </remarks>
public abstract class ElementwiseQuantizer : Quantizer
{
    /// <summary>y_i = <see cref="Quantizer.Forward(double)"/>(x_i), rounded once to T.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        ScalarForward(x, y);
        return null;
    }

    /// <summary>dx_i = dy_i · <see cref="Quantizer.Derivative(double)"/>(x_i), rounded once to T.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx) =>
        ScalarBackward(x, dy, dx);

    /// <summary>The elementwise forward loop (also the fallback of subclasses whose kernel does not cover T).</summary>
    private protected void ScalarForward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(Forward(Num.D(x[i])));
    }

    /// <summary>The elementwise backward loop (also the fallback of subclasses whose kernel does not cover T).</summary>
    private protected void ScalarBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) dx[i] = Num.R<T>(Num.D(dy[i]) * Derivative(Num.D(x[i])));
    }
}
