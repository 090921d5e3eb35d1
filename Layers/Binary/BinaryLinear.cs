using BinaryGrad.Autograd;
using BinaryGrad.Binarization;

namespace BinaryGrad.Layers;

/// <summary>A layer whose weights (and possibly inputs) go through binarization schemes; the trainer reads its
/// statistics each epoch and drives its quantizers' schedules.</summary>
public interface IBinaryLayer
{
    /// <summary>The real-valued latent weights the optimizer updates (<see cref="Parameter.Precision"/> = 1).</summary>
    Parameter LatentWeight { get; }

    /// <summary>The weight and input quantizers (those present).</summary>
    IEnumerable<Quantizer> Quantizers { get; }

    /// <summary>Share of binary weights whose sign changed since the previous call (the first call compares with
    /// the weights at construction, or at the last <see cref="Module.LoadStateDict"/>).</summary>
    double FlipRatioSinceLastCall();

    /// <summary>Saturation and magnitude of the latent weights (see <see cref="BinaryLayerStatistics"/>).</summary>
    BinaryLayerStatistics Statistics() => BinaryLayerStatistics.Of(LatentWeight.Value, Quantizers.FirstOrDefault(q => q.Kind.HasFlag(QuantizerKind.Weight)));
}

/// <summary><c>y = q_a(x) · q_w(W)ᵀ + b</c>: a fully connected layer with a weight quantizer q_w and an optional
/// input quantizer q_a, keeping real latent weights W for training (BinaryConnect's trick). Backward runs through
/// the quantizers' estimators into W and x.</summary>
/// <remarks>When both quantizers are hard signs (<see cref="Quantizer.IsHardSign"/>: exactly ±1, no scale) the
/// forward runs on the XNOR-popcount GEMM (<see cref="Kernels.Binary.BinaryGemm"/>): the input is bit-packed per
/// call, the weights once per change (in evaluation, from a cache; in training they change every step anyway), and
/// the backward is the float formula of <see cref="Ops.Linear"/>. The result equals the float forward exactly.
/// <see cref="UseBitKernel"/> false forces the float path (for comparisons).</remarks>
public sealed class BinaryLinear : Module, IBinaryLayer
{
    private readonly Quantizer? _weightQuantizer, _inputQuantizer;
    private readonly Parameter? _bias;
    private readonly SignFlipCounter _flips;
    private readonly PackedWeightCache _cache = new();
    // The packed ±1 weights of the last training forward, re-packed in place by the next one (the kernel reads them
    // only inside its forward, so the array is free again once that returns).
    private ulong[]? _trainingPacked;

    /// <summary>Creates the layer with Glorot-uniform latent weights (as BinaryConnect) and no bias by default: a
    /// following batch norm supplies the shift.</summary>
    public BinaryLinear(int inFeatures, int outFeatures, Rng rng, Quantizer? weightQuantizer, Quantizer? inputQuantizer, bool bias = false)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        _weightQuantizer = weightQuantizer;
        _inputQuantizer = inputQuantizer;
        LatentWeight = RegisterParameter("weight", Tensor.XavierUniform([outFeatures, inFeatures], inFeatures, outFeatures, rng), precision: weightQuantizer is null ? 32 : 1);
        if (bias) _bias = RegisterParameter("bias", Tensor.Zeros([outFeatures]));
        weightQuantizer?.Bind(LatentWeight.Value, rng); // factors, logits, natural parameters exist before registration
        if (weightQuantizer is not null) RegisterModule("weight_quantizer", new QuantizerModule(weightQuantizer));
        if (inputQuantizer is not null) RegisterModule("input_quantizer", new QuantizerModule(inputQuantizer));
        _flips = new SignFlipCounter(LatentWeight, weightQuantizer);
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Parameter LatentWeight { get; }
    public IEnumerable<Quantizer> Quantizers => new[] { _weightQuantizer, _inputQuantizer }.OfType<Quantizer>();
    public Quantizer? WeightQuantizer => _weightQuantizer;
    public Quantizer? InputQuantizer => _inputQuantizer;
    public Parameter? Bias => _bias;

    /// <summary>Allows the bit-kernel forward when the quantizers permit it (default true).</summary>
    public bool UseBitKernel { get; set; } = true;

    /// <summary>True when the next forward runs on the bit kernel.</summary>
    public bool UsesBitKernel => UseBitKernel && BitKernelPolicy.Applies(_weightQuantizer, _inputQuantizer);

    public override Tensor Forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2 || x.Shape[1] != InFeatures)
            throw new ArgumentException($"BinaryLinear({InFeatures}→{OutFeatures}): expected input [N,{InFeatures}], got {Shapes.Format(x.Shape)}.");
        foreach (Quantizer q in Quantizers) q.Training = Training;
        Tensor input = _inputQuantizer?.Apply(x) ?? x;
        if (!UsesBitKernel)
        {
            Tensor weight = _weightQuantizer?.Apply(LatentWeight.Value) ?? LatentWeight.Value;
            return Ops.Linear(input, weight, _bias?.Value);
        }
        Quantizer wq = _weightQuantizer!;
        Tensor quantized;
        ulong[] packed;
        if (BitKernelPolicy.NeedsWeightGraph(LatentWeight, wq))
        {
            quantized = wq.Apply(LatentWeight.Value);
            packed = _trainingPacked = BinaryLinearFunction.PackWeight(quantized, _trainingPacked);
        }
        else
        {
            if (!_cache.IsCurrent(LatentWeight.Value, wq))
            {
                Tensor q = wq.Apply(LatentWeight.Value);
                _cache.Store(LatentWeight.Value, wq, q, BinaryLinearFunction.PackWeight(q));
            }
            (quantized, packed) = (_cache.Quantized!, _cache.Packed);
        }
        var function = new BinaryLinearFunction(packed);
        return _bias is null ? function.Apply(input, quantized) : function.Apply(input, quantized, _bias.Value);
    }

    /// <inheritdoc/>
    public BinaryLayerStatistics Statistics() => BinaryLayerStatistics.Of(LatentWeight.Value, _weightQuantizer);

    public double FlipRatioSinceLastCall() => _flips.RatioSinceLastCall();

    /// <inheritdoc/>
    protected override void OnStateLoaded() => _flips.Reset();

    public override string ToString() =>
        $"BinaryLinear({InFeatures}→{OutFeatures}, weights {_weightQuantizer?.Name ?? "float"}, inputs {_inputQuantizer?.Name ?? "float"})";
}

/// <summary>Applies a quantizer as a module, and owns its learnable parameters (so they are saved and optimised).</summary>
public sealed class QuantizerModule : Module
{
    public QuantizerModule(Quantizer quantizer)
    {
        Quantizer = quantizer;
        foreach (Parameter p in quantizer.Parameters) RegisterParameter(p);
    }

    public Quantizer Quantizer { get; }

    public override Tensor Forward(Tensor x) => Quantizer.Apply(x);

    public override string ToString() => $"Quantizer({Quantizer.Name})";
}
