using System.Text;
using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Layers.Inference;

/// <summary>Export: a trained network in evaluation semantics as an inference model.</summary>
public sealed partial class InferenceModel
{
    // ---- export ---------------------------------------------------------------------------------------------

    /// <summary>Converts a trained network (in evaluation semantics) to an inference model for
    /// <paramref name="channels"/>×<paramref name="height"/>×<paramref name="width"/> inputs.</summary>
    /// <remarks>Walks <see cref="Sequential"/>, <see cref="FeatureClassifier"/> and <see cref="BinaryClassifier"/>
    /// containers in forward order. Binary layers must quantize their weights to exact ±1 (hard-sign weight
    /// quantizer, e.g. <c>bnn</c>, <c>ste</c>; scaled signs are refused) and their inputs by a hard sign or not at
    /// all; batch norms become <see cref="AffineLayer"/>s, dropout disappears.</remarks>
    /// <exception cref="NotSupportedException">A layer has no inference form; the message names it.</exception>
    public static InferenceModel FromModule(Module model, int channels, int height, int width, int classes, string dataset)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = new List<InferenceLayer>();
        model.Eval();
        using (GradMode.NoGrad())
            foreach (Module m in Leaves(model)) Convert(m, layers);
        return new InferenceModel(channels, height, width, classes, dataset, layers);
    }

    private static IEnumerable<Module> Leaves(Module m)
    {
        if (m is Sequential or FeatureClassifier or BinaryClassifier)
        {
            foreach ((_, Module child) in m.NamedChildren())
                foreach (Module leaf in Leaves(child)) yield return leaf;
        }
        else yield return m;
    }

    private static void Convert(Module m, List<InferenceLayer> layers)
    {
        switch (m)
        {
            case BinaryLinear b:
            {
                if (b.InputQuantizer is StandardizedSign { Center: true }) layers.Add(new CenteredSignLayer());
                Tensor w = QuantizedWeight(b, b.WeightQuantizer, b.LatentWeight, b.InputQuantizer);
                float[] values = w.ToArray<float>();
                var packed = new ulong[(long)b.OutFeatures * BitPack.WordsPerRow(b.InFeatures)];
                BitPack.PackRows(values, packed, b.OutFeatures, b.InFeatures);
                layers.Add(new BinaryDenseLayer(b.InFeatures, b.OutFeatures, b.InputQuantizer is not null, packed, Floats(b.Bias)));
                break;
            }
            case BinaryConv2d b:
            {
                if (b.InputQuantizer is StandardizedSign { Center: true }) layers.Add(new CenteredSignLayer());
                Tensor w = QuantizedWeight(b, b.WeightQuantizer, b.LatentWeight, b.InputQuantizer);
                var shape = new XnorConv2DShape(1, b.InChannels, b.KernelSize, b.KernelSize, b.OutChannels, b.KernelSize, b.KernelSize, b.Stride, b.Padding);
                var packed = new ulong[(long)b.OutChannels * shape.WeightWordsPerFilter];
                XnorConv2D.PackWeights(w.ToArray<float>(), packed, shape);
                layers.Add(new BinaryConvLayer(b.InChannels, b.OutChannels, b.KernelSize, b.Stride, b.Padding, b.InputQuantizer is not null, packed, Floats(b.Bias)));
                break;
            }
            case Conv2d c:
                layers.Add(new ConvLayer(c.InChannels, c.OutChannels, c.KernelSize, c.Stride, c.Padding, c.Dilation, c.Weight.Value.To(DType.Float32).ToArray<float>(), Floats(c.Bias)));
                break;
            case Linear l:
                layers.Add(new DenseLayer(l.InFeatures, l.OutFeatures, l.Weight.Value.To(DType.Float32).ToArray<float>(), Floats(l.Bias)));
                break;
            case BatchNormBase bn:
                layers.Add(AffineLayer.FromBatchNorm(Floats(bn.Weight), Floats(bn.Bias), bn.RunningMean.To(DType.Float32).ToArray<float>(),
                    bn.RunningVar.To(DType.Float32).ToArray<float>(), bn.Eps, fused: bn is BatchNorm1d));
                break;
            case MaxPool2d p: layers.Add(new MaxPoolLayer(p.KernelSize, p.Stride, p.Padding)); break;
            case HardTanh h: layers.Add(new HardTanhLayer((float)h.Min, (float)h.Max)); break;
            case ReLU: layers.Add(new ReLULayer()); break;
            case PReLU prelu: layers.Add(new PReLULayer(Floats(prelu.Weight)!)); break;
            case Flatten { StartAxis: 1 }: layers.Add(new FlattenLayer()); break;
            case GlobalAvgPool2d: layers.Add(new GlobalAvgPoolLayer()); break;
            case ZeroPadShortcut z: layers.Add(new ZeroPadShortcutLayer(z.InChannels, z.OutChannels, z.Stride)); break;
            case Residual residual:
            {
                var main = new List<InferenceLayer>();
                foreach (Module leaf in Leaves(residual.Main)) Convert(leaf, main);
                var shortcut = new List<InferenceLayer>();
                if (residual.Shortcut is not null)
                    foreach (Module leaf in Leaves(residual.Shortcut)) Convert(leaf, shortcut);
                layers.Add(new ResidualLayer(main, shortcut));
                break;
            }
            case Dropout: break; // identity in evaluation
            default:
                throw new NotSupportedException($"export: layer {m} has no inference form (supported: BinaryLinear, BinaryConv2d, Conv2d, Linear, BatchNorm1d/2d, MaxPool2d, GlobalAvgPool2d, HardTanh, ReLU, PReLU, Flatten, Dropout, Residual, ZeroPadShortcut).");
        }
    }

    /// <summary>The ±1 weights q_w(W) in evaluation mode, after checking both quantizers are exported exactly.</summary>
    private static Tensor QuantizedWeight(Module layer, Quantizer? weights, Parameter latent, Quantizer? inputs)
    {
        if (weights is not null) weights.Training = false; // evaluation semantics (e.g. PC++ deploys sign at test time)
        if (inputs is not null) inputs.Training = false;
        if (weights is not { IsHardSign: true })
            throw new NotSupportedException($"export: {layer}: weight quantizer '{weights?.Name ?? "none"}' does not give exact ±1 weights (a hard sign without scale is required).");
        if (inputs is { IsHardSign: false })
            throw new NotSupportedException($"export: {layer}: input quantizer '{inputs.Name}' is not a hard sign.");
        return weights.Apply(latent.Value).To(DType.Float32);
    }

    private static float[]? Floats(Parameter? p) => p?.Value.To(DType.Float32).ToArray<float>();
}
