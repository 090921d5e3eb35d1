using System.Numerics;
using BinaryGrad.Kernels.Sign;

namespace BinaryGrad.Binarization;

/// <summary>How the gradient treats the XNOR-Net scale α (Rastegari et al. 2016, arXiv:1603.05279; g = dL/dw_b).</summary>
public enum ScaleGradMode
{
    /// <summary>dθ_i = α_o·1[|θ_i| ≤ 1]·g_i + sign(θ_i)·(1/n)·Σ_j sign(θ_j)·g_j: the full chain rule through α with the
    /// clipped STE for sign (jiecaoyu/XNOR-Net-PyTorch computes this, then multiplies by n(1 − 1/C)).</summary>
    Exact,
    /// <summary>dθ_i = α_o·1[|θ_i| ≤ 1]·g_i: α under stop_gradient (Larq MagnitudeAwareSign).</summary>
    DetachedScaledSte,
    /// <summary>dθ_i = 1[|θ_i| ≤ 1]·g_i (Bi-Real Net and ReActNet PyTorch).</summary>
    DetachedUnscaledSte,
    /// <summary>dθ_i = g_i·(1/n + α_o·1[|θ_i| ≤ 1]): the diagonal form the XNOR paper writes — a recollection
    /// [REC], offered as an option only and not registered as a scheme.</summary>
    Diagonal,
}

/// <summary>XNOR-Net scaled sign (Rastegari et al., ECCV 2016): per-output-channel α_o·sign(θ).</summary>
/// <remarks>
/// Forward: α_o = (1/n)·Σ_{i∈o} |θ_i| over each output channel (axis 0; n = C·kH·kW; rank ≤ 1: one channel),
/// w_b,i = α_o·sign(θ_i). α is the L1-optimal scale of a ±1 approximation of the filter, so the binary filter keeps the
/// latent filter's magnitude. Backward: see <see cref="ScaleGradMode"/> (implementations disagree; all are offered).
/// Scalar view: Forward(x) = sign(x) and Derivative(x) = 1[|x| ≤ clip], i.e. α = 1 and the α-terms of
/// <see cref="ScaleGradMode.Exact"/> omitted; the per-channel α exists only in <see cref="Quantizer.Apply"/>.
/// Provenance: verified-code (jiecaoyu/XNOR-Net-PyTorch util.py; larq MagnitudeAwareSign; Bi-Real-net). Paper: Rastegari et al. 2016, arXiv:1603.05279. See docs/schemes/scaling.md.
/// </remarks>
public class ScaledSign(ScaleGradMode mode = ScaleGradMode.Exact, double clipValue = 1.0) : Quantizer
{
    /// <summary>Gradient convention.</summary>
    public ScaleGradMode Mode { get; } = mode;

    /// <summary>STE mask bound (+∞ = no mask).</summary>
    public double ClipValue { get; } = clipValue > 0 ? clipValue : throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "ScaledSign: the clip value must be > 0.");

    /// <inheritdoc/>
    public override string Name => "scaled_sign";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Weight;
    /// <inheritdoc/>
    public override bool IsHardSign => false;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    /// <summary>sign(x) (α = 1).</summary>
    public override double Forward(double x) => BinaryMath.Sign(x);

    /// <summary>1[|x| ≤ clip].</summary>
    public override double Derivative(double x) => BinaryMath.InsideClip(x, ClipValue);

    /// <summary>Per-channel α_o = mean |θ| of <paramref name="x"/> laid out as <paramref name="shape"/>.</summary>
    public static double[] ChannelScales(double[] x, int[] shape) => ChannelScales<double>(x, shape);

    /// <summary>α_o = Σ|x|/n summed in order in float64 (the float32 kernel sums in lanes instead; see
    /// <see cref="SignKernels.ChannelMeanAbs"/>).</summary>
    private static double[] ChannelScales<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        (int channels, int n) = Channels.Weight(shape, x.Length);
        double[]? kernel = SignSpans.ChannelMeanAbs(x, channels, n);
        if (kernel is not null) return kernel;
        double[] alpha = new double[channels];
        for (int o = 0; o < channels; o++)
        {
            double s = 0;
            for (int i = o * n; i < (o + 1) * n; i++) s += Math.Abs(Num.D(x[i]));
            alpha[o] = n > 0 ? s / n : 0;
        }
        return alpha;
    }

    /// <summary>w_b = α_o·sign(θ); returns α. Sealed, like the backward, so no subclass changes the scheme behind the
    /// float32 kernels' back.</summary>
    protected sealed override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        double[] alpha = ChannelScales(x, shape);
        (int channels, int n) = Channels.Weight(shape, x.Length);
        for (int o = 0; o < channels; o++)
        {
            ReadOnlySpan<T> xo = x.Slice(o * n, n);
            Span<T> yo = y.Slice(o * n, n);
            if (SignSpans.Sign(xo, yo, alpha[o], alpha[o])) continue; // (float)(α·±1) = ±(float)α
            for (int i = 0; i < n; i++) yo[i] = Num.R<T>(alpha[o] * BinaryMath.Sign(Num.D(xo[i])));
        }
        return alpha;
    }

    /// <summary>The backward of <see cref="Mode"/>, per output channel.</summary>
    protected sealed override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        double[] alpha = (double[])saved!;
        (int channels, int n) = Channels.Weight(shape, x.Length);
        for (int o = 0; o < channels; o++)
        {
            ReadOnlySpan<T> xo = x.Slice(o * n, n), dyo = dy.Slice(o * n, n);
            Span<T> dxo = dx.Slice(o * n, n);
            double a = alpha[o];
            bool kernel = Mode switch
            {
                ScaleGradMode.Exact => SignSpans.SignDot(xo, dyo) is double dot
                    && SignSpans.Surrogate(SignKernels.SurrogateKind.ScaledMaskExact, xo, dyo, dxo, a, ClipValue, dot / n),
                ScaleGradMode.DetachedScaledSte => SignSpans.Surrogate(SignKernels.SurrogateKind.ScaledMask, xo, dyo, dxo, a, ClipValue),
                ScaleGradMode.DetachedUnscaledSte => SignSpans.MaskTimes(xo, dyo, dxo, ClipValue),
                _ => SignSpans.Surrogate(SignKernels.SurrogateKind.ScaledMaskDiagonal, xo, dyo, dxo, a, ClipValue, n),
            };
            if (kernel) continue;
            double sg = 0;
            if (Mode == ScaleGradMode.Exact)
                for (int i = 0; i < n; i++) sg += BinaryMath.Sign(Num.D(xo[i])) * Num.D(dyo[i]);
            for (int i = 0; i < n; i++)
            {
                double xi = Num.D(xo[i]), g = Num.D(dyo[i]), ste = BinaryMath.InsideClip(xi, ClipValue) * g;
                dxo[i] = Num.R<T>(Mode switch
                {
                    ScaleGradMode.Exact => a * ste + BinaryMath.Sign(xi) * sg / n,
                    ScaleGradMode.DetachedScaledSte => a * ste,
                    ScaleGradMode.DetachedUnscaledSte => ste,
                    _ => g / n + a * ste,
                });
            }
        }
    }
}
