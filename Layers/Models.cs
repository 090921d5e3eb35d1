using BinaryGrad.Autograd;

namespace BinaryGrad.Layers;

/// <summary>Ready-made models for the examples and benchmarks, by builder or by name.</summary>
public static class Models
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["mlp", "cnn"];

    /// <summary>Multi-layer perceptron: features = Flatten → [Linear → BatchNorm1d → ReLU] per hidden width (without
    /// batch norm when <paramref name="batchNorm"/> is false), classifier = Linear → logits.</summary>
    /// <remarks>With batch norm the hidden Linear layers keep their bias (as the PyTorch reference model does), so
    /// parameter counts match it: 784-512-512-10 has 669,706 parameters (+2,048 for batch norm).</remarks>
    public static FeatureClassifier Mlp(Rng rng, int inputs = 784, int[]? hidden = null, int classes = 10, bool batchNorm = true)
    {
        hidden ??= [512, 512];
        var features = new Sequential(new Flatten());
        int width = inputs;
        foreach (int h in hidden)
        {
            features.Add(new Linear(width, h, rng));
            if (batchNorm) features.Add(new BatchNorm1d(h));
            features.Add(new ReLU());
            width = h;
        }
        return new FeatureClassifier(features, new Linear(width, classes, rng));
    }

    /// <summary>Small CNN: features = conv3×3(in→32, pad 1) → BN → ReLU → maxpool2 → conv3×3(32→64, pad 1) → BN → ReLU →
    /// maxpool2; classifier = Flatten → Linear(64·(s/4)² → classes) for s×s inputs (s divisible by 4).</summary>
    public static FeatureClassifier SmallCnn(Rng rng, int inChannels = 1, int classes = 10, int imageSize = 28)
    {
        if (imageSize < 4 || imageSize % 4 != 0)
            throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "SmallCnn: the image size must be a positive multiple of 4 (two 2×2 poolings).");
        var features = new Sequential(
            new Conv2d(inChannels, 32, 3, rng, padding: 1), new BatchNorm2d(32), new ReLU(), new MaxPool2d(2),
            new Conv2d(32, 64, 3, rng, padding: 1), new BatchNorm2d(64), new ReLU(), new MaxPool2d(2));
        int side = imageSize / 4;
        return new FeatureClassifier(features, new Sequential(new Flatten(), new Linear(64 * side * side, classes, rng)));
    }

    /// <summary>Builds the model called <paramref name="name"/> (<c>mlp</c>: MLP over flattened inChannels·imageSize² inputs
    /// with the default hidden widths; <c>cnn</c>: <see cref="SmallCnn"/>).</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the valid ones.</exception>
    public static Module Create(string name, Rng rng, int inChannels = 1, int classes = 10, int imageSize = 28) =>
        name?.ToLowerInvariant() switch
        {
            "mlp" => Mlp(rng, inChannels * imageSize * imageSize, null, classes),
            "cnn" => SmallCnn(rng, inChannels, classes, imageSize),
            _ => throw new ArgumentException($"Unknown model '{name}'; valid names: {string.Join(", ", Names)}.", nameof(name)),
        };
}
