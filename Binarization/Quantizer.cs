using System.Numerics;
using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>A binarization scheme as one differentiable op: the forward is what the network sees, the backward is
/// the scheme's gradient (for straight-through schemes a declared surrogate, not the derivative of the forward).</summary>
/// <remarks>
/// <para>One contract, written once for float32 and float64 (as the autograd's unary kernels): the whole-tensor
/// <see cref="Forward{T}"/> and <see cref="Backward{T}"/> over spans. <see cref="Apply"/> records exactly one graph
/// node whose inputs are x and the values of <see cref="Parameters"/>, so learnable thresholds and scales receive
/// gradients through the ordinary engine and optimizers see them as <see cref="Parameter"/>s; schemes never touch the
/// graph. T is float only when x and every parameter are float32; otherwise the op runs in float64 and its results
/// are rounded once to each tensor's dtype, so no parameter value is rounded on the way in.</para>
/// <para>Numerics: a scheme computes in float64 per element and rounds once to T (at least as accurate as a float32
/// reference), except where it calls a float32 kernel of <c>Kernels.Sign</c> (through <c>SignSpans</c>), which
/// documents any rounding-level difference. An elementwise scheme derives from <see cref="ElementwiseQuantizer"/>
/// and writes only the scalar <see cref="Forward(double)"/>/<see cref="Derivative(double)"/>, which are also the
/// teaching/plotting view of every scheme (per-tensor schemes document what the pair means).</para>
/// <para>Sign convention (Larq's, and the Theano BinaryNet code's): sign(0) = +1 everywhere unless the scheme says
/// otherwise; NaN stays NaN. The forward keeps a reference to the (contiguous) input for the backward instead of a
/// copy, as PyTorch's saved tensors do: the input must not be modified in place between forward and backward.</para>
/// </remarks>
public abstract partial class Quantizer
{
    /// <summary>Op name shown in graphs, e.g. <c>ste_sign</c>.</summary>
    public abstract string Name { get; }

    /// <summary>Activations, weights or both.</summary>
    public abstract QuantizerKind Kind { get; }

    /// <summary>True when the forward output is exactly ±1 in the current mode: binary kernels may then pack it to bits.</summary>
    public abstract bool IsHardSign { get; }

    /// <summary>True when the forward is differentiable (almost everywhere) and the backward is its exact derivative:
    /// such schemes are gradient-checked (<see cref="SchemeGradChecks"/>).</summary>
    public abstract bool IsSmooth { get; }

    /// <summary>True when the backward is an estimator (graphs mark the node); by default every non-smooth scheme.</summary>
    public virtual bool IsEstimator => !IsSmooth;

    /// <summary>Training mode (default). Some schemes behave differently at test time (stochastic BinaryConnect,
    /// annealed PC++ members that deploy <c>sign</c>).</summary>
    public bool Training { get; set; } = true;

    /// <summary>Learnable tensors the scheme owns (thresholds, scales); empty by default.</summary>
    public virtual IEnumerable<Parameter> Parameters => [];

    /// <summary>Updates schedule-driven state (temperature, sharpness, percentiles). Idempotent: the state is a
    /// function of <paramref name="progress"/> only.</summary>
    public virtual void OnProgress(TrainingProgress progress) { }

    /// <summary>Called once by the layer that owns this weight quantizer, before its parameters are registered, with
    /// the layer's latent weight and the model's RNG. Schemes whose state is shaped like the weight (VISPA's low-rank
    /// factor Z) create it here; schemes with their own initialisation of the latent values (BayesBiNN's natural
    /// parameters λ = ±λ_init) overwrite them in place; quantizers that own their parametrization
    /// (<see cref="IFactorizedWeight"/>: decomposed factors, group logits) derive it from the latent weight and mirror
    /// their real-valued weights into it. A checkpoint restore runs afterwards and replaces whatever was drawn here.
    /// Default: nothing.</summary>
    public virtual void Bind(Tensor latentWeight, Rng rng) => ArgumentNullException.ThrowIfNull(latentWeight);

    /// <summary>Forward passes whose logits evaluation averages (test-time Monte-Carlo sampling of stochastic
    /// schemes: VISPA, BayesBiNN with test samples); 1 for deterministic schemes.</summary>
    public virtual int EvaluationSamples => 1;

    /// <summary>The scalar forward q(x).</summary>
    public abstract double Forward(double x);

    /// <summary>The scalar backward factor q'(x): dx = dy · q'(x) (the surrogate for straight-through schemes).</summary>
    public abstract double Derivative(double x);

    /// <summary>Applies the scheme to <paramref name="x"/> as one graph node (float32 or float64; output has x's shape
    /// and dtype).</summary>
    public Tensor Apply(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        Prepare(x);
        Parameter[] ps = [.. Parameters];
        var inputs = new Tensor[1 + ps.Length];
        inputs[0] = x;
        for (int i = 0; i < ps.Length; i++) inputs[i + 1] = ps[i].Value;
        return new QuantizerFunction(this).Apply(inputs);
    }

    /// <summary>True (the default) when the binary weight deployed is the sign of the latent value (scaled or not), so a
    /// layer counts its flips on the latent signs. False for a weight quantizer whose binary value is decided
    /// otherwise (SiMaN: by magnitude rank within the filter); the layer then counts flips on this quantizer's
    /// evaluation output, which must be cheap and free of lazy initialisation.</summary>
    public virtual bool BinaryIsLatentSign => true;

    /// <summary>True when this quantizer's Forward writes every element of y and its Backward every element of dx
    /// whatever the input (NaNs included), so the graph node can hand them out uncleared: y skips the zero fill, and
    /// dx becomes a gradient buffer the engine owns and adds the input's other gradients into (a residual shortcut's)
    /// instead of copying both into a new sum — the same floats, as addition commutes. False by default: a quantizer
    /// that leaves an element alone then still gets zeros.</summary>
    protected internal virtual bool WritesEveryElement => false;

    /// <summary>Called by <see cref="Apply"/> before anything else: lazy initialisation that needs the input
    /// (e.g. a scale initialised to mean|θ|) and shape validation.</summary>
    protected virtual void Prepare(Tensor x) { }

    /// <summary>The whole-tensor forward: writes every element of <paramref name="y"/> (x's shape, row-major) from x
    /// and the parameter values <paramref name="p"/>; returns what the backward needs (or null).</summary>
    protected abstract object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>;

    /// <summary>The whole-tensor backward: writes every element of <paramref name="dx"/> = dL/dx from dy, the forward's
    /// input and its <paramref name="saved"/> object, and adds the parameters' gradients into
    /// <see cref="QuantizerParameters{T}.Gradient"/> (or writes them into <see cref="QuantizerParameters{T}.GradientStorage"/>).</summary>
    protected abstract void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p,
        ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>;

    /// <inheritdoc/>
    public override string ToString() => Name;
}
