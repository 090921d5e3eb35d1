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
/// Provenance: verified-code (jiecaoyu/XNOR-Net-PyTorch util.py; larq MagnitudeAwareSign; Bi-Real-net). Paper: Rastegari et al. 2016, arXiv:1603.05279.
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
    public static double[] ChannelScales(double[] x, int[] shape)
    {
        (int channels, int n) = Channels.Weight(shape, x.Length);
        double[] alpha = new double[channels];
        for (int o = 0; o < channels; o++)
        {
            double s = 0;
            for (int i = o * n; i < (o + 1) * n; i++) s += Math.Abs(x[i]);
            alpha[o] = n > 0 ? s / n : 0;
        }
        return alpha;
    }

    /// <summary>Always: the whole-tensor methods below are sealed, so no subclass can change the scheme behind the
    /// float32 kernels' back (they give the float64 path's results, see <see cref="SignKernels"/>).</summary>
    private protected override bool HasFloat32Path => true;

    private protected override object? ForwardFloat32(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, Span<float> y)
    {
        (int channels, int n) = Channels.Weight(shape.ToArray(), x.Length);
        double[] alpha = SignKernels.ChannelMeanAbs(x, channels, n);
        for (int o = 0; o < channels; o++)
            SignKernels.Sign(x.Slice(o * n, n), y.Slice(o * n, n), (float)alpha[o], (float)alpha[o]); // (float)(α·±1) = ±(float)α
        return alpha;
    }

    private protected override void BackwardFloat32(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, object? saved, ReadOnlySpan<float> dy, Span<float> dx)
    {
        double[] alpha = (double[])saved!;
        (int channels, int n) = Channels.Weight(shape.ToArray(), x.Length);
        for (int o = 0; o < channels; o++)
        {
            ReadOnlySpan<float> xo = x.Slice(o * n, n), dyo = dy.Slice(o * n, n);
            Span<float> dxo = dx.Slice(o * n, n);
            switch (Mode)
            {
                case ScaleGradMode.Exact:
                    SignKernels.Surrogate(SignKernels.SurrogateKind.ScaledMaskExact, xo, dyo, dxo, alpha[o], ClipValue, SignKernels.SignDot(xo, dyo) / n);
                    break;
                case ScaleGradMode.DetachedScaledSte:
                    SignKernels.Surrogate(SignKernels.SurrogateKind.ScaledMask, xo, dyo, dxo, alpha[o], ClipValue);
                    break;
                case ScaleGradMode.DetachedUnscaledSte:
                    SignKernels.MaskTimes(xo, dyo, dxo, SignKernels.FloatBound(ClipValue));
                    break;
                default:
                    SignKernels.Surrogate(SignKernels.SurrogateKind.ScaledMaskDiagonal, xo, dyo, dxo, alpha[o], ClipValue, n);
                    break;
            }
        }
    }

    /// <inheritdoc/>
    protected sealed override double[] ForwardValues(QuantizerCall call)
    {
        double[] alpha = ChannelScales(call.X, call.Shape);
        call.Saved = alpha;
        (_, int n) = Channels.Weight(call.Shape, call.X.Length);
        double[] y = new double[call.X.Length];
        for (int i = 0; i < y.Length; i++) y[i] = alpha[i / n] * BinaryMath.Sign(call.X[i]);
        return y;
    }

    /// <inheritdoc/>
    protected sealed override double[] BackwardValues(QuantizerCall call, double[] dy, double[][] parameterGrads)
    {
        double[] x = call.X, alpha = (double[])call.Saved!;
        (int channels, int n) = Channels.Weight(call.Shape, x.Length);
        double[] dx = new double[x.Length];
        for (int o = 0; o < channels; o++)
        {
            double sg = 0;
            if (Mode == ScaleGradMode.Exact)
                for (int i = o * n; i < (o + 1) * n; i++) sg += BinaryMath.Sign(x[i]) * dy[i];
            for (int i = o * n; i < (o + 1) * n; i++)
            {
                double ste = BinaryMath.InsideClip(x[i], ClipValue) * dy[i];
                dx[i] = Mode switch
                {
                    ScaleGradMode.Exact => alpha[o] * ste + BinaryMath.Sign(x[i]) * sg / n,
                    ScaleGradMode.DetachedScaledSte => alpha[o] * ste,
                    ScaleGradMode.DetachedUnscaledSte => ste,
                    _ => dy[i] / n + alpha[o] * ste,
                };
            }
        }
        return dx;
    }
}
