using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
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
    /// <summary>v2 adds the data section's SHA-256 (<see cref="SafeTensors.ChecksumKey"/>, required) and the names of the
    /// optimizer tensors (<c>optimizerTensors</c>); v1 files still load, verified when they carry a checksum.</summary>
    public const string Format = "binarygrad-checkpoint-v2";
    public const string LegacyFormat = "binarygrad-checkpoint-v1";
    /// <summary>The widest binary MLP a checkpoint (or <c>--width</c>) may ask for: 8192² float32 weights are 256 MiB
    /// per layer, four times that with Adam's state.</summary>
    public const int MaxWidth = 8192;
    /// <summary>The largest work split a checkpoint may record: far beyond any machine's core count, small enough that
    /// a corrupted value cannot ask for millions of ranges per kernel call.</summary>
    public const int MaxWorkSplit = 4096;
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

    public int EpochsDone => _epochsDone;
    public double BestTestAcc => _bestTestAcc;
    public string ModelName => Meta("model");
    public string DatasetName => Meta("dataset");
    public string SchemeName => _metadata.GetValueOrDefault("scheme", SchemeChoice.FloatModel);
    public int Width => _width;
    public IReadOnlyDictionary<string, double> SchemeArguments => _schemeArguments;
    /// <summary>The learning rate the run was written with (<c>learningRate</c>), or null in a checkpoint without it.</summary>
    public double? LearningRate => _learningRate;
    /// <summary>The threads the run's kernels split their work for (<c>workSplit</c>: <c>--work-split</c>, else
    /// <c>--threads</c>), or null in a checkpoint written before it was recorded. Sums split across threads round by
    /// the split, so <c>--resume</c> keeps it to continue the run bit for bit.</summary>
    public int? WorkSplit => _workSplit;
    /// <summary>Written before checkpoints carried a checksum (format v1): its tensor data could not be verified.</summary>
    public bool IsUnverifiedLegacy => _metadata["format"] == LegacyFormat && !_metadata.ContainsKey(SafeTensors.ChecksumKey);

    private int _epochsDone, _width;
    private double _bestTestAcc;
    private double? _learningRate;
    private int? _workSplit;
    private Dictionary<string, double> _schemeArguments = [];

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
            ["scheme"] = options.SchemeName,
            ["schedule"] = options.Schedule,
            ["augment"] = options.Augment,
            ["width"] = options.Width.ToString(CultureInfo.InvariantCulture),
            ["epochs"] = options.Epochs.ToString(CultureInfo.InvariantCulture),
            ["schemeArgs"] = JsonSerializer.Serialize(options.SchemeArguments),
            ["learningRate"] = options.EffectiveLearningRate.ToString("R", CultureInfo.InvariantCulture),
            ["weightDecay"] = options.EffectiveWeightDecay.ToString("R", CultureInfo.InvariantCulture),
            ["warmupEpochs"] = options.WarmupEpochs.ToString(CultureInfo.InvariantCulture),
            ["latentWeightDecay"] = options.EffectiveLatentWeightDecay.ToString("R", CultureInfo.InvariantCulture),
            ["batchSize"] = options.BatchSize.ToString(CultureInfo.InvariantCulture),
            ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
            ["workSplit"] = Kernels.KernelThreads.Count.ToString(CultureInfo.InvariantCulture),
            ["initFrom"] = options.InitFrom ?? "",
            ["optimizerTensors"] = string.Join(",", tensors.Keys.Where(k => k.StartsWith(OptimizerPrefix, StringComparison.Ordinal))),
            ["epochsDone"] = epochsDone.ToString(CultureInfo.InvariantCulture),
            ["bestTestAcc"] = bestTestAcc.ToString("R", CultureInfo.InvariantCulture),
            ["rngState"] = string.Join(",", rng.GetState().Select(w => w.ToString("x16"))),
            ["loaderState"] = string.Join(",", new[] { ls.S0, ls.S1, ls.S2, ls.S3 }.Select(w => w.ToString("x16"))),
        };
        return new Checkpoint(tensors, metadata, "(memory)");
    }

    /// <summary>Writes atomically (temporary file, then rename), so the previous checkpoint survives a crash.</summary>
    public void Save(string path) => SafeTensors.Save(path, _tensors, _metadata);

    /// <exception cref="UsageException">The file is missing, not a regular file, malformed, corrupted (checksum), not a
    /// training checkpoint, or a metadata value or model tensor is out of range; the message names the file and value.</exception>
    public static Checkpoint Load(string path)
    {
        try
        {
            var (tensors, metadata) = SafeTensors.Load(path);
            var checkpoint = new Checkpoint(tensors, metadata, path);
            checkpoint.Validate();
            return checkpoint;
        }
        catch (SafeTensorsException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>Parses and range-checks every metadata value and checks the model tensors are finite, so that nothing
    /// later can fail on (or silently use) a malformed value.</summary>
    private void Validate()
    {
        string format = Meta("format");
        if (format != Format && format != LegacyFormat)
            throw new UsageException($"{_source}: format '{format}' is not {Format} (or {LegacyFormat}).");
        if (format == Format && !_metadata.ContainsKey(SafeTensors.ChecksumKey))
            throw new UsageException($"{_source}: metadata '{SafeTensors.ChecksumKey}' is missing; a {Format} checkpoint carries the SHA-256 of its tensor data.");
        foreach (string key in (string[])["model", "dataset"])
            if (string.IsNullOrWhiteSpace(Meta(key))) throw Bad(key, "a name");
        try { Datasets.DatasetCatalog.Get(DatasetName); }
        catch (ArgumentException) { throw Bad("dataset", "a known data set (mnist, fashion-mnist, cifar10, digits)"); }
        _width = _metadata.TryGetValue("width", out string? w) ? WholeNumber("width", w, 1, MaxWidth) : 1024;
        int epochs = WholeNumber("epochs", Meta("epochs"), 1, int.MaxValue);
        _epochsDone = WholeNumber("epochsDone", Meta("epochsDone"), 0, epochs);
        if (!double.TryParse(Meta("bestTestAcc"), NumberStyles.Float, CultureInfo.InvariantCulture, out _bestTestAcc) || _bestTestAcc is not (>= 0 and <= 1))
            throw Bad("bestTestAcc", "a fraction between 0 and 1");
        if (_metadata.TryGetValue("learningRate", out string? lr))
            _learningRate = double.TryParse(lr, NumberStyles.Float, CultureInfo.InvariantCulture, out double rate) && double.IsFinite(rate) && rate > 0
                ? rate : throw Bad("learningRate", "a positive number");
        if (_metadata.TryGetValue("batchSize", out string? batch)) WholeNumber("batchSize", batch, 1, int.MaxValue);
        if (_metadata.TryGetValue("workSplit", out string? split)) _workSplit = WholeNumber("workSplit", split, 1, MaxWorkSplit);
        _schemeArguments = ParseSchemeArguments(_metadata.GetValueOrDefault("schemeArgs", "{}"));
        HexWords("rngState", 6);
        ulong[] loader = HexWords("loaderState", 4);
        if (loader.All(word => word == 0)) throw Bad("loaderState", "a xoshiro256** state, which is never all zero");
        if (_metadata.TryGetValue("optimizerTensors", out string? names))
        {
            // the writer lists every optimizer tensor it saved; --resume must get all of them back to continue bit for bit
            string[] listed = names.Length == 0 ? [] : names.Split(',');
            if (listed.Any(n => !n.StartsWith(OptimizerPrefix, StringComparison.Ordinal)))
                throw Bad("optimizerTensors", "a comma-separated list of optimizer.* tensor names");
            string[] missing = [.. listed.Where(n => !_tensors.ContainsKey(n))];
            if (missing.Length > 0)
                throw new UsageException($"{_source}: the optimizer state is incomplete: {missing.Length} of {listed.Length} tensors are missing, e.g. '{missing[0]}'; --resume cannot continue the run bit for bit.");
        }
        else if (format == Format) throw new UsageException($"{_source}: metadata 'optimizerTensors' is missing.");
        foreach (var (name, t) in _tensors)
        {
            if (!name.StartsWith(ModelPrefix, StringComparison.Ordinal)) continue;
            double[] values = t.ToDoubleArray();
            int bad = Array.FindIndex(values, v => !double.IsFinite(v));
            if (bad >= 0) throw new UsageException($"{_source}: tensor '{name}' holds {values[bad]} at element {bad}; a trained model's values are finite.");
            if (name.EndsWith("running_var", StringComparison.Ordinal) && Array.FindIndex(values, v => v < 0) is int negative and >= 0)
                throw new UsageException($"{_source}: tensor '{name}' holds the negative variance {values[negative]} at element {negative}.");
        }
    }

    private UsageException Bad(string key, string expected) =>
        new($"{_source}: metadata '{key}' is '{Truncate(_metadata.GetValueOrDefault(key, ""))}', expected {expected}.");

    private static string Truncate(string s) => s.Length <= 60 ? s : s[..60] + "…";

    private int WholeNumber(string key, string text, int min, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max ? v
            : throw Bad(key, $"a whole number from {min} to {max}");

    private ulong[] HexWords(string key, int count)
    {
        string[] parts = Meta(key).Split(',');
        var words = new ulong[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (parts[i].Length is 0 or > 16 || !ulong.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out words[i]))
                throw Bad(key, $"{count} comma-separated hexadecimal 64-bit words");
        return words.Length == count ? words : throw Bad(key, $"{count} comma-separated hexadecimal 64-bit words");
    }

    private Dictionary<string, double> ParseSchemeArguments(string json)
    {
        var result = new Dictionary<string, double>();
        try
        {
            if (JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) is not JsonObject map)
                throw Bad("schemeArgs", "a JSON object of numbers");
            foreach (var (k, v) in map)
            {
                if (v is not JsonValue value || value.GetValueKind() != JsonValueKind.Number || !double.IsFinite(value.GetValue<double>()))
                    throw Bad("schemeArgs", "a JSON object of finite numbers");
                result[k] = value.GetValue<double>();
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw Bad("schemeArgs", "a JSON object of numbers without duplicate keys");
        }
        return result;
    }

    /// <summary>Refuses a checkpoint written for another model, data set or scheme.</summary>
    public void CheckCompatible(TrainOptions options)
    {
        RequireSame("checkpoint", ("model", options.Model), ("dataset", options.Dataset), ("scheme", options.SchemeName),
            ("optimizer", options.Optimizer), ("schedule", options.Schedule), ("augment", options.Augment));
        // checkpoints written before the decay options existed were trained with the optimizer's default on everything
        double old = TrainOptions.DefaultWeightDecay(options.EffectiveOptimizer);
        RequireSameNumber("weight-decay", "weightDecay", options.EffectiveWeightDecay, old);
        RequireSameNumber("latent-weight-decay", "latentWeightDecay", options.EffectiveLatentWeightDecay, old);
        RequireSameNumber("warmup-epochs", "warmupEpochs", options.WarmupEpochs, 0);
    }

    private void RequireSameNumber(string flag, string key, double wanted, double missing)
    {
        string stored = _metadata.GetValueOrDefault(key) ?? missing.ToString("R", CultureInfo.InvariantCulture);
        string given = wanted.ToString("R", CultureInfo.InvariantCulture);
        if (stored != given)
            throw new UsageException($"{_source}: checkpoint was written with --{flag} {stored}, but this run has --{flag} {given}.");
    }

    /// <summary>Refuses, for <c>--init-from</c>, a checkpoint whose weights do not fit this run's network. Only the
    /// network must match; optimizer, schedule and augmentation may change between stages.</summary>
    public void CheckSameNetwork(TrainOptions options) =>
        RequireSame("--init-from checkpoint", ("model", options.Model), ("dataset", options.Dataset), ("scheme", options.SchemeName),
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
        rng.SetState(HexWords("rngState", 6));
        ulong[] l = HexWords("loaderState", 4);
        loader.RandomState = new RandomState(l[0], l[1], l[2], l[3]);
    }
}
