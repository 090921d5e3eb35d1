using BinaryGrad.Autograd;
using BinaryGrad.Kernels.Sign;

namespace BinaryGrad.Binarization;

/// <summary>Where a scheme may be used: on activations, on (latent) weights, or on both.</summary>
[Flags]
public enum QuantizerKind
{
    /// <summary>Quantizes layer inputs (activations).</summary>
    Activation = 1,
    /// <summary>Quantizes latent weights θ into the weights the layer uses.</summary>
    Weight = 2,
    /// <summary>Usable on either.</summary>
    Both = Activation | Weight,
}

/// <summary>Where training is, for schemes whose state follows a schedule (temperature, sharpness, annealing).</summary>
/// <param name="Epoch">Completed epochs (0-based current epoch).</param>
/// <param name="Step">Optimizer steps taken so far.</param>
/// <param name="TotalEpochs">Planned epochs (0 = unknown).</param>
/// <param name="TotalSteps">Planned optimizer steps (0 = unknown).</param>
public readonly record struct TrainingProgress(int Epoch, long Step, int TotalEpochs, long TotalSteps)
{
    /// <summary>e/E clamped to [0, 1] (0 when the total is unknown).</summary>
    public double EpochFraction => TotalEpochs > 0 ? Math.Clamp((double)Epoch / TotalEpochs, 0, 1) : 0;

    /// <summary>t/T clamped to [0, 1] (0 when the total is unknown).</summary>
    public double StepFraction => TotalSteps > 0 ? Math.Clamp((double)Step / TotalSteps, 0, 1) : 0;
}

