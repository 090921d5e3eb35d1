using BinaryGrad.Kernels.Sign;

namespace BinaryGrad.Binarization;

/// <summary>Sign with the (clipped) straight-through estimator: BNN's <c>BinaryTanh</c> activation and Larq
/// <c>SteSign</c>.</summary>
/// <remarks>
/// Forward: y = sign(x) (sign(0) = +1 by default). Backward: dx = dy · 1[|x| ≤ c] with c = <see cref="ClipValue"/>
/// (inclusive mask; c = +∞ gives the un-clipped identity STE). Why the mask: BNN's forward is
/// 2·round(hard_sigmoid(x)) − 1 and round is given an identity gradient, so what remains is the derivative of hardtanh;
/// it also stops pushing activations whose sign can no longer change.
/// Provenance: verified-code (MatthieuCourbariaux/BinaryNet binary_net.py; larq SteSign). Paper: Hubara et al. 2016, arXiv:1602.02830. See docs/schemes/straight-through.md.
/// </remarks>
public sealed class SteSign(double clipValue = 1.0, SignZero zero = SignZero.PlusOne) : ElementwiseQuantizer
{
    /// <summary>The mask bound c (+∞ = no mask).</summary>
    public double ClipValue { get; } = clipValue > 0 ? clipValue : throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "SteSign: the clip value must be > 0 (use +∞ for no mask).");

    /// <summary>What sign(0) returns.</summary>
    public SignZero Zero { get; } = zero;

    /// <inheritdoc/>
    public override string Name => "ste_sign";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Both;
    /// <inheritdoc/>
    public override bool IsHardSign => Zero == SignZero.PlusOne;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    /// <summary>sign(x).</summary>
    public override double Forward(double x) => BinaryMath.Sign(x, Zero);

    /// <summary>1[|x| ≤ c].</summary>
    public override double Derivative(double x) => BinaryMath.InsideClip(x, ClipValue);

    /// <summary>Float32: the vector sign kernel; other types the scalar pair.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        if (!SignSpans.Sign(x, y, 1, Zero == SignZero.PlusOne ? 1 : 0)) ScalarForward(x, y);
        return null;
    }

    /// <summary>Float32: the vector mask kernel; other types the scalar pair.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        if (!SignSpans.MaskTimes(x, dy, dx, ClipValue)) ScalarBackward(x, dy, dx);
    }
}
