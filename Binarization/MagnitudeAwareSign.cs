namespace BinaryGrad.Binarization;

/// <summary>Larq's <c>MagnitudeAwareSign</c>: the XNOR scaled sign with the scale under stop_gradient.</summary>
/// <remarks>
/// Forward: s_o = mean |θ| over each output channel (detached), y = s_o·sign(θ). Backward: dθ = dy·s_o·1[|θ| ≤ c]
/// (c = 1 by default; +∞ = no mask). Same as <see cref="ScaledSign"/> with <see cref="ScaleGradMode.DetachedScaledSte"/>;
/// a separate type so layers and the registry can name it as Larq does. Larq reduces over all axes but the last
/// (channels-last kernels); here over all axes but the first (BinaryGrad's [O, …] layout) — the same grouping.
/// Provenance: verified-code (larq quantizers.py MagnitudeAwareSign). Paper (the scale): Rastegari et al. 2016, arXiv:1603.05279. See docs/schemes/scaling.md.
/// </remarks>
public sealed class MagnitudeAwareSign(double clipValue = 1.0) : ScaledSign(ScaleGradMode.DetachedScaledSte, clipValue)
{
    /// <inheritdoc/>
    public override string Name => "magnitude_aware_sign";
}