/// <summary>A binarization scheme as one differentiable op: the forward is what the network sees, the backward is
/// the scheme's gradient (for straight-through schemes a declared surrogate, not the derivative of the forward).</summary>
/// <remarks>
/// <para><see cref="Apply"/> records exactly one graph node (a private <see cref="Function"/>) whose inputs are x and the
/// values of <see cref="Parameters"/>, so learnable thresholds and scales receive gradients through the ordinary
/// engine and optimizers see them as <see cref="Parameter"/>s. Schemes never touch the graph themselves. An elementwise
/// scheme derives from <see cref="ElementwiseQuantizer"/> and writes only the scalar <see cref="Forward(double)"/> /
/// <see cref="Derivative(double)"/>; any other derives from <see cref="Quantizer"/> and overrides
/// <see cref="ForwardValues"/> / <see cref="BackwardValues"/> (whole-tensor, float64, row-major). Computation runs in
/// float64 and is rounded once to the input's dtype, which is at least as accurate as a float32 reference.</para>
/// <para>The scalar pair is also the teaching/plotting view of the scheme. For per-tensor schemes (XNOR scale, LAB,
/// SiMaN, …) each subclass documents what the scalar pair means.</para>
/// <para>Sign convention (Larq's, and the Theano BinaryNet code's): sign(0) = +1 everywhere unless the scheme says otherwise; NaN stays NaN.</para>
/// <para>Fast path: the hard-sign straight-through schemes (SteSign, ApproxSign, SwishSign, deterministic
/// BinaryConnect, ScaledSign/MagnitudeAwareSign, PC++ members built from sign/identity/hardtanh/clip/SS_β) also
/// implement <see cref="HasFloat32Path"/>: for a float32 input without scheme parameters, <see cref="Apply"/> then runs
/// their vectorized float32 span kernels (<see cref="SignKernels"/>) — no float64 copies of the tensor, no per-element
/// virtual calls — with results equal to the float64 path (bit for bit, except where a kernel documents a rounding-level
/// difference). The forward keeps a reference to the (contiguous) input for the backward instead of a copy, as
/// PyTorch's saved tensors do: the input must not be modified in place between forward and backward.</para>
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
    /// parameters λ = ±λ_init) overwrite them in place. A checkpoint restore runs afterwards and replaces whatever was
    /// drawn here. Default: a quantizer that owns its parametrization (<see cref="IFactorizedWeight"/>: decomposed
    /// factors, group logits) derives it from the latent weight and mirrors its real-valued weights into it; any
    /// other does nothing.</summary>
    public virtual void Bind(Tensor latentWeight, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(latentWeight);
        if (this is not IFactorizedWeight factorized) return;
        factorized.Initialize(latentWeight);
        factorized.Mirror = latentWeight;
    }

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

    /// <summary>Called by <see cref="Apply"/> before anything else: lazy initialisation that needs the input
    /// (e.g. a scale initialised to mean|θ|) and shape validation.</summary>
    protected virtual void Prepare(Tensor x) { }

    /// <summary>Whole-tensor forward; the default maps <see cref="Forward(double)"/> over the elements.
    /// May store what the backward needs in <see cref="QuantizerCall.Saved"/>.</summary>
    protected virtual double[] ForwardValues(QuantizerCall call)
    {
        double[] y = new double[call.X.Length];
        for (int i = 0; i < y.Length; i++) y[i] = Forward(call.X[i]);
        return y;
    }

    /// <summary>Whole-tensor backward: returns dL/dx and adds parameter gradients into
    /// <paramref name="parameterGrads"/> (one zeroed array per parameter, in <see cref="Parameters"/> order).
    /// The default is <c>dx = dy · Derivative(x)</c>.</summary>
    protected virtual double[] BackwardValues(QuantizerCall call, double[] dy, double[][] parameterGrads)
    {
        double[] dx = new double[dy.Length];
        for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] * Derivative(call.X[i]);
        return dx;
    }

    /// <summary>True for an <see cref="ElementwiseQuantizer"/>: the scheme is only its scalar
    /// <see cref="Forward(double)"/>/<see cref="Derivative(double)"/> pair, so a float32 input without parameters runs
    /// <see cref="ForwardElementwiseFloat32"/>, which gives the float64 path's results bit for bit without its float64
    /// copies of the tensor. A direct subclass of <see cref="Quantizer"/> may override the whole-tensor methods, so it
    /// answers false and always takes the float64 path.</summary>
    private protected virtual bool IsScalarElementwise => false;

    /// <summary>y = (float)Forward(x) per element: the default <see cref="ForwardValues"/> followed by the rounding to
    /// float32 that <c>Tensor.FromValues</c> does, without the float64 arrays.</summary>
    private void ForwardElementwiseFloat32(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = (float)Forward(x[i]);
    }

    /// <summary>dx = (float)(dy·Derivative(x)) per element, as the default <see cref="BackwardValues"/> computes it in float64.</summary>
    private void BackwardElementwiseFloat32(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < x.Length; i++) dx[i] = (float)(dy[i] * Derivative(x[i]));
    }

    /// <summary>True when this instance, in its current mode, has a float32 span kernel (see the class remarks).
    /// Checked once per <see cref="Apply"/> call; the backward of that call then uses <see cref="BackwardFloat32"/>.</summary>
    private protected virtual bool HasFloat32Path => false;

    /// <summary>Float32 forward of the whole tensor: writes y (x's shape) and returns what the backward needs (or null).</summary>
    private protected virtual object? ForwardFloat32(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, Span<float> y) =>
        throw new NotSupportedException($"{Name}: no float32 path.");

    /// <summary>Float32 backward: writes dx = dL/dx from dy, the forward input x and the forward's saved object.</summary>
    private protected virtual void BackwardFloat32(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, object? saved, ReadOnlySpan<float> dy, Span<float> dx) =>
        throw new NotSupportedException($"{Name}: no float32 path.");

    /// <summary>True when this instance has a float32 span kernel for a float32 input together with its parameters
    /// (<see cref="ForwardFloat32WithParameters"/>): parameters are small (one value per channel), so they are passed
    /// as float64 arrays and their gradients accumulated in float64, as on the float64 path.</summary>
    private protected virtual bool HasFloat32ParameterPath => false;

    /// <summary>Float32 forward with the parameter values (in <see cref="Parameters"/> order); returns what the backward needs.</summary>
    private protected virtual object? ForwardFloat32WithParameters(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, double[][] parameters, Span<float> y) =>
        throw new NotSupportedException($"{Name}: no float32 parameter path.");

    /// <summary>Float32 backward with parameters: writes dx and adds parameter gradients into the zeroed
    /// <paramref name="parameterGrads"/>.</summary>
    private protected virtual void BackwardFloat32WithParameters(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, object? saved, double[][] parameters,
        ReadOnlySpan<float> dy, Span<float> dx, double[][] parameterGrads) =>
        throw new NotSupportedException($"{Name}: no float32 parameter path.");

    /// <summary>True when this instance has a float32 span kernel for a float32 input whose parameters are float32
    /// tensors as large as the input or larger (VISPA's low-rank factor Z, K values per weight): they are passed as the
    /// tensors themselves — no float64 copies — and their gradients are written in float32.</summary>
    private protected virtual bool HasFloat32TensorParameterPath => false;

    /// <summary>Float32 forward with the parameter tensors (contiguous, in <see cref="Parameters"/> order); returns what the backward needs.</summary>
    private protected virtual object? ForwardFloat32WithParameterTensors(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, Tensor[] parameters, Span<float> y) =>
        throw new NotSupportedException($"{Name}: no float32 tensor-parameter path.");

    /// <summary>Float32 backward with parameter tensors: writes dx and every element of the (uninitialised) float32
    /// <paramref name="parameterGrads"/>, shaped like the parameters.</summary>
    private protected virtual void BackwardFloat32WithParameterTensors(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, object? saved, Tensor[] parameters,
        ReadOnlySpan<float> dy, Span<float> dx, Tensor[] parameterGrads) =>
        throw new NotSupportedException($"{Name}: no float32 tensor-parameter path.");

    /// <inheritdoc/>
    public override string ToString() => Name;

    /// <summary>One recorded call: input values, shape, parameter values and anything the forward saved.</summary>
    protected sealed class QuantizerCall(double[] x, int[] shape, double[][] parameters)
    {
        /// <summary>Input values, row-major.</summary>
        public double[] X { get; } = x;
        /// <summary>Input shape.</summary>
        public int[] Shape { get; } = shape;
        /// <summary>Values of each parameter at forward time.</summary>
        public double[][] ParameterValues { get; } = parameters;
        /// <summary>Scratch the forward may keep for the backward.</summary>
        public object? Saved { get; set; }
    }
}
