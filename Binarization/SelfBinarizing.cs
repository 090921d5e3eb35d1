using System.Globalization;
using BinaryGrad.Kernels.Sign;

namespace BinaryGrad.Binarization;

/// <summary>Schedules of the sharpness v of <see cref="TanhSharpen"/> (docs/schemes/smooth.md). All three are
/// standard constructions [STD] or seen in an unofficial re-implementation [V-3p]; none is known to be the paper's.</summary>
public enum SharpnessScheduleKind
{
    /// <summary>v_e = v0·(vE/v0)^(e/(E−1)) per epoch: v0 at the first epoch, exactly vE at the last (the default).</summary>
    GeometricPerEpoch = 0,
    /// <summary>v = v0·(vE/v0)^(t/(T−1)) per optimizer step (the same curve without the per-epoch jumps).</summary>
    GeometricPerStep = 1,
    /// <summary>v_e = v0 + inc·⌊e/step⌋ (staircase of an unofficial re-implementation).</summary>
    Staircase = 2,
}

/// <summary>The sharpness v of self-binarizing networks as a function of training progress.</summary>
/// <remarks>Geometric: <c>v = v0·(vE/v0)^(i/(N−1))</c> with i the epoch (or step) and N the planned epochs (steps), so
/// the last epoch trains at exactly vE (with vE = 1000 the per-epoch factor is κ = 1000^(1/(E−1))).
/// Staircase: <c>v = v0 + inc·⌊e/step⌋</c>. Unknown totals (N = 0) keep v0; N = 1 uses vE.</remarks>
public sealed class SharpnessSchedule(SharpnessScheduleKind kind, double start = 1, double end = 1000, int stairStep = 40, double stairIncrement = 20) : Schedule
{
    /// <summary>Which curve.</summary>
    public SharpnessScheduleKind Kind { get; } = kind;

    /// <inheritdoc/>
    public override double ValueAt(TrainingProgress progress)
    {
        switch (Kind)
        {
            case SharpnessScheduleKind.Staircase:
                return start + stairIncrement * Math.Floor((double)Math.Max(progress.Epoch, 0) / stairStep);
            case SharpnessScheduleKind.GeometricPerStep:
                return Geometric(progress.Step, progress.TotalSteps);
            default:
                return Geometric(progress.Epoch, progress.TotalEpochs);
        }
    }

    private double Geometric(double index, double total)
    {
        if (total <= 0) return start;
        if (total <= 1) return end;
        double f = Math.Clamp(index / (total - 1), 0, 1);
        return start * Math.Pow(end / start, f);
    }

    /// <inheritdoc/>
    public override string ToString() => Kind == SharpnessScheduleKind.Staircase
        ? string.Create(CultureInfo.InvariantCulture, $"staircase {start} + {stairIncrement}·⌊e/{stairStep}⌋")
        : string.Create(CultureInfo.InvariantCulture, $"geometric {start} → {end} per {(Kind == SharpnessScheduleKind.GeometricPerStep ? "step" : "epoch")}");
}

/// <summary>Self-binarizing networks (Lahoud et al. 2019, arXiv:1902.00730; docs/schemes/smooth.md): weights and
/// activations pass through <c>tanh(v·x)</c> whose sharpness v grows during training until the function is
/// equivalent to sign.</summary>
/// <remarks>
/// <para>Forward (training): <c>y = tanh(v·x)</c>. Backward: the exact derivative <c>dy/dx = v·(1 − tanh²(v·x))</c>
/// (no straight-through estimator, so the op is gradient-checked). Evaluation (<see cref="Quantizer.Training"/>
/// false, <see cref="SignAtInference"/>): <c>y = sign(x)</c> (sign(0) = +1), the v → ∞ limit, so the deployed network
/// is exactly binary and runs on the bit kernels; at v = 1000 the two differ only where |x| &lt; atanh(0.99)/v ≈ 0.0026
/// (atanh(0.99)/1000).</para>
/// <para>Provenance: standard construction. The abstract [V-abs] says only "a smooth function, iteratively sharpened
/// until equivalent to sign, on weights and activations"; tanh is inferred from the file name TanhNet.pdf, and the
/// schedule of v (<see cref="SharpnessSchedule"/>, default geometric 1 → 1000 per epoch) is our choice [STD].</para>
/// <para>Binary batch norm: a BN followed by this op becomes a per-channel threshold comparison at deployment
/// (<see cref="BinaryBatchNorm"/>); BinaryGrad's exporter folds BN + sign in exactly that sense.</para>
/// </remarks>
public sealed class TanhSharpen(Schedule sharpness, QuantizerKind kind = QuantizerKind.Both, bool signAtInference = true) : ElementwiseQuantizer
{
    /// <summary>The schedule of v.</summary>
    public Schedule Sharpness { get; } = sharpness ?? throw new ArgumentNullException(nameof(sharpness));

