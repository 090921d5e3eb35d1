using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Datasets;
using BinaryGrad.Layers;
using BinaryGrad.Optimizers;
using BinaryGrad.Optimizers.Binary;

namespace BinaryGrad.Cli.Training;

/// <summary>Builds the model named by <c>--model</c> for a data set's image shape.</summary>
public static class ModelFactory
{
    /// <summary>The binary ResNets: <c>resnet20</c> and <c>resnet18</c> (Bi-Real units, the scheme's nonlinearity), a
    /// <c>-basic</c> suffix for He et al.'s two-convolution block, a <c>-prelu</c> suffix for SiMaN's per-channel PReLU
    /// after every unit and ReLU after the stem (<see cref="BlockNonlinearity.PReLU"/>; <c>vgg-small-prelu</c> likewise).</summary>
    private static readonly string[] ResNetNames =
        ["resnet20", "resnet18", "resnet20-basic", "resnet18-basic", "resnet20-prelu", "resnet18-prelu", "resnet20-basic-prelu", "resnet18-basic-prelu"];

    public static readonly string[] Names = ["mlp", "cnn", "vgg-small", "vgg-small-prelu", .. ResNetNames];

    /// <summary>The one-line error for a <c>--model</c> that is not in <see cref="Names"/>, for every command that takes one.</summary>
    public static string Unknown(string name) => $"--model '{name}' is not known; valid models: {string.Join(", ", Names)}.";

    /// <summary>Models built by the binary builders; without a scheme (--scheme none) the same network at full
    /// precision, e.g. the float ResNet-20 to set a 1W/1A run against on the same data.</summary>
    private static readonly string[] BinaryArchitectures = ["vgg-small", "vgg-small-prelu", .. ResNetNames];

    public static Module Create(TrainOptions options, ImageDataset data, Rng rng)
    {
        if (options.Scheme is { } scheme) return CreateBinary(options, scheme, data, rng);
        return CreateFloat(options, data, rng);
    }

    /// <summary>The binary counterpart of <c>--model</c> with the scheme's quantizers in every layer.</summary>
    private static Module CreateBinary(TrainOptions options, SchemeInfo scheme, ImageDataset data, Rng rng)
    {
        try
        {
            scheme.Create(options.SchemeArguments); // validate the arguments once, up front
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"--scheme {scheme.Name}: {e.Message}");
        }
        SchemeInstance NewScheme() => scheme.Create(options.SchemeArguments);
        return options.Model switch
        {
            "mlp" => BinaryModels.Mlp(rng, NewScheme, data.ImageSize, hidden: options.Width, hiddenLayers: 3, data.ClassCount),
            "cnn" => BinaryModels.Cnn(rng, NewScheme, data.Channels, data.ClassCount, SquareSide(options, data, 4)),
            // "-prelu": SiMaN's vgg_small_1w1a, a per-channel PReLU in place of every Hardtanh
            "vgg-small" or "vgg-small-prelu" => BinaryModels.VggSmall(rng, NewScheme, data.Channels, data.ClassCount, SquareSide(options, data, 8), Nonlinearity(options)),
            // Bi-Real units (a real shortcut around every binary conv) by default; "-basic" is He et al.'s two-conv block
            _ when ResNetNames.Contains(options.Model) && options.Model.StartsWith("resnet20", StringComparison.Ordinal) =>
                BinaryResNets.ResNet20(rng, NewScheme, data.Channels, data.ClassCount, SquareSide(options, data, 4), Block(options), nonlinearity: Nonlinearity(options)),
            _ when ResNetNames.Contains(options.Model) =>
                BinaryResNets.ResNet18(rng, NewScheme, data.Channels, data.ClassCount, SquareSide(options, data, 8), Block(options), nonlinearity: Nonlinearity(options)),
            _ => throw new UsageException(Unknown(options.Model)),
        };
    }

    private static ResNetBlock Block(TrainOptions options) => options.Model.Contains("-basic", StringComparison.Ordinal) ? ResNetBlock.Basic : ResNetBlock.BiReal;

    private static BlockNonlinearity Nonlinearity(TrainOptions options) =>
        options.Model.EndsWith("-prelu", StringComparison.Ordinal) ? BlockNonlinearity.PReLU : BlockNonlinearity.Scheme;

    /// <summary>The image side for a conv net that pools <paramref name="divisor"/>× (square images only).</summary>
    private static int SquareSide(TrainOptions options, ImageDataset data, int divisor) =>
        data.Height == data.Width && data.Height % divisor == 0 && data.Height >= divisor ? data.Height
        : throw new UsageException($"--model {options.Model}: images of {data.Name} are {data.Height}×{data.Width}; the model needs square images with a side divisible by {divisor}.");

    private static Module CreateFloat(TrainOptions options, ImageDataset data, Rng rng) => options.Model switch
    {
        "mlp" => Models.Mlp(rng, data.ImageSize, [512, 512], data.ClassCount),
        "cnn" => Models.SmallCnn(rng, data.Channels, data.ClassCount, data.Height),
        // the same network with no quantizer in any layer (the float baseline scheme): ReLU where a 1W/1A run has
        // Hardtanh, float weights and inputs in every convolution — the full-precision reference on the same data
        _ when BinaryArchitectures.Contains(options.Model) => CreateBinary(options, SchemeRegistry.Get(SchemeRegistry.FloatBaselineName), data, rng),
        _ => throw new UsageException(Unknown(options.Model)),
    };
}

