using BinaryGrad.Kernels.Sign;

namespace BinaryGrad.Binarization;

/// <summary>Bi-Real Net's ApproxSign (Liu et al., ECCV 2018; Larq <c>approx_sign</c>).</summary>
/// <remarks>
/// Forward: y = sign(x). Backward: dx = dy · (2 − 2|x|)·1[|x| ≤ 1], the exact derivative of the piecewise-quadratic
/// F(x) = x² + 2x on [−1, 0), −x² + 2x on [0, 1), ±1 outside — a closer fit to sign than hardtanh, so the
/// gradient mismatch of the STE is smaller near 0 (factor 2) and vanishes smoothly at ±1.
/// Provenance: verified-code (liuzechun/Bi-Real-net birealnet.py; larq). Paper: Liu et al. 2018, arXiv:1808.00278. See docs/schemes/straight-through.md.
/// </remarks>
public sealed class ApproxSign : ElementwiseQuantizer
{
    /// <inheritdoc/>
    public override string Name => "approx_sign";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Both;
    /// <inheritdoc/>
    public override bool IsHardSign => true;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    /// <summary>sign(x).</summary>
    public override double Forward(double x) => BinaryMath.Sign(x);

    /// <summary>(2 − 2|x|)·1[|x| ≤ 1].</summary>
    public override double Derivative(double x) => BinaryMath.ApproxSignDerivative(x);

    /// <summary>Float32: the vector sign kernel; other types the scalar pair.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        if (!SignSpans.Sign(x, y, 1, 1)) ScalarForward(x, y);
        return null;
    }

    /// <summary>Float32: the float64-lane surrogate kernel; other types the scalar pair.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        if (!SignSpans.Surrogate(SignKernels.SurrogateKind.ApproxSign, x, dy, dx)) ScalarBackward(x, dy, dx);
    }
}
