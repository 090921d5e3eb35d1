using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>BayesBiNN's weight (Meng, Bachmann, Khan, ICML 2020): the latent tensor holds the natural parameters λ of a
/// mean-field Bernoulli posterior q(w_j = ±1) ∝ exp(λ_j·w_j); training loads a binary-Concrete (Gumbel-softmax)
/// relaxed sample into the network, evaluation the mode sign(μ) (μ = tanh λ) or a Bernoulli sample.</summary>
/// <remarks>
/// <para>Training forward (one Monte-Carlo sample per call, Meng et al. 2020, arXiv:2002.10778):</para>
/// <code>
/// u ~ U(0,1)ⁿ ;  δ = ½·ln(u/(1−u))       logistic noise of scale ½
/// w_r = tanh((λ + δ)/τ)                   relaxed ±1 weights; τ → 0 gives sign(λ + δ)
/// </code>
/// <para>Backward: <c>dλ = dw_r · (1 − w_r² + 1e-10)/τ</c> — the derivative dw_r/dλ with the official code's 1e-10
/// (the numerator of its scale s). The <c>BayesBiNN</c> optimizer (Optimizers/Binary) divides by its stored
/// (1 − μ² + 1e-10) and multiplies by N/M, which completes s ⊙ g of the paper's natural-gradient estimator; so the
/// scale is split between the op (the part that needs the sample w_r) and the optimizer (the part that needs its
/// state μ). With τ ≥ 1e-3 and a fixed noise seed the op is a smooth function of λ and is gradient-checked.</para>
/// <para>Evaluation: <see cref="TestSamples"/> = 0 gives the mode, <c>w = +1 if λ &gt; 0 else −1</c> (μ = 0 maps to −1,
/// as in the code; the code thresholds its stored μ, which lags λ by one optimizer step). <see cref="TestSamples"/> = S &gt; 0
/// draws <c>w = +1 with probability σ(2λ)</c> on every call and the evaluation averages the logits of S calls.</para>
/// <para>Initialisation (<see cref="Bind"/>): <c>λ = ±(λ_init + √λ_std·ε)</c> with a fair random sign, ε ~ N(0,1)
/// (defaults λ_init = 10, λ_std = 0). In float32 the relaxed sample with τ = 1e-10 is exactly ±1, so the numerator
/// is 1e-10/τ = 1 (float64 would differ; see docs/schemes/probabilistic.md).</para>
/// <para>The relaxed sample is computed in the tensor's own precision — in float32 the official code's arithmetic
/// (log, tanh in float32, uniforms with 24 random bits), in float64 the same formulas with 53 random bits.</para>
/// Provenance: verified-code (team-approx-bayes/BayesBiNN › optimizers/BayesBiNN.py). Paper: Meng et al. 2020, arXiv:2002.10778.
/// </remarks>
public sealed class ConcreteBinaryWeight : Quantizer
{
    private Rng _rng;
    private readonly ulong _fixedNoiseSeed;

