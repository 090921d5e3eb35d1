namespace BinaryGrad.Binarization;

/// <summary>LAB, loss-aware binarization (Hou, Yao, Kwok, ICLR 2017): one curvature-weighted scale per layer.</summary>
/// <remarks>
/// <para>Forward: d = sqrt(v) + 1e-8 with v the exponential moving average of squared gradients (Adam's second moment,
/// β2 = 0.999) per weight; α = Σ|d ⊙ θ| / Σ d (one scalar for the whole tensor); w_b = α·sign(θ). Weighting by d is a
/// diagonal-Hessian approximation: the binarization minimises the second-order loss change rather than ‖θ − w_b‖.</para>
/// <para>Backward: dθ = dw_b (identity STE, α not differentiated). The same gradients update v: by default this
/// quantizer keeps v itself and updates it in every backward through its node (v ← β2·v + (1 − β2)·g²), which is the
/// reference order (v updated at step t is used by the forward of step t+1). With gradient accumulation over several
/// backward calls per step, disable <see cref="TrackSecondMoment"/> and pass the optimizer's v through
/// <see cref="SetSecondMoment"/>. Before any gradient v = 0, so α = mean|θ|. Pair with θ ← clip(θ, −1, 1).</para>
/// <para>Scalar view: Forward(x) = sign(x) (α = 1), Derivative = 1.</para>
/// Provenance: verified-code (houlu369/Loss-aware-Binarization FNN/lab.py, optimizer.py). Paper: Hou et al. 2017, arXiv:1611.01600.
/// </remarks>
public sealed class Lab(double beta2 = 0.999, bool trackSecondMoment = true) : Quantizer
{
    private double[]? _v;

    /// <summary>EMA rate β2 of the second moment.</summary>
    public double Beta2 { get; } = beta2 is >= 0 and < 1 ? beta2 : throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "Lab: β2 must be in [0, 1).");

    /// <summary>Whether backward updates the internal second moment.</summary>
    public bool TrackSecondMoment { get; } = trackSecondMoment;

    /// <summary>The current second moment v (null before the first forward or set).</summary>
    public IReadOnlyList<double>? SecondMoment => _v;

    /// <summary>Replaces v (e.g. with the optimizer's Adam second moment).</summary>
    public void SetSecondMoment(ReadOnlySpan<double> v) => _v = v.ToArray();

    /// <inheritdoc/>
    public override string Name => "lab";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Weight;
    /// <inheritdoc/>
    public override bool IsHardSign => false;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    /// <summary>sign(x) (α = 1).</summary>
    public override double Forward(double x) => BinaryMath.Sign(x);

    /// <summary>1.</summary>
    public override double Derivative(double x) => 1;

    /// <summary>α = Σ|d⊙θ|/Σd with d = sqrt(v) + 1e-8.</summary>
    public static double Scale(ReadOnlySpan<double> theta, ReadOnlySpan<double> v)
    {
        double num = 0, den = 0;
        for (int i = 0; i < theta.Length; i++)
        {
            double d = Math.Sqrt(v[i]) + 1e-8;
            num += Math.Abs(d * theta[i]);
            den += d;
        }
        return den > 0 ? num / den : 0;
    }

    /// <inheritdoc/>
    protected override double[] ForwardValues(QuantizerCall call)
    {
        if (_v is null || _v.Length != call.X.Length) _v = new double[call.X.Length];
        double alpha = Scale(call.X, _v);
        double[] y = new double[call.X.Length];
        for (int i = 0; i < y.Length; i++) y[i] = alpha * BinaryMath.Sign(call.X[i]);
        return y;
    }

    /// <inheritdoc/>
    protected override double[] BackwardValues(QuantizerCall call, double[] dy, double[][] parameterGrads)
    {
        if (TrackSecondMoment && _v is not null && _v.Length == dy.Length)
            for (int i = 0; i < dy.Length; i++) _v[i] = Beta2 * _v[i] + (1 - Beta2) * dy[i] * dy[i];
        return (double[])dy.Clone();
    }

    // Float32 path: the float64 path's arithmetic in the same order (bit-identical) reading the float32 weights and
    // gradients in place, instead of float64 copies of every latent weight.
    private protected override bool HasFloat32Path => true;

    private protected override object? ForwardFloat32(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, Span<float> y)
    {
        if (_v is null || _v.Length != x.Length) _v = new double[x.Length];
        double num = 0, den = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double d = Math.Sqrt(_v[i]) + 1e-8;
            num += Math.Abs(d * x[i]);
            den += d;
        }
        double alpha = den > 0 ? num / den : 0;
        for (int i = 0; i < x.Length; i++) y[i] = (float)(alpha * BinaryMath.Sign(x[i]));
        return null;
    }

    private protected override void BackwardFloat32(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, object? saved, ReadOnlySpan<float> dy, Span<float> dx)
    {
        if (TrackSecondMoment && _v is not null && _v.Length == dy.Length)
            for (int i = 0; i < dy.Length; i++) _v[i] = Beta2 * _v[i] + (1 - Beta2) * dy[i] * dy[i];
        dy.CopyTo(dx);
    }
}