    /// <summary>Current sharpness v (set by <see cref="OnProgress"/>; the schedule's value at step 0 until then).</summary>
    public double V { get; set; } = (sharpness ?? throw new ArgumentNullException(nameof(sharpness))).ValueAt(new TrainingProgress(0, 0, 0, 0));

    /// <summary>Deploy sign(x) in evaluation mode (default); false keeps tanh(v·x) also at test time (to compare the
    /// sharpened network with its sign limit).</summary>
    public bool SignAtInference { get; set; } = signAtInference;

    /// <inheritdoc/>
    public override string Name => "tanh_sharpen";
    /// <inheritdoc/>
    public override QuantizerKind Kind { get; } = kind;
    /// <inheritdoc/>
    public override bool IsHardSign => !Training && SignAtInference;
    /// <inheritdoc/>
    public override bool IsSmooth => !IsHardSign;

    /// <inheritdoc/>
    public override void OnProgress(TrainingProgress progress) => V = Sharpness.ValueAt(progress);

    /// <summary>tanh(v·x) in training, sign(x) when deployed.</summary>
    public override double Forward(double x) => IsHardSign ? BinaryMath.Sign(x) : Math.Tanh(V * x);

    /// <summary>v·(1 − tanh²(v·x)) (also in evaluation mode: the plot shows the training derivative).</summary>
    public override double Derivative(double x)
    {
        double t = Math.Tanh(V * x);
        return V * (1 - t * t);
    }

    /// <summary>One tanh per element: the forward keeps tanh(v·x) in float64 for the backward (both evaluate tanh(v·x)
    /// and v·(1 − t²)·dy in float64 and round once, as the scalar pair does); deployed, the float32 sign kernel.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        if (IsHardSign)
        {
            if (!SignSpans.Sign(x, y, 1, 1)) ScalarForward(x, y);
            return null;
        }
        double v = V;
        double[] t = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(t[i] = Math.Tanh(v * Num.D(x[i])));
        return t;
    }

    /// <inheritdoc/>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        if (saved is not double[] t)
        {
            ScalarBackward(x, dy, dx);
            return;
        }
        double v = V;
        for (int i = 0; i < x.Length; i++) dx[i] = Num.R<T>(Num.D(dy[i]) * (v * (1 - t[i] * t[i])));
    }
}

/// <summary>Binary batch normalization (exact algebra [DER]; the paper's own variant was not retrieved): <c>sign(γ·(x − μ)/√(σ² + ε) + β)</c> as
/// a comparison of x with one threshold per channel.</summary>
/// <remarks>
/// <c>τ = μ − β·√(σ² + ε)/γ</c>; the output is +1 iff <c>x ≥ τ</c> when γ &gt; 0, iff <c>x ≤ τ</c> when γ &lt; 0, and the
/// constant sign(β) when γ = 0. Ties (BN = 0 exactly) give +1, the sign(0) = +1 convention. In training with
/// <see cref="TanhSharpen"/>, <c>tanh(v·BN(x)) = tanh(v·γ̂·(x − τ))</c>, γ̂ = γ/√(σ²+ε): only τ (and the direction) survive
/// the v → ∞ limit. The paper's own binary-BN variant was not retrieved.
/// </remarks>
public readonly record struct BinaryBatchNorm(double Threshold, int Direction, double ConstantSign)
{
    /// <summary>Folds one channel's BN (γ, β, running μ, σ², ε) followed by sign into a comparison.</summary>
    public static BinaryBatchNorm Fold(double gamma, double beta, double mean, double variance, double epsilon)
    {
        double sd = Math.Sqrt(variance + epsilon);
        if (gamma == 0) return new(double.NaN, 0, BinaryMath.Sign(beta));
        return new(mean - beta * sd / gamma, gamma > 0 ? 1 : -1, double.NaN);
    }

    /// <summary>±1: the comparison of <paramref name="x"/> with the threshold.</summary>
    public double Apply(double x) => Direction switch
    {
        0 => ConstantSign,
        > 0 => x >= Threshold ? 1 : -1,
        _ => x <= Threshold ? 1 : -1,
    };
}