    /// <summary>Creates the op. <paramref name="fixedNoiseSeed"/> 0 draws fresh noise on every call (training);
    /// k &gt; 0 reuses the same draw (seeded by k) on every call, which makes the op deterministic for gradient checks.</summary>
    /// <exception cref="ArgumentOutOfRangeException">τ not positive, or a negative sample count or λ_std.</exception>
    public ConcreteBinaryWeight(double temperature = 1e-10, int testSamples = 0, double lambdaInit = 10, double lambdaStd = 0, ulong fixedNoiseSeed = 0, ulong seed = 1)
    {
        if (!(temperature > 0) || !double.IsFinite(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "ConcreteBinaryWeight: the temperature τ must be a positive number.");
        ArgumentOutOfRangeException.ThrowIfNegative(testSamples);
        ArgumentOutOfRangeException.ThrowIfNegative(lambdaStd);
        Temperature = temperature;
        TestSamples = testSamples;
        LambdaInit = lambdaInit;
        LambdaStd = lambdaStd;
        _fixedNoiseSeed = fixedNoiseSeed;
        _rng = new Rng(seed);
    }

    /// <summary>Temperature τ of the relaxation (default 1e-10, the official scripts).</summary>
    public double Temperature { get; }

    /// <summary>0: evaluate the mode sign(μ); S &gt; 0: average the logits of S Bernoulli samples.</summary>
    public int TestSamples { get; }

    /// <summary>|λ| at initialisation (λ_init).</summary>
    public double LambdaInit { get; }

    /// <summary>Variance λ_std of the initial |λ| (the code adds √λ_std·ε).</summary>
    public double LambdaStd { get; }

    /// <summary>Replaces the next call's uniform draws u (tests: the hand-computed one-step oracle gives u).</summary>
    public double[]? NextUniforms { get; set; }

    /// <inheritdoc/>
    public override string Name => "concrete_binary_weight";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Weight;
    /// <summary>True in evaluation (mode or Bernoulli sample, exactly ±1); the relaxed training sample is not.</summary>
    public override bool IsHardSign => !Training;
    /// <summary>In training with τ ≥ 1e-3 and a fixed noise draw, w_r is a smooth function of λ and the backward is
    /// its derivative (up to the 1e-10/τ of the code).</summary>
    public override bool IsSmooth => Training && Temperature >= 1e-3 && _fixedNoiseSeed != 0;
    /// <summary>The relaxation's gradient feeds BayesBiNN's natural-gradient estimator.</summary>
    public override bool IsEstimator => !IsSmooth;
    /// <inheritdoc/>
    public override int EvaluationSamples => Math.Max(1, TestSamples);

    /// <summary>Noise-free view: tanh(λ/τ) (training) or the mode sign (evaluation, λ = 0 → −1).</summary>
    public override double Forward(double x) => Training ? Math.Tanh(x / Temperature) : Mode(x);

    /// <summary>(1 − tanh²(λ/τ) + 1e-10)/τ.</summary>
    public override double Derivative(double x)
    {
        double w = Math.Tanh(x / Temperature);
        return (1 - w * w + 1e-10) / Temperature;
    }

    private static double Mode(double lambda) => lambda > 0 ? 1 : -1;

    /// <summary>λ = c·(λ_init + √λ_std·ε) + (1 − c)·(−λ_init + √λ_std·ε'), c ~ Bernoulli(½) (the official
    /// initialisation), then reseeds the noise from <paramref name="rng"/>.</summary>
    public override void Bind(Tensor latentWeight, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(latentWeight);
        ArgumentNullException.ThrowIfNull(rng);
        double[] lambda = new double[latentWeight.Length];
        double spread = Math.Sqrt(LambdaStd);
        for (int i = 0; i < lambda.Length; i++)
        {
            bool positive = rng.NextDouble() < 0.5;
            double eps = spread == 0 ? 0 : spread * rng.Normal();
            lambda[i] = (positive ? LambdaInit : -LambdaInit) + eps;
        }
        TensorElements.Write(latentWeight, lambda);
        _rng = new Rng(rng.NextUInt64());
    }

    /// <summary>The noise source of this call: a fresh stream, or the same seeded stream every call.</summary>
    private Rng CallRng() => _fixedNoiseSeed != 0 ? new Rng(_fixedNoiseSeed) : _rng;

    /// <summary>u in the open interval (0, 1), so ln(u/(1−u)) is finite.</summary>
    private static double Uniform(Rng rng) => ((rng.NextUInt64() >> 11) + 0.5) * (1.0 / (1UL << 53));

    /// <summary>Training: the relaxed sample in T (returned for the backward); evaluation: the mode or a Bernoulli sample.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        if (!Training)
        {
            if (TestSamples == 0)
                for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(Mode(Num.D(x[i])));
            else
            {
                Rng rng = CallRng();
                for (int i = 0; i < x.Length; i++) y[i] = Uniform(rng) < Sigmoid(2 * Num.D(x[i])) ? T.One : T.NegativeOne;
            }
            return null;
        }
        double[]? given = NextUniforms;
        if (given is not null && given.Length != x.Length)
            throw new ArgumentException($"{Name}: NextUniforms has {given.Length} values; the weight has {x.Length}.");
        NextUniforms = null;
        Rng noise = CallRng();
        // u with as many random bits as T has significand bits (24 or 53), so u is exact in T and lies in (0, 1)
        int bits = 1 - T.ILogB(T.BitIncrement(T.One) - T.One);
        double unit = 1.0 / (1UL << bits);
        T tau = Num.R<T>(Temperature), two = T.One + T.One;
        T[] w = new T[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            T u = given is null ? Num.R<T>(((noise.NextUInt64() >> (64 - bits)) + 0.5) * unit) : Num.R<T>(given[i]);
            T delta = T.Log(u / (T.One - u)) / two;
            w[i] = T.Tanh((x[i] + delta) / tau);
        }
        w.CopyTo(y);
        return w;
    }

    private static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    /// <summary>dλ = dw·(1 − w_r² + 1e-10)/τ in T (so in float32 |w_r| = 1 gives exactly 1e-10/τ); zero in evaluation:
    /// the mode/sample has no gradient.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        if (saved is not T[] w)
        {
            dx.Clear();
            return;
        }
        T tau = Num.R<T>(Temperature), eps = Num.R<T>(1e-10);
        for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] * ((T.One - w[i] * w[i] + eps) / tau);
    }
}
