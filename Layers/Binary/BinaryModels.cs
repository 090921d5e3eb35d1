using BinaryGrad.Autograd;
using BinaryGrad.Binarization;

namespace BinaryGrad.Layers;

/// <summary>A classifier with binary layers: the trainer reads flip ratios from <see cref="BinaryLayers"/>, drives
/// the quantizers' schedules, and adds the scheme's regularizer (e.g. BD-BNN's kurtosis term) to the loss.</summary>
public sealed class BinaryClassifier : Module
{
    private readonly Sequential _body;

    public BinaryClassifier(Sequential body, IReadOnlyList<IBinaryLayer> binaryLayers, Regularizer? regularizer)
    {
        _body = RegisterModule("layers", body);
        BinaryLayers = binaryLayers;
        Regularizer = regularizer;
    }

    public IReadOnlyList<IBinaryLayer> BinaryLayers { get; }
    public Regularizer? Regularizer { get; }

    public override Tensor Forward(Tensor x) => _body.Forward(x);

    /// <summary>The regularizer's penalty on the latent weights, or null.</summary>
    public Tensor? Penalty() => Regularizer?.Penalty([.. BinaryLayers.Select(l => l.LatentWeight.Value)]);

    /// <summary>Passes training progress to every quantizer and the regularizer (temperatures, sharpness...).</summary>
    public void OnProgress(TrainingProgress progress)
    {
        foreach (IBinaryLayer layer in BinaryLayers)
            foreach (Quantizer q in layer.Quantizers) q.OnProgress(progress);
        Regularizer?.OnProgress(progress);
    }
}

/// <summary>Builders for binary networks.</summary>
public static class BinaryModels
{
    /// <summary>The BNN-style MNIST MLP of methods.md §10.1 (Hubara et al. 2016), at a configurable width (the paper
    /// uses 3×4096; the default here, 3×1024, trains in minutes on two cores): Flatten → BinaryLinear(784→H) → BN →
    /// [BinaryLinear(H→H) → BN]×2 → BinaryLinear(H→10) → BN. Every layer's weights go through the scheme's weight
    /// quantizer; the inputs of every layer but the first (the real pixels, as in BNN) through its activation
    /// quantizer. Schemes without an activation quantizer (binary weights only, e.g. BinaryConnect) use ReLU
    /// activations instead; a scheme's learnable nonlinearity (ReActNet's RPReLU) follows each hidden BN.</summary>
    /// <remarks><paramref name="newScheme"/> creates a fresh scheme instance per layer, since quantizers carry
    /// their own parameters and state.</remarks>
    public static BinaryClassifier Mlp(Rng rng, Func<SchemeInstance> newScheme, int inputs = 784, int hidden = 1024, int hiddenLayers = 3, int classes = 10)
    {
        var body = new Sequential(new Flatten());
        var binary = new List<IBinaryLayer>();
        Regularizer? regularizer = null;
        int width = inputs;
        for (int layer = 0; layer <= hiddenLayers; layer++)
        {
            SchemeInstance scheme = newScheme();
            regularizer ??= scheme.Regularizer;
            bool last = layer == hiddenLayers;
            int outputs = last ? classes : hidden;
            var linear = new BinaryLinear(width, outputs, rng, scheme.Weights, layer == 0 ? null : scheme.Activations);
            body.Add(linear).Add(new BatchNorm1d(outputs));
            binary.Add(linear);
            if (!last)
            {
                if (scheme.Nonlinearity is { } nonlinearity) body.Add(new QuantizerModule(nonlinearity));
                else if (scheme.Activations is null) body.Add(new ReLU());
            }
            width = outputs;
        }
        return new BinaryClassifier(body, binary, regularizer);
    }
}
