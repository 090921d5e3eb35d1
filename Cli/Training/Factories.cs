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
    public static readonly string[] Names = ["mlp", "cnn"];

    public static Module Create(TrainOptions options, ImageDataset data, Rng rng)
    {
        if (options.Scheme != "none") return CreateBinary(options, data, rng);
        return CreateFloat(options, data, rng);
    }

    /// <summary>The binary counterpart of <c>--model</c> with the scheme's quantizers in every layer.</summary>
    private static Module CreateBinary(TrainOptions options, ImageDataset data, Rng rng)
    {
        try
        {
            SchemeRegistry.Create(options.Scheme, options.SchemeArguments); // validate name and arguments once, up front
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"--scheme {options.Scheme}: {e.Message}");
        }
        return options.Model switch
        {
            "mlp" => BinaryModels.Mlp(rng, () => SchemeRegistry.Create(options.Scheme, options.SchemeArguments), data.ImageSize, hidden: options.Width, hiddenLayers: 3, data.ClassCount),
            _ => throw new UsageException($"--scheme {options.Scheme} is available with --model mlp (the binary MLP of methods.md §10.1); '{options.Model}' has no binary variant yet."),
        };
    }

    private static Module CreateFloat(TrainOptions options, ImageDataset data, Rng rng) => options.Model switch
    {
        "mlp" => Models.Mlp(rng, data.ImageSize, [512, 512], data.ClassCount),
        "cnn" => Models.SmallCnn(rng, data.Channels, data.ClassCount, data.Height),
        _ => throw new UsageException($"--model '{options.Model}' is not known; valid models: {string.Join(", ", Names)}."),
    };
}

/// <summary>Builds the optimizer named by <c>--optimizer</c>.</summary>
public static class OptimizerFactory
{
    public static readonly string[] Names = ["sgd", "adam", "adamw", "bop", "bop2nd"];

    public static Optimizer Create(TrainOptions options, IEnumerable<KeyValuePair<string, Parameter>> parameters)
    {
        double lr = options.EffectiveLearningRate;
        return options.Optimizer switch
        {
            "sgd" => new Sgd(parameters, lr, momentum: 0.9),
            "adam" => new Adam(parameters, lr),
            "adamw" => new AdamW(parameters, lr),
            // Bop/Bop2ndOrder own the binary latent weights (precision 1); everything else goes to Adam(lr)
            "bop" or "bop2nd" when options.Scheme == "none" =>
                throw new UsageException($"--optimizer {options.Optimizer} flips binary weights; it needs a binary model (--scheme, e.g. bnn)."),
            "bop" or "bop2nd" => BinaryOptimizers.Create(options.Optimizer, parameters, lr),
            _ => throw new UsageException($"--optimizer '{options.Optimizer}' is not known; valid optimizers: {string.Join(", ", Names)}."),
        };
    }
}
