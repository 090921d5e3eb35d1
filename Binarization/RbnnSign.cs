using BinaryGrad.Kernels.Sign;

namespace BinaryGrad.Binarization;

/// <summary>RBNN's training-aware sign surrogate (Lin et al., NeurIPS 2020), without the rotation (see
/// <see cref="RotatedSign"/> for the weight op with rotation).</summary>
/// <remarks>
/// Forward: sign(x). Backward: dx = dy·k·(√2·t − t²·|x|)₊ with t = 10^(log10 T_min + (log10 T_max − log10 T_min)·e/E) and
/// k = max(1/t, 1) for weights; activations use k = 1 and t = max(t, 1) (the reference code). Early (small t) the
/// surrogate is wide and flat, like an identity STE; late (large t) it is a narrow triangle of height √2·t·k, approaching
/// the derivative of sign. T_min = 1e-2, T_max = 1e1; the schedule follows epochs (<see cref="OnProgress"/>).
/// Provenance: verified-code (lmbxmu/RBNN cifar/modules/binarized_modules.py, main.py). Paper: Lin et al. 2020, arXiv:2009.13055. See docs/schemes/straight-through.md.
/// </remarks>
public sealed class RbnnSign(bool activation = false, double tMin = 1e-2, double tMax = 10) : ElementwiseQuantizer
{
    private readonly Schedule _t = Schedule.Geometric(tMin, tMax, ScheduleClock.Epoch);

    /// <summary>Activation variant (k = 1, t ≥ 1).</summary>
    public bool IsActivation { get; } = activation;

    /// <summary>Current raw schedule value t (before the activation floor).</summary>
    public double T { get; private set; } = tMin;

    /// <summary>Effective t of the surrogate.</summary>
    public double EffectiveT => IsActivation ? Math.Max(T, 1) : T;

    /// <summary>Effective k of the surrogate.</summary>
    public double K => IsActivation ? 1 : Math.Max(1 / T, 1);

    /// <inheritdoc/>
    public override string Name => IsActivation ? "rbnn_sign_activations" : "rbnn_sign";
    /// <inheritdoc/>
    public override QuantizerKind Kind => IsActivation ? QuantizerKind.Activation : QuantizerKind.Weight;
    /// <inheritdoc/>
    public override bool IsHardSign => true;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    /// <inheritdoc/>
    public override void OnProgress(TrainingProgress progress) => T = _t.ValueAt(progress);

    /// <summary>sign(x).</summary>
    public override double Forward(double x) => BinaryMath.Sign(x);

    /// <summary>k·(√2·t − t²·|x|)₊.</summary>
    public override double Derivative(double x) => Surrogate(x, K, EffectiveT);

    /// <summary>k·(√2·t − t²·|x|)₊.</summary>
    public static double Surrogate(double x, double k, double t) => k * Math.Max(Math.Sqrt(2) * t - t * t * Math.Abs(x), 0);

    /// <summary>Float32: the vector sign kernel; other types the scalar pair.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        if (!SignSpans.Sign(x, y, 1, 1)) ScalarForward(x, y);
        return null;
    }

    /// <summary>The surrogate with k and t read once per call instead of per element (the same float64 arithmetic
    /// per element as <see cref="Derivative"/>).</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        double k = K, t = EffectiveT;
        for (int i = 0; i < x.Length; i++) dx[i] = Num.R<T>(Num.D(dy[i]) * Surrogate(Num.D(x[i]), k, t));
    }
}
