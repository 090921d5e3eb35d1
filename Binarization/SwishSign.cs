using BinaryGrad.Kernels.Sign;

namespace BinaryGrad.Binarization;

/// <summary>SwishSign / SignSwish (BNN+, Darabi et al. 2018; Larq <c>SwishSign</c>).</summary>
/// <remarks>
/// Forward: y = sign(x). Backward: dx = dy · SS'_β(x) with SS_β(x) = 2σ(βx)[1 + βx(1 − σ(βx))] − 1 and
/// SS'_β(x) = β(2 − βx·tanh(βx/2)) / (1 + cosh(βx)). SS' is negative for |x| &gt; 2.39936/β: the estimator can push
/// values away from 0 — that is the published surrogate, so it is not clamped. Default β = 5 (Larq).
/// Provenance: verified-code (larq swish_sign). Paper: Darabi et al. 2018, arXiv:1812.11800. See docs/schemes/straight-through.md.
/// </remarks>
public sealed class SwishSign(double beta = 5.0) : ElementwiseQuantizer
{
    /// <summary>Sharpness β &gt; 0.</summary>
    public double Beta { get; } = beta > 0 ? beta : throw new ArgumentOutOfRangeException(nameof(beta), beta, "SwishSign: β must be > 0.");

    /// <inheritdoc/>
    public override string Name => "swish_sign";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Both;
    /// <inheritdoc/>
    public override bool IsHardSign => true;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    /// <summary>sign(x).</summary>
    public override double Forward(double x) => BinaryMath.Sign(x);

    /// <summary>SS'_β(x).</summary>
    public override double Derivative(double x) => BinaryMath.SignSwishDerivative(x, Beta);

    /// <summary>Float32: the vector sign kernel; other types the scalar pair.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        if (!SignSpans.Sign(x, y, 1, 1)) ScalarForward(x, y);
        return null;
    }

    /// <summary>Float32: the one-exp SS'_β kernel (within one ulp of the scalar form, see SignKernels.SwishTimes);
    /// other types the scalar pair.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        if (!SignSpans.SwishTimes(x, dy, dx, Beta)) ScalarBackward(x, dy, dx);
    }
}
