using System.Numerics;
using BinaryGrad.Autograd;
using BinaryGrad.Kernels.Updates;
using Tensor = BinaryGrad.Autograd.Tensor;

namespace BinaryGrad.Optimizers.Binary;

/// <summary>How <see cref="Bop2ndOrder"/> corrects the zero-initialised moments m and v (Suarez-Ramirez et al. 2021, arXiv:2104.05124).</summary>
public enum BiasCorrection
{
    /// <summary>Biased: <c>r = m / (√v + ε)</c> — the official code's HEAD version (paper's best CIFAR-10 run, 91.9 %).</summary>
    None,
    /// <summary><c>r = (m/γ) / (√(v/σ) + ε)</c>: the official "unbiased" code (commit bf29ed4), dividing by the constant
    /// rates rather than by Adam's step-dependent factors.</summary>
    DivideByRate,
    /// <summary>Adam-style: <c>m̂ = m / (1 − (1−γ)ᵗ)</c>, <c>v̂ = v / (1 − (1−σ)ᵗ)</c>, <c>r = m̂ / (√v̂ + ε)</c> (t = 1, 2, …),
    /// what "bias-corrected" usually means [REC: may be what the paper writes]. Equals DivideByRate at t = 1.</summary>
    Adam,
}

/// <summary>Bop2ndOrder (Suarez-Ramirez et al., "A Bop and Beyond: A Second Order Optimizer for Binarized Neural
/// Networks", 2021, arXiv 2104.05124): Bop whose flip signal is the gradient average normalised by its RMS.
/// Per element, slots <c>m</c>, <c>v</c> initialised to 0:
/// <code>
/// m ← m + γ·(g − m)            v ← v + σ·(g² − v)
/// r = m̂ / (√v̂ + 1e−10)         m̂, v̂ per <see cref="BiasCorrection"/> (None: m̂ = m, v̂ = v)
/// w ← sign( −sign(w·r − τ) · w )   flip iff w·r &gt; τ (same formula and edge case as <see cref="Bop"/>)
/// </code>
/// </summary>
/// <remarks>
/// <para>Why the second moment: Bop's w·m &gt; τ compares a raw gradient average with a fixed τ, so τ must be retuned
/// whenever the gradient scale changes (per layer, over training). r is scale-free (|r| ≤ about 1 for the biased form),
/// which makes τ a dimensionless confidence level.</para>
/// <para>Defaults are the official class defaults γ = 1e-6, σ = 1e-2, τ = 1e-6, biased. The CIFAR-10 runs used linear
/// schedules over the run: τ 1e-5 → 1e-8, γ 1e-2 → 1e-5, σ 1e-7 → 1e-2 (pass them as schedules of the step t = 0, 1, …).
/// As with <see cref="Bop"/>, the first step binarizes the parameter (0 → +1) and the group learning rate is ignored.</para>
/// <para>Float32 parameters are updated with Vector256 over the spans (scalar reference beside it, bit-identical); the
/// bias-correction divisors are computed in float64 and rounded once. Slots <c>m</c>, <c>v</c>, <c>step</c> round-trip
/// exactly through StateDict/LoadStateDict.</para>
/// Provenance: verified-code (CuauSuarez/Bop2ndOrder optimizers.py, HEAD and bf29ed4). Paper: Suarez-Ramirez et al. 2021, arXiv:2104.05124.
/// </remarks>
public sealed class Bop2ndOrder : Optimizer
{
    /// <summary>The ε added to √v̂ in the official code.</summary>
    public const double Epsilon = 1e-10;

    /// <summary>Official default γ.</summary>
    public const double DefaultGamma = 1e-6;

    /// <summary>Official default σ (variance scaler rate).</summary>
    public const double DefaultSigma = 1e-2;

    /// <summary>Official default τ.</summary>
    public const double DefaultThreshold = 1e-6;

