using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Layers;

/// <summary><c>y = conv2d(q_a(x), q_w(W)) (+ b)</c>: a square-kernel 2-D convolution over NCHW with a weight quantizer q_w
/// and an optional input quantizer q_a, keeping real latent filters W [out,in,k,k] for training.</summary>
/// <remarks>
/// <para><b>Zero padding.</b> Padded positions contribute 0 to the sum, not ±1: the quantizer runs on the unpadded
/// input, and the convolution pads the quantized tensor with zeros. This is PyTorch's (and Larq's default
/// <c>pad_values = 0</c>) behaviour, and exactly what the bit kernel computes by counting only the valid taps of
/// each receptive field (<see cref="XnorConv2D"/>'s count correction), so the two forwards agree.</para>
/// <para><b>Bit kernel.</b> When both quantizers are hard signs (exactly ±1, no scale) the forward runs on
/// <see cref="XnorConv2D"/>: the input is packed channels-last per call, the filters once per change (cached in
/// evaluation), and the backward is the float convolution's (<see cref="Ops.Conv2D"/>).</para>
/// <para>Initialisation: Glorot-uniform latent filters with fanIn = in·k², fanOut = out·k² (BinaryConnect/BNN).</para>
/// </remarks>
public sealed class BinaryConv2d : Module, IBinaryLayer
{
    private readonly Quantizer? _weightQuantizer, _inputQuantizer;
    private readonly Parameter? _bias;
    private readonly PackedWeightCache _cache = new();
    // The packed ±1 weights of the last training forward, re-packed in place by the next one (the kernel reads them
    // only inside its forward, so the array is free again once that returns).
    private ulong[]? _trainingPacked;
    private XnorConv2DShape _cachedShape;
    private readonly SignFlipCounter _flips;

    /// <summary>Creates the layer; no bias by default (a following batch norm supplies the shift).</summary>
    public BinaryConv2d(int inChannels, int outChannels, int kernelSize, Rng rng, Quantizer? weightQuantizer, Quantizer? inputQuantizer,
                        int stride = 1, int padding = 0, bool bias = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        ArgumentNullException.ThrowIfNull(rng);
        (InChannels, OutChannels, KernelSize, Stride, Padding) = (inChannels, outChannels, kernelSize, stride, padding);
        (_weightQuantizer, _inputQuantizer) = (weightQuantizer, inputQuantizer);
        int taps = kernelSize * kernelSize;
        LatentWeight = RegisterParameter("weight", Tensor.XavierUniform([outChannels, inChannels, kernelSize, kernelSize], inChannels * taps, outChannels * taps, rng),
                                         precision: weightQuantizer is null ? 32 : 1);
        if (bias) _bias = RegisterParameter("bias", Tensor.Zeros([outChannels]));
        weightQuantizer?.Bind(LatentWeight.Value, rng); // factors, logits, natural parameters exist before registration
        if (weightQuantizer is not null) RegisterModule("weight_quantizer", new QuantizerModule(weightQuantizer));
        if (inputQuantizer is not null) RegisterModule("input_quantizer", new QuantizerModule(inputQuantizer));
        _flips = new SignFlipCounter(LatentWeight, weightQuantizer);
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }
    public Parameter LatentWeight { get; }
    public Parameter? Bias => _bias;
    public Quantizer? WeightQuantizer => _weightQuantizer;
    public Quantizer? InputQuantizer => _inputQuantizer;
    public IEnumerable<Quantizer> Quantizers => new[] { _weightQuantizer, _inputQuantizer }.OfType<Quantizer>();

    /// <summary>Allows the bit-kernel forward when the quantizers permit it (default true).</summary>
    public bool UseBitKernel { get; set; } = true;

