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

    /// <summary>Forward passes whose logits evaluation averages: the largest <see cref="Quantizer.EvaluationSamples"/>
    /// of the quantizers (1 for deterministic schemes).</summary>
    public int EvaluationSamples => BinaryLayers.SelectMany(l => l.Quantizers).Select(q => q.EvaluationSamples).DefaultIfEmpty(1).Max();

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
    /// <summary>The BNN MNIST MLP of Hubara et al. 2016 (arXiv:1602.02830), at a configurable width (the paper
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

    /// <summary>A binary CNN for MNIST-sized inputs (s×s, s divisible by 4): real <c>Conv(in→32, 3×3, pad 1)</c> → BN →
    /// act, then binary <c>Conv(32→64)</c> → MP2 → BN → act → binary <c>Conv(64→128)</c> → MP2 → BN → act (3×3, pad 1), then
    /// Flatten → binary <c>FC(128·(s/4)² → classes)</c> → BN1d (the BN head scales the ±dot logits, as BNN's last layer).</summary>
    /// <remarks>The first layer stays real (as in BNN, XNOR-Net and every VGG-Small recipe: binarizing the pixels loses
    /// too much); binary layers binarize their inputs with the scheme's activation quantizer and their filters with its
    /// weight quantizer. Pooling comes before BN (BNN's order, so BN sees the pooled maxima). "act" is the scheme's
    /// learnable nonlinearity if it has one, else Hardtanh (the STE window) when it binarizes activations, else ReLU
    /// (binary-weight-only schemes keep real activations).</remarks>
    public static BinaryClassifier Cnn(Rng rng, Func<SchemeInstance> newScheme, int inChannels = 1, int classes = 10, int imageSize = 28)
    {
        ArgumentNullException.ThrowIfNull(newScheme);
        if (imageSize < 4 || imageSize % 4 != 0)
            throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "BinaryModels.Cnn: the image size must be a positive multiple of 4 (two 2×2 poolings).");
        var body = new Sequential();
        var binary = new List<IBinaryLayer>();
        SchemeInstance first = newScheme();
        Regularizer? regularizer = first.Regularizer;
        body.Add(new Conv2d(inChannels, 32, 3, rng, padding: 1, bias: false)).Add(new BatchNorm2d(32)).Add(Activation(first));
        int width = 32;
        foreach (int outputs in new[] { 64, 128 })
        {
            SchemeInstance scheme = newScheme();
            var conv = new BinaryConv2d(width, outputs, 3, rng, scheme.Weights, scheme.Activations, padding: 1);
            body.Add(conv).Add(new MaxPool2d(2)).Add(new BatchNorm2d(outputs)).Add(Activation(scheme));
            binary.Add(conv);
            width = outputs;
        }
        SchemeInstance head = newScheme();
        int side = imageSize / 4;
        var fc = new BinaryLinear(width * side * side, classes, rng, head.Weights, head.Activations);
        body.Add(new Flatten()).Add(fc).Add(new BatchNorm1d(classes));
        binary.Add(fc);
        return new BinaryClassifier(body, binary, regularizer);
    }

    /// <summary>VGG-Small for CIFAR-10 exactly as RBNN's <c>vgg.py</c>, or with <paramref name="nonlinearity"/>
    /// <see cref="BlockNonlinearity.PReLU"/> as SiMaN's <c>vgg_small_1w1a</c> (a per-channel PReLU in place of every Hardtanh, the stem's too) (Lin et al. 2020, arXiv:2009.13055): real <c>C128(in→128)</c>–BN–Hardtanh,
    /// then binary <c>C128–MP2–BN–Hardtanh, C256–BN–Hardtanh, C256–MP2–BN–Hardtanh, C512–BN–Hardtanh, C512–MP2–BN–Hardtanh</c>
    /// (3×3, pad 1, no bias), then real <c>FC(512·(s/8)² → classes)</c> with bias (8192 → 10 for 32×32 inputs).</summary>
    /// <remarks>Hardtanh is kept whatever the scheme, as in the reference (before a sign it changes nothing in the
    /// forward; its gradient window is the STE's). The scheme's weight quantizer binarizes the five inner convolutions'
    /// filters and its activation quantizer their inputs.</remarks>
    public static BinaryClassifier VggSmall(Rng rng, Func<SchemeInstance> newScheme, int inChannels = 3, int classes = 10, int imageSize = 32,
                                            BlockNonlinearity nonlinearity = BlockNonlinearity.Scheme)
    {
        ArgumentNullException.ThrowIfNull(newScheme);
        if (imageSize < 8 || imageSize % 8 != 0)
            throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "BinaryModels.VggSmall: the image size must be a positive multiple of 8 (three 2×2 poolings).");
        var body = new Sequential();
        var binary = new List<IBinaryLayer>();
        Regularizer? regularizer = null;
        Module Act(int channels) => nonlinearity == BlockNonlinearity.PReLU ? new PReLU(channels) : new HardTanh();
        body.Add(new Conv2d(inChannels, 128, 3, rng, padding: 1, bias: false)).Add(new BatchNorm2d(128)).Add(Act(128));
        int width = 128;
        foreach ((int outputs, bool pool) in new[] { (128, true), (256, false), (256, true), (512, false), (512, true) })
        {
            SchemeInstance scheme = newScheme();
            regularizer ??= scheme.Regularizer;
            var conv = new BinaryConv2d(width, outputs, 3, rng, scheme.Weights, scheme.Activations, padding: 1);
            body.Add(conv);
            if (pool) body.Add(new MaxPool2d(2));
            body.Add(new BatchNorm2d(outputs)).Add(Act(outputs));
            binary.Add(conv);
            width = outputs;
        }
        int side = imageSize / 8;
        body.Add(new Flatten()).Add(new Linear(width * side * side, classes, rng));
        return new BinaryClassifier(body, binary, regularizer);
    }

    /// <summary>The nonlinearity after a binary layer's batch norm: the scheme's learnable one (ReActNet's RPReLU) if it
    /// has one, else Hardtanh (the STE window) when it binarizes activations, else ReLU.</summary>
    internal static Module Activation(SchemeInstance scheme) =>
        scheme.Nonlinearity is { } nonlinearity ? new QuantizerModule(nonlinearity)
        : scheme.Activations is null ? new ReLU() : new HardTanh();
}

/// <summary>The nonlinearity ("act") after the stem and after every binary unit of VGG-Small and the ResNets.</summary>
public enum BlockNonlinearity
{
    /// <summary>The model's reference one: for the ResNets the scheme's learnable nonlinearity if it has one (ReActNet's
    /// RPReLU), else Hardtanh (the STE window, as IR-Net's and RBNN's <c>resnet20_bireal_1w1a</c>) when it binarizes
    /// activations, else ReLU; for VGG-Small Hardtanh (RBNN's <c>vgg.py</c>). The default.</summary>
    Scheme,

    /// <summary>SiMaN's networks (lmbxmu/SiMaN <c>cifar/models_cifar</c>): a per-channel PReLU (slopes initialised to 0.25)
    /// after every unit — in <c>resnet20_1w1a</c> with ReLU after the stem, in <c>vgg_small_1w1a</c> after the stem
    /// too. Unlike Hardtanh it does not clip the real values (the stream the Bi-Real shortcuts carry) nor zero their
    /// gradient outside [−1, 1].</summary>
    PReLU,
}
