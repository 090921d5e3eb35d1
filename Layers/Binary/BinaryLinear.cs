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
    /// the initial weights).</summary>
    double FlipRatioSinceLastCall();
}

/// <summary><c>y = q_a(x) · q_w(W)ᵀ + b</c>: a fully connected layer with a weight quantizer q_w and an optional
/// input quantizer q_a, keeping real latent weights W for training (BinaryConnect's trick). Backward runs through
/// the quantizers' estimators into W and x.</summary>
public sealed class BinaryLinear : Module, IBinaryLayer
{
    private readonly Quantizer? _weightQuantizer, _inputQuantizer;
    private readonly Parameter? _bias;
    private float[] _previousSigns;

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
        if (weightQuantizer is not null) RegisterModule("weight_quantizer", new QuantizerModule(weightQuantizer));
        if (inputQuantizer is not null) RegisterModule("input_quantizer", new QuantizerModule(inputQuantizer));
        _previousSigns = Signs();
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Parameter LatentWeight { get; }
    public IEnumerable<Quantizer> Quantizers => new[] { _weightQuantizer, _inputQuantizer }.OfType<Quantizer>();

    public override Tensor Forward(Tensor x)
    {
        if (x.Rank != 2 || x.Shape[1] != InFeatures)
            throw new ArgumentException($"BinaryLinear({InFeatures}→{OutFeatures}): expected input [N,{InFeatures}], got {Shapes.Format(x.Shape)}.");
        Tensor input = _inputQuantizer?.Apply(x) ?? x;
        Tensor weight = _weightQuantizer?.Apply(LatentWeight.Value) ?? LatentWeight.Value;
        return Ops.Linear(input, weight, _bias?.Value);
    }

    public double FlipRatioSinceLastCall()
    {
        float[] now = Signs();
        int flips = 0;
        for (int i = 0; i < now.Length; i++) if (now[i] != _previousSigns[i]) flips++;
        _previousSigns = now;
        return now.Length == 0 ? 0 : (double)flips / now.Length;
    }

    private float[] Signs()
    {
        double[] w = LatentWeight.Value.ToDoubleArray();
        var s = new float[w.Length];
        for (int i = 0; i < w.Length; i++) s[i] = w[i] >= 0 ? 1 : -1;
        return s;
    }

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