    /// <summary>Optimises named parameters as one group with constant rates.</summary>
    /// <exception cref="ArgumentOutOfRangeException">γ or σ outside [0, 1], or τ not finite.</exception>
    public Bop2ndOrder(IEnumerable<KeyValuePair<string, Parameter>> parameters, double gamma = DefaultGamma, double sigma = DefaultSigma,
        double threshold = DefaultThreshold, BiasCorrection biasCorrection = BiasCorrection.None)
        : this(OneGroup(parameters), Bop.Constant(gamma, nameof(gamma)), Bop.Constant(sigma, nameof(sigma)), Bop.Constant(threshold, nameof(threshold)), biasCorrection) { }

    /// <summary>Optimises named parameters as one group with scheduled γ(t), σ(t), τ(t).</summary>
    public Bop2ndOrder(IEnumerable<KeyValuePair<string, Parameter>> parameters, Func<long, double> gamma, Func<long, double> sigma,
        Func<long, double> threshold, BiasCorrection biasCorrection = BiasCorrection.None)
        : this(OneGroup(parameters), gamma, sigma, threshold, biasCorrection) { }

    /// <summary>Optimises <paramref name="groups"/> with scheduled γ(t), σ(t), τ(t) (t = updates already applied).</summary>
    public Bop2ndOrder(IEnumerable<ParameterGroup> groups, Func<long, double> gamma, Func<long, double> sigma, Func<long, double> threshold,
        BiasCorrection biasCorrection = BiasCorrection.None)
        : base(groups, new ParameterGroup(Array.Empty<Parameter>()) { LearningRate = 0 })
    {
        Gamma = gamma ?? throw new ArgumentNullException(nameof(gamma));
        Sigma = sigma ?? throw new ArgumentNullException(nameof(sigma));
        Threshold = threshold ?? throw new ArgumentNullException(nameof(threshold));
        Correction = Enum.IsDefined(biasCorrection) ? biasCorrection : throw new ArgumentOutOfRangeException(nameof(biasCorrection));
    }

    /// <summary>Rate γ(t) of the gradient average m.</summary>
    public Func<long, double> Gamma { get; }

    /// <summary>Rate σ(t) of the squared-gradient average v.</summary>
    public Func<long, double> Sigma { get; }

    /// <summary>Flip threshold τ(t) on w·r.</summary>
    public Func<long, double> Threshold { get; }

    /// <summary>The bias correction of m and v.</summary>
    public BiasCorrection Correction { get; }

    /// <inheritdoc/>
    protected override void Update(ParameterGroup group, Parameter parameter, Tensor grad, Dictionary<string, Tensor> state)
    {
        Tensor m = Slot(state, "m", parameter.Value, out _), v = Slot(state, "v", parameter.Value, out _);
        long t = NextStep(state);
        double gamma = Bop.Rate(Gamma(t - 1), "γ", t - 1), sigma = Bop.Rate(Sigma(t - 1), "σ", t - 1);
        double threshold = Bop.Finite(Threshold(t - 1), "τ", t - 1);
        if (Correction != BiasCorrection.None && (gamma == 0 || sigma == 0))
            throw new InvalidOperationException($"Bop2ndOrder: bias correction {Correction} divides by γ and σ; both must be > 0 (step {t - 1}: γ = {gamma}, σ = {sigma}).");
        (double cm, double cv) = Correction switch
        {
            BiasCorrection.None => (1.0, 1.0),
            BiasCorrection.DivideByRate => (gamma, sigma),
            _ => (1 - Math.Pow(1 - gamma, t), 1 - Math.Pow(1 - sigma, t)),
        };
        DTypeDispatch.Run(parameter.DType, new SecondOrderStep(parameter.Value, grad, m, v, gamma, sigma, cm, cv, Epsilon, threshold));
    }

    /// <summary>One second-order step on weights w with gradient g and moments m, v, in their element type.</summary>
    private readonly struct SecondOrderStep(Tensor w, Tensor g, Tensor m, Tensor v, double gamma, double sigma, double cm, double cv,
        double epsilon, double threshold) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            var k = new SecondOrderCoefficients<T>(T.CreateChecked(gamma), T.CreateChecked(sigma), T.CreateChecked(cm), T.CreateChecked(cv),
                T.CreateChecked(epsilon), T.CreateChecked(threshold));
            FlipRule.SecondOrder(w.AsSpan<T>(), g.AsSpan<T>(), m.AsSpan<T>(), v.AsSpan<T>(), k);
        }
    }
}