    /// <summary>Folds a hard <see cref="SteSign"/> input quantizer into the bit-kernel convolution on float32 inputs
    /// without bias (<see cref="BinarySignConv2dFunction"/>: the same values and gradients, two memory passes fewer);
    /// default true. Off, the quantizer runs as its own op.</summary>
    public bool FuseInputSign { get; set; } = true;

    /// <summary>True when the next forward runs on the bit kernel.</summary>
    public bool UsesBitKernel => UseBitKernel && BitKernelPolicy.Applies(_weightQuantizer, _inputQuantizer);

    /// <summary>Output side for an input side: <c>(side + 2·padding − k)/stride + 1</c>.</summary>
    public int OutputSize(int side) => (side + 2 * Padding - KernelSize) / Stride + 1;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 4 || x.Shape[1] != InChannels)
            throw new ArgumentException($"{this}: expected input [N,{InChannels},H,W], got {Shapes.Format(x.Shape)}.");
        if (x.Shape[2] + 2 * Padding < KernelSize || x.Shape[3] + 2 * Padding < KernelSize)
            throw new ArgumentException($"{this}: the {KernelSize}×{KernelSize} kernel does not fit input {Shapes.Format(x.Shape)} padded by {Padding}.");
        foreach (Quantizer q in Quantizers) q.Training = Training;
        bool fuseSign = FuseInputSign && UsesBitKernel && x.Shape[0] > 0 && _bias is null && x.DType == DType.Float32
                        && _inputQuantizer is SteSign { IsHardSign: true };
        Tensor input = fuseSign ? x : _inputQuantizer?.Apply(x) ?? x;
        if (!UsesBitKernel || x.Shape[0] == 0)
        {
            Tensor weight = _weightQuantizer?.Apply(LatentWeight.Value) ?? LatentWeight.Value;
            return Ops.Conv2D(input, weight, _bias?.Value, Stride, Padding);
        }
        var shape = new XnorConv2DShape(x.Shape[0], InChannels, x.Shape[2], x.Shape[3], OutChannels, KernelSize, KernelSize, Stride, Padding);
        Quantizer wq = _weightQuantizer!;
        Tensor quantized;
        ulong[] packed;
        if (BitKernelPolicy.NeedsWeightGraph(LatentWeight, wq))
        {
            quantized = wq.Apply(LatentWeight.Value);
            packed = _trainingPacked = BinaryConv2dFunction.PackWeight(quantized, shape, _trainingPacked);
        }
        else
        {
            // the packed filter layout does not depend on the batch or image size, only on O, C and k
            if (!_cache.IsCurrent(LatentWeight.Value, wq) || _cachedShape.OutChannels == 0)
            {
                Tensor q = wq.Apply(LatentWeight.Value);
                _cache.Store(LatentWeight.Value, wq, q, BinaryConv2dFunction.PackWeight(q, shape));
                _cachedShape = shape;
            }
            (quantized, packed) = (_cache.Quantized!, _cache.Packed);
        }
        if (fuseSign) return new BinarySignConv2dFunction(packed, shape, BinarySignConv2dFunction.Bound(((SteSign)_inputQuantizer!).ClipValue)).Apply(x, quantized);
        var function = new BinaryConv2dFunction(packed, shape);
        return _bias is null ? function.Apply(input, quantized) : function.Apply(input, quantized, _bias.Value);
    }

    /// <inheritdoc/>
    public double FlipRatioSinceLastCall() => _flips.RatioSinceLastCall();

    /// <inheritdoc/>
    public BinaryLayerStatistics Statistics() => BinaryLayerStatistics.Of(LatentWeight.Value, _weightQuantizer);

    /// <inheritdoc/>
    protected override void OnStateLoaded() => _flips.Reset();

    /// <inheritdoc/>
    public override string ToString() =>
        $"BinaryConv2d({InChannels}→{OutChannels}, k={KernelSize}, stride={Stride}, padding={Padding}, weights {_weightQuantizer?.Name ?? "float"}, inputs {_inputQuantizer?.Name ?? "float"})";
}
