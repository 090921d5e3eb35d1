using System.Globalization;
using System.Text.Json;
using BinaryGrad.Autograd;
using BinaryGrad.Autograd.Serialization;
using BinaryGrad.Datasets;
using BinaryGrad.Layers;
using BinaryGrad.Optimizers;

namespace BinaryGrad.Cli.Training;

/// <summary>A training run's complete state in one safetensors file: model parameters and buffers
/// (<c>model.*</c>), optimizer state (<c>optimizer.*</c>), and in the metadata the run's configuration, the epoch,
/// the model RNG state and the data loader's RNG state — everything needed to continue bit for bit.</summary>
public sealed class Checkpoint
{
    public const string Format = "binarygrad-checkpoint-v1";
    private const string ModelPrefix = "model.", OptimizerPrefix = "optimizer.";

    private readonly Dictionary<string, Tensor> _tensors;
    private readonly Dictionary<string, string> _metadata;
    private readonly string _source;

    private Checkpoint(Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata, string source)
    {
        _tensors = tensors;
        _metadata = metadata;
        _source = source;
    }

    public int EpochsDone => int.Parse(Meta("epochsDone"), CultureInfo.InvariantCulture);
    public double BestTestAcc => double.Parse(Meta("bestTestAcc"), CultureInfo.InvariantCulture);
    public string ModelName => Meta("model");
    public string DatasetName => Meta("dataset");
    public string SchemeName => _metadata.GetValueOrDefault("scheme", "none");
    public int Width => int.Parse(_metadata.GetValueOrDefault("width", "1024"), CultureInfo.InvariantCulture);
    public IReadOnlyDictionary<string, double> SchemeArguments =>
        JsonSerializer.Deserialize<Dictionary<string, double>>(_metadata.GetValueOrDefault("schemeArgs", "{}")) ?? [];

    /// <summary>The model's state dict (names without the <c>model.</c> prefix).</summary>
    public Dictionary<string, Tensor> ModelState =>
        _tensors.Where(kv => kv.Key.StartsWith(ModelPrefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[ModelPrefix.Length..], kv => kv.Value);

    private string Meta(string key) =>
        _metadata.TryGetValue(key, out string? value) ? value
            : throw new UsageException($"{_source}: not a BinaryGrad training checkpoint (metadata '{key}' is missing).");

    public static Checkpoint Capture(TrainOptions options, int epochsDone, double bestTestAcc, Module model, Optimizer optimizer, Rng rng, DataLoader loader)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, t) in model.StateDict()) tensors[ModelPrefix + name] = t;
        foreach (var (name, t) in optimizer.StateDict()) tensors[OptimizerPrefix + name] = t;
        RandomState ls = loader.RandomState;
        var metadata = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["model"] = options.Model,
            ["dataset"] = options.Dataset,
            ["optimizer"] = options.Optimizer,
            ["scheme"] = options.Scheme,
            ["schedule"] = options.Schedule,
            ["augment"] = options.Augment,
            ["width"] = options.Width.ToString(CultureInfo.InvariantCulture),
            ["epochs"] = options.Epochs.ToString(CultureInfo.InvariantCulture),
            ["schemeArgs"] = JsonSerializer.Serialize(options.SchemeArguments),
            ["learningRate"] = options.EffectiveLearningRate.ToString("R", CultureInfo.InvariantCulture),
            ["batchSize"] = options.BatchSize.ToString(CultureInfo.InvariantCulture),
            ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
            ["initFrom"] = options.InitFrom ?? "",
            ["epochsDone"] = epochsDone.ToString(CultureInfo.InvariantCulture),
            ["bestTestAcc"] = bestTestAcc.ToString("R", CultureInfo.InvariantCulture),
            ["rngState"] = string.Join(",", rng.GetState().Select(w => w.ToString("x16"))),
            ["loaderState"] = string.Join(",", new[] { ls.S0, ls.S1, ls.S2, ls.S3 }.Select(w => w.ToString("x16"))),
        };
        return new Checkpoint(tensors, metadata, "(memory)");
    }

    /// <summary>Writes atomically (temporary file, then rename), so the previous checkpoint survives a crash.</summary>
    public void Save(string path) => SafeTensors.Save(path, _tensors, _metadata);

    /// <exception cref="UsageException">The file is missing, malformed or not a training checkpoint.</exception>
    public static Checkpoint Load(string path)
    {
        if (Directory.Exists(path)) throw new UsageException($"{path}: is a directory; give the checkpoint file (.safetensors) written by 'binarygrad train --checkpoint'.");
        if (!File.Exists(path)) throw new UsageException($"{path}: checkpoint not found.");
        try
        {
            var (tensors, metadata) = SafeTensors.Load(path);
            var checkpoint = new Checkpoint(tensors, metadata, path);
            if (checkpoint.Meta("format") != Format)
                throw new UsageException($"{path}: format '{metadata["format"]}' is not {Format}.");
            return checkpoint;
        }
        catch (SafeTensorsException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>Refuses a checkpoint written for another model, data set or scheme.</summary>
    public void CheckCompatible(TrainOptions options) =>
        RequireSame("checkpoint", ("model", options.Model), ("dataset", options.Dataset), ("scheme", options.Scheme),
            ("optimizer", options.Optimizer), ("schedule", options.Schedule), ("augment", options.Augment));

    /// <summary>Refuses, for <c>--init-from</c>, a checkpoint whose weights do not fit this run's network. Only the
    /// network must match; optimizer, schedule and augmentation may change between stages.</summary>
    public void CheckSameNetwork(TrainOptions options) =>
        RequireSame("--init-from checkpoint", ("model", options.Model), ("dataset", options.Dataset), ("scheme", options.Scheme),
            ("width", options.Width.ToString(CultureInfo.InvariantCulture)));

    private void RequireSame(string what, params (string Key, string Wanted)[] options)
    {
        foreach (var (key, wanted) in options)
        {
            string stored = _metadata.GetValueOrDefault(key, "none");
            if (stored != wanted)
                throw new UsageException($"{_source}: {what} was written with --{key} {stored}, but this run has --{key} {wanted}.");
        }
    }

    /// <summary>Loads the model's parameters and buffers only (<c>--init-from</c>); optimizer and RNG start fresh.</summary>
    public void RestoreModel(Module model)
    {
        try { model.LoadStateDict(ModelState, strict: true); }
        catch (ArgumentException e) { throw new UsageException($"{_source}: {e.Message}"); }
    }

    /// <summary>Loads model, optimizer and both RNG states.</summary>
    public void Restore(Module model, Optimizer optimizer, Rng rng, DataLoader loader)
    {
        RestoreModel(model);
        try
        {
            optimizer.LoadStateDict(_tensors.Where(kv => kv.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[OptimizerPrefix.Length..], kv => kv.Value));
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{_source}: {e.Message}");
        }
        rng.SetState([.. Meta("rngState").Split(',').Select(h => ulong.Parse(h, NumberStyles.HexNumber))]);
        ulong[] l = [.. Meta("loaderState").Split(',').Select(h => ulong.Parse(h, NumberStyles.HexNumber))];
        loader.RandomState = new RandomState(l[0], l[1], l[2], l[3]);
    }
}
