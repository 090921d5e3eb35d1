using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>Sign with a learnable per-output-channel scale (RBNN, SiMaN, BiPer, VISPA; Bulat et al.).</summary>
/// <remarks>
/// Forward: w_b,i = α_o·sign(θ_i). Because a conv/dense output channel is linear in its filter, this equals the
/// reference codes' out = α_o·conv(a_b, sign(θ)). Backward: dθ_i = dw_b,i·α_o·1[|θ_i| ≤ c] (clipped STE through the
/// scale), dα_o = Σ_{i∈o} dw_b,i·sign(θ_i) (= Σ dOut ⊙ conv(a_b, sign θ)). α is learned by back-propagation instead of
/// being computed analytically (XNOR), so it can trade off against BN and the loss.
/// Init: mean|θ| per channel on the first <see cref="Quantizer.Apply"/> (RBNN, SiMaN), or 1.
/// Scalar view: α = 1. Provenance: verified-code (lmbxmu/RBNN, lmbxmu/SiMaN, edmav4/BiPer). Paper: Bulat and
/// Tzimiropoulos 2019 (XNOR-Net++, BMVC), arXiv:1909.13863. See docs/schemes/scaling.md.
/// </remarks>
public sealed class LearnedScaleSign : Quantizer
{
    private bool _initialized;

    /// <summary>Creates the quantizer for <paramref name="channels"/> output channels.</summary>
    /// <param name="channels">Output channels O (1 = one scale for the whole tensor).</param>
    /// <param name="initFromMeanAbs">Initialise α to mean|θ| at the first call (else α = 1).</param>
    /// <param name="clipValue">STE mask bound (+∞ = none).</param>
    /// <param name="dtype">Parameter dtype.</param>
    public LearnedScaleSign(int channels = 1, bool initFromMeanAbs = true, double clipValue = 1.0, DType dtype = DType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        if (!(clipValue > 0)) throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "LearnedScaleSign: the clip value must be > 0.");
        Scale = new Parameter("scale", Tensor.Ones([channels], dtype));
        ClipValue = clipValue;
        _initialized = !initFromMeanAbs;
    }

    /// <summary>The scale α (shape [O]).</summary>
    public Parameter Scale { get; }
    /// <summary>STE mask bound.</summary>
    public double ClipValue { get; }

    /// <inheritdoc/>
    public override IEnumerable<Parameter> Parameters => [Scale];
    /// <inheritdoc/>
    public override string Name => "learned_scale_sign";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Weight;
    /// <inheritdoc/>
    public override bool IsHardSign => false;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    /// <summary>sign(x) (α = 1).</summary>
    public override double Forward(double x) => BinaryMath.Sign(x);

    /// <summary>1[|x| ≤ clip] (α = 1).</summary>
    public override double Derivative(double x) => BinaryMath.InsideClip(x, ClipValue);

    /// <inheritdoc/>
    protected override void Prepare(Tensor x)
    {
        int[] shape = x.Shape.ToArray();
        (int channels, _) = Channels.Weight(shape, x.Length);
        if (Scale.Length != 1 && Scale.Length != channels)
            throw new ArgumentException($"{Name}: has {Scale.Length} scales but the weight has {channels} output channels.");
        if (_initialized) return;
        double[] alpha = ScaledSign.ChannelScales(x.ToDoubleArray(), Scale.Length == 1 ? [x.Length] : shape);
        Scale.Load(Tensor.FromValues(alpha, [alpha.Length], DType.Float64));
        _initialized = true;
    }

    /// <summary>w_b,i = α_o·sign(θ_i).</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        ReadOnlySpan<T> a = p[0];
        int n = a.Length == 1 ? x.Length : x.Length / a.Length;
        for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(Num.D(a[i / n]) * BinaryMath.Sign(Num.D(x[i])));
        return null;
    }

    /// <summary>dθ = dw_b·α_o·1[|θ| ≤ c]; dα_o += Σ dw_b·sign(θ) in float64.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        ReadOnlySpan<T> a = p[0];
        Span<double> da = p.Gradient(0);
        int n = a.Length == 1 ? x.Length : x.Length / a.Length;
        for (int i = 0; i < x.Length; i++)
        {
            double g = Num.D(dy[i]), xi = Num.D(x[i]);
            dx[i] = Num.R<T>(g * Num.D(a[i / n]) * BinaryMath.InsideClip(xi, ClipValue));
            da[i / n] += g * BinaryMath.Sign(xi);
        }
    }
}
