using System.Numerics;
using BinaryGrad.Autograd;
using Tensor = BinaryGrad.Autograd.Tensor;

namespace BinaryGrad.Optimizers.Binary;

/// <summary>BayesBiNN's optimizer (Meng, Bachmann, Khan, "Training Binary Neural Networks using the Bayesian Learning
/// Rule", ICML 2020): the Bayesian learning rule on the natural parameters λ of a mean-field Bernoulli posterior over
/// ±1 weights. The parameter values are λ; the layer's weight op (Binarization's <c>ConcreteBinaryWeight</c>) loads a
/// relaxed sample w_r = tanh((λ + δ)/τ) and returns <c>grad = g ⊙ (1 − w_r² + 1e-10)/τ</c>, g = ∂ℓ̄/∂w_r.</summary>
/// <remarks>
/// <para>One step, in the exact order of the official code (Meng et al. 2020, arXiv:2002.10778), per element:</para>
/// <code>
/// t ← t + 1
/// ĝ = (N/M) · grad / (1 − μ² + 1e-10)            = (N/M)·Σ_m s⁽ᵐ⁾ g⁽ᵐ⁾, s = (1 − w_r² + 1e-10)/τ/(1 − μ² + 1e-10)
/// v ← β·v + (1 − β)·(ĝ + κ·(λ − λ0))              κ: KL reweight, λ0: prior natural parameter
/// λ ← λ − α·v/(1 − βᵗ)                           α: the group's learning rate
/// μ ← tanh(λ before the update)                   the code's one-step lag (MuLagsOneStep; false: tanh of the new λ)
/// </code>
/// <para>μ (slot <c>mu</c>) starts as tanh(λ) of the first step's λ. With M Monte-Carlo samples the caller runs M
/// forward/backward passes before <see cref="Optimizer.Step"/> (the gradients accumulate) and sets
/// <see cref="McSamples"/> = M. N is the (effective) training-set size: the expected loss is N·ℓ̄.</para>
/// <para>Precision: the update runs in the parameter's dtype. In float32, tanh(±10) is exactly ±1,
/// so 1 − μ² + 1e-10 = 1e-10 and s = 1e10 for a saturated weight; in float64 1 − tanh²(10) ≈ 8.2e-9 and s ≈ 1.2e8.
/// The official results come from float32 (PyTorch's default), which is what float32 models reproduce here.</para>
/// <para>Every parameter this optimizer holds is treated as binary; use <see cref="CaseOptimizer"/> (as
/// <see cref="BinaryOptimizers"/> does) to give batch-norm parameters their own optimizer — the official models have
/// none (affine-free batch norm).</para>
/// Provenance: verified-code (team-approx-bayes/BayesBiNN › optimizers/BayesBiNN.py). Paper: Meng et al. 2020, arXiv:2002.10778.
/// </remarks>
public sealed class BayesBiNN : Optimizer
{
    /// <summary>Default learning rate α (official MNIST script).</summary>
    public const double DefaultLearningRate = 1e-4;

    /// <summary>Optimises <paramref name="parameters"/> (their values are λ) with training-set size N and learning rate α.</summary>
    /// <exception cref="ArgumentOutOfRangeException">N or M below 1, β outside [0, 1), κ or λ0 not finite.</exception>
    public BayesBiNN(IEnumerable<KeyValuePair<string, Parameter>> parameters, double trainSetSize, double learningRate = DefaultLearningRate,
        int mcSamples = 1, double momentum = 0, double klReweight = 1, double priorLambda = 0, bool muLagsOneStep = true)
        : base(OneGroup(parameters), new ParameterGroup(Array.Empty<Parameter>()) { LearningRate = learningRate, Momentum = momentum })
    {
        if (!(trainSetSize >= 1) || !double.IsFinite(trainSetSize))
            throw new ArgumentOutOfRangeException(nameof(trainSetSize), trainSetSize, "BayesBiNN: the training-set size N must be at least 1.");
        ArgumentOutOfRangeException.ThrowIfLessThan(mcSamples, 1);
        if (momentum is not (>= 0 and < 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "BayesBiNN: the momentum β must be in [0, 1).");
        if (!double.IsFinite(klReweight)) throw new ArgumentOutOfRangeException(nameof(klReweight), klReweight, "BayesBiNN: the KL reweight κ must be finite.");
        if (!double.IsFinite(priorLambda)) throw new ArgumentOutOfRangeException(nameof(priorLambda), priorLambda, "BayesBiNN: the prior λ0 must be finite.");
        TrainSetSize = trainSetSize;
        McSamples = mcSamples;
        KlReweight = klReweight;
        PriorLambda = priorLambda;
        MuLagsOneStep = muLagsOneStep;
    }

    /// <summary>N: the (effective) training-set size.</summary>
    public double TrainSetSize { get; }

    /// <summary>M: Monte-Carlo samples whose gradients were accumulated before each step.</summary>
    public int McSamples { get; set; }

    /// <summary>κ: weight of the KL term (λ − λ0).</summary>
    public double KlReweight { get; }

    /// <summary>λ0: the prior's natural parameter (0: P(+1) = ½).</summary>
    public double PriorLambda { get; }

    /// <summary>True (default, bit-exact to the code): μ ← tanh(λ before the update); false: tanh of the new λ.</summary>
    public bool MuLagsOneStep { get; }

    /// <inheritdoc/>
    protected override void Update(ParameterGroup group, Parameter parameter, Tensor grad, Dictionary<string, Tensor> state)
    {
        Tensor mu = Slot(state, "mu", parameter.Value, out bool fresh);
        Tensor v = Slot(state, "momentum", parameter.Value, out _);
        int t = NextStep(state);
        double beta = group.Momentum ?? 0;
        double step = group.Lr / (1 - Math.Pow(beta, t));
        if (parameter.DType == DType.Float32) Apply<float>(parameter.Value, grad, mu, v, fresh, beta, step);
        else Apply<double>(parameter.Value, grad, mu, v, fresh, beta, step);
    }

    private void Apply<T>(Tensor parameter, Tensor gradient, Tensor muSlot, Tensor momentumSlot, bool fresh, double betaValue, double stepValue)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<T> lambda = parameter.AsSpan<T>(), mu = muSlot.AsSpan<T>(), v = momentumSlot.AsSpan<T>();
        ReadOnlySpan<T> grad = gradient.AsSpan<T>();
        if (fresh) for (int i = 0; i < lambda.Length; i++) mu[i] = T.Tanh(lambda[i]);
        T one = T.One, tiny = T.CreateChecked(1e-10), scale = T.CreateChecked(TrainSetSize / McSamples);
        T beta = T.CreateChecked(betaValue), oneMinusBeta = one - beta, kappa = T.CreateChecked(KlReweight);
        T prior = T.CreateChecked(PriorLambda), step = T.CreateChecked(stepValue);
        for (int i = 0; i < lambda.Length; i++)
        {
            T gHat = grad[i] / (one - mu[i] * mu[i] + tiny) * scale;
            v[i] = beta * v[i] + oneMinusBeta * (gHat + kappa * (lambda[i] - prior));
            T before = lambda[i];
            lambda[i] = before - step * v[i];
            mu[i] = T.Tanh(MuLagsOneStep ? before : lambda[i]);
        }
    }
}
