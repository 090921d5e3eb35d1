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
/// Provenance: verified-code (houlu369/Loss-aware-Binarization FNN/lab.py, optimizer.py). Paper: Hou et al. 2017, arXiv:1611.01600. See docs/schemes/scaling.md.
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

    /// <summary>w_b = α·sign(θ) with α = <see cref="Scale"/>(θ, v), v created (zeros) on the first call or a size change.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        if (_v is null || _v.Length != x.Length) _v = new double[x.Length];
        double num = 0, den = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double d = Math.Sqrt(_v[i]) + 1e-8;
            num += Math.Abs(d * Num.D(x[i]));
            den += d;
        }
        double alpha = den > 0 ? num / den : 0;
        for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(alpha * BinaryMath.Sign(Num.D(x[i])));
        return null;
    }

    /// <summary>dθ = dw_b; with <see cref="TrackSecondMoment"/>, v ← β2·v + (1 − β2)·g² from the same gradients.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        if (TrackSecondMoment && _v is not null && _v.Length == dy.Length)
            for (int i = 0; i < dy.Length; i++)
            {
                double g = Num.D(dy[i]);
                _v[i] = Beta2 * _v[i] + (1 - Beta2) * g * g;
            }
        dy.CopyTo(dx);
    }
}