/// <summary>Builds the optimizer named by <c>--optimizer</c>.</summary>
public static class OptimizerFactory
{
    public static readonly string[] Names = ["sgd", "adam", "adamw", "bop", "bop2nd", "bayesbinn"];

    /// <summary>The one-line error for an <c>--optimizer</c> that is not in <see cref="Names"/>.</summary>
    public static string Unknown(string name) => $"--optimizer '{name}' is not known; valid optimizers: {string.Join(", ", Names)}.";

    /// <summary>The <c>--optimizer</c> name of the optimizer a scheme implies.</summary>
    public static string NameOf(SchemeOptimizer optimizer) => optimizer switch
    {
        SchemeOptimizer.Adam => "adam",
        SchemeOptimizer.BayesBiNN => "bayesbinn",
        _ => throw new ArgumentOutOfRangeException(nameof(optimizer), optimizer, "no --optimizer name for this optimizer."),
    };

    /// <summary>The optimizer for <paramref name="parameters"/>; <paramref name="trainSetSize"/> (images in the training
    /// set) is BayesBiNN's N.</summary>
    public static Optimizer Create(TrainOptions options, IEnumerable<KeyValuePair<string, Parameter>> parameters, int trainSetSize = 0)
    {
        double lr = options.EffectiveLearningRate;
        return options.EffectiveOptimizer switch
        {
            "sgd" => new Sgd(DecayGroups(options, parameters), lr, momentum: 0.9),
            "adam" => new Adam(DecayGroups(options, parameters), lr),
            "adamw" => new AdamW(DecayGroups(options, parameters), lr),
            // Bop/Bop2ndOrder own the binary latent weights (precision 1); everything else goes to Adam(lr)
            "bop" or "bop2nd" when options.Scheme is null =>
                throw new UsageException($"--optimizer {options.Optimizer} flips binary weights; it needs a binary model (--scheme, e.g. bnn)."),
            "bop" or "bop2nd" => BinaryOptimizers.Create(options.Optimizer, parameters, lr),
            "bayesbinn" => CreateBayesBiNN(options, parameters, lr, trainSetSize),
            _ => throw new UsageException(Unknown(options.Optimizer)),
        };
    }

    /// <summary>One group with <see cref="TrainOptions.EffectiveWeightDecay"/>; or, when the latent binary weights
    /// decay differently (<see cref="TrainOptions.EffectiveLatentWeightDecay"/>), the real parameters in one group and
    /// the latent weights (<see cref="Parameter.Precision"/> = 1) in a second.</summary>
    private static List<ParameterGroup> DecayGroups(TrainOptions options, IEnumerable<KeyValuePair<string, Parameter>> parameters)
    {
        double decay = options.EffectiveWeightDecay, latentDecay = options.EffectiveLatentWeightDecay;
        List<KeyValuePair<string, Parameter>> all = [.. parameters];
        if (latentDecay == decay || !all.Any(e => e.Value.Precision == 1)) return [new ParameterGroup(all) { WeightDecay = decay }];
        return
        [
            new ParameterGroup(all.Where(e => e.Value.Precision != 1)) { WeightDecay = decay },
            new ParameterGroup(all.Where(e => e.Value.Precision == 1)) { WeightDecay = latentDecay },
        ];
    }

    /// <summary>BayesBiNN's optimizer with the scheme's optimizer hyper-parameters (kl-reweight, prior-lambda, momentum,
    /// train-set-scale: defaults merged with --scheme-args).</summary>
    private static Optimizer CreateBayesBiNN(TrainOptions options, IEnumerable<KeyValuePair<string, Parameter>> parameters, double lr, int trainSetSize)
    {
        if (options.Scheme is not { ImpliedOptimizer: SchemeOptimizer.BayesBiNN } scheme)
            throw new UsageException($"--optimizer bayesbinn updates the natural parameters of --scheme {SchemeRegistry.BayesBiNNName}; got --scheme {options.SchemeName}.");
        var settings = scheme.HyperParameters.ToDictionary(h => h.Name, h => h.Default);
        foreach ((string key, double value) in options.SchemeArguments) settings[key] = value;
        return BinaryOptimizers.CreateBayesBiNN(parameters, lr, Math.Max(1, trainSetSize) * settings["train-set-scale"],
            momentum: settings["momentum"], klReweight: settings["kl-reweight"], priorLambda: settings["prior-lambda"]);
    }
}
