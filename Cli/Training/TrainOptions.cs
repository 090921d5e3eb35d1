using BinaryGrad.Binarization;

namespace BinaryGrad.Cli.Training;

/// <summary>Everything that defines a training run. Stored in the checkpoint so that <c>--resume</c> can refuse a
/// checkpoint written for a different model or data set.</summary>
public sealed record TrainOptions
{
    public string Dataset { get; init; } = "mnist";
    public string Model { get; init; } = "mlp";
    public string Optimizer { get; init; } = "adam";
    public double? LearningRate { get; init; }
    /// <summary>L2 weight decay: added to the gradient (<c>g + wd·θ</c>) by sgd and adam, as PyTorch's
    /// <c>weight_decay</c>; decoupled (<c>θ·(1 − lr·wd)</c>) by adamw. Null: adamw 0.01 (PyTorch's default), else 0.
    /// It applies to every parameter, and to the binary layers' latent weights too unless
    /// <see cref="LatentWeightDecay"/> says otherwise.</summary>
    public double? WeightDecay { get; init; }
    /// <summary>Weight decay of the binary layers' latent weights (<see cref="BinaryGrad.Autograd.Parameter.Precision"/>
    /// = 1); null: the same as <see cref="EffectiveWeightDecay"/>. SiMaN's and RBNN's CIFAR code decays the real
    /// parameters (stem, classifier, batch norm) by 5e-4 and the latent weights not at all: only their signs matter,
    /// and decay would pull every latent weight towards zero, where its sign flips on the smallest gradient.</summary>
    public double? LatentWeightDecay { get; init; }
    public int Epochs { get; init; } = 3;
    /// <summary>Learning-rate schedule over the whole run, per step: cosine (default: decays to 0, which gains a few
    /// tenths of a percent on MNIST over a constant rate), constant, or step (×0.1 at 50 % and 75 % of training).</summary>
    public string Schedule { get; init; } = "cosine";
    /// <summary>Epochs of linear warm-up before the cosine decay (<c>lr·(t + 1)/W</c> for the first W steps, per step),
    /// as in SiMaN's and RBNN's CIFAR recipes (5 epochs at lr 0.1); 0 (default) starts at the full rate.</summary>
    public int WarmupEpochs { get; init; }
    public int BatchSize { get; init; } = 128;
    public ulong Seed { get; init; } = 1;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Split every kernel's work as this many threads would (<see cref="BinaryGrad.Kernels.KernelThreads.Count"/>)
    /// while running on <see cref="Threads"/> of them; null: as <see cref="Threads"/>. Sums split across threads
    /// depend on the split, so a run's arithmetic is that of its split: <c>--threads 1 --work-split 2</c> gives a
    /// <c>--threads 2</c> run's results bit for bit on one core (to continue it beside a second run, or on a smaller
    /// machine).</summary>
    public int? WorkSplit { get; init; }
    public string? CheckpointPath { get; init; }
    public bool Resume { get; init; }
    /// <summary>Start from the model weights (and batch-norm statistics) of this checkpoint, with a fresh optimizer,
    /// schedule and epoch count: a second training stage, e.g. fine-tuning a finished run with augmentation or another
    /// learning rate, which <c>--resume</c> (bit-for-bit continuation of the same run) deliberately refuses. The
    /// checkpoint must be for the same model, width, data set and scheme. With <c>--resume</c>, the run's own
    /// checkpoint wins: a resumed stage-2 run already holds its weights.</summary>
    public string? InitFrom { get; init; }
    public string? JsonPath { get; init; }
    public string? DataDirectory { get; init; }
    /// <summary>Directory for per-epoch training curves as SVG (loss, accuracy, flip ratio), or null.</summary>
    public string? PlotDirectory { get; init; }
    /// <summary>The binarization scheme, resolved from <c>--scheme</c> by <see cref="SchemeChoice"/>; null for the float
    /// model (<c>--scheme none</c>).</summary>
    public SchemeInfo? Scheme { get; init; }
    /// <summary>The <c>--scheme</c> name, as shown, reported and stored in the checkpoint (none for the float model).</summary>
    public string SchemeName => SchemeChoice.NameOf(Scheme);
    /// <summary>Training-time augmentation: <c>none</c> (default, so runs stay comparable with earlier ones) or
    /// <c>crop-flip</c>, the standard CIFAR-10 recipe (He et al. 2016, §4.2): a random 32×32 window of the image padded
    /// by 4 zero pixels, mirrored with probability ½ (<see cref="BinaryGrad.Datasets.Augmentation"/>). Test images are
    /// never augmented.</summary>
    public string Augment { get; init; } = "none";
    /// <summary>Zero padding of the random crop for <c>--augment crop-flip</c>.</summary>
    public const int CropPadding = 4;
    /// <summary>Hidden width of the binary MLP (Hubara et al. 2016, arXiv:1602.02830, use 4096; 1024 trains in minutes on two cores).</summary>
    public int Width { get; init; } = 1024;
    public IReadOnlyDictionary<string, double> SchemeArguments { get; init; } = new Dictionary<string, double>();
    /// <summary>Stop after this many epochs of this invocation (simulates an interrupted run in tests).</summary>
    public int? StopAfterEpochs { get; init; }
    /// <summary>Print the progress bar / lines.</summary>
    public bool ShowProgress { get; init; } = true;
    /// <summary>Shown before the epoch on the live progress bar only (e.g. <c>compare</c>'s scheme and run number).</summary>
    public string? ProgressContext { get; init; }

    /// <summary>The learning rate used: --lr, else SGD 0.05, else for Bop/Bop2ndOrder the rate of Adam on the real
    /// parameters, 0.01 (<c>BinaryOptimizers.DefaultRealLearningRate</c>, the Bop paper's), else BayesBiNN 1e-4 (official
    /// MNIST script), else the scheme's own Adam rate where its recipe needs one (<see cref="SchemeInfo.AdamLearningRate"/>:
    /// VISPA 0.02), else 3e-3 for the CNN (it reaches 99 % on MNIST in 3 epochs with it; 1e-3 gave 98.9 %) and 1e-3
    /// for everything else.</summary>
    public double EffectiveLearningRate => LearningRate ?? (Optimizer == "sgd" ? 0.05
        : Optimizer is "bop" or "bop2nd" ? BinaryGrad.Optimizers.Binary.BinaryOptimizers.DefaultRealLearningRate
        : EffectiveOptimizer == "bayesbinn" ? 1e-4
        : Optimizer is "adam" or "adamw" && Scheme?.AdamLearningRate is { } schemeRate ? schemeRate
        : Model == "cnn" && Scheme is null ? 3e-3 : 1e-3);

    /// <summary>The weight decay used: --weight-decay, else 0.01 for adamw and 0 for everything else.</summary>
    public double EffectiveWeightDecay => WeightDecay ?? DefaultWeightDecay(EffectiveOptimizer);

    /// <summary>The latent weights' decay used: --latent-weight-decay, else <see cref="EffectiveWeightDecay"/>.</summary>
    public double EffectiveLatentWeightDecay => LatentWeightDecay ?? EffectiveWeightDecay;

    /// <summary>The weight decay an optimizer gets without --weight-decay (also what checkpoints written before the
    /// option existed were trained with).</summary>
    public static double DefaultWeightDecay(string optimizer) => optimizer == "adamw" ? 0.01 : 0;

    /// <summary>The optimizer used: --optimizer, except that the default adam means the scheme's implied optimizer
    /// (<see cref="SchemeInfo.ImpliedOptimizer"/>: bayesbinn for --scheme bayesbinn, whose latent values are natural
    /// parameters that only the Bayesian learning rule updates meaningfully).</summary>
    public string EffectiveOptimizer => Optimizer == OptimizerFactory.NameOf(SchemeOptimizer.Adam) && Scheme is { } scheme
        ? OptimizerFactory.NameOf(scheme.ImpliedOptimizer) : Optimizer;

    /// <summary>One-line problems with the options, empty when they are valid.</summary>
    public IEnumerable<string> Problems()
    {
        // names first: a typo should fail at once, not after the data set has been fetched and read
        if (!ModelFactory.Names.Contains(Model)) yield return ModelFactory.Unknown(Model);
        if (!OptimizerFactory.Names.Contains(Optimizer)) yield return OptimizerFactory.Unknown(Optimizer);
        if (Epochs <= 0) yield return $"--epochs must be a positive whole number, got {Epochs}.";
        if (BatchSize <= 0) yield return $"--batch-size must be a positive whole number, got {BatchSize}.";
        if (Width is <= 0 or > Checkpoint.MaxWidth) yield return $"--width must be a whole number from 1 to {Checkpoint.MaxWidth}, got {Width}.";
        if (SchemeArguments.Count > 0 && Scheme is null)
            yield return $"--scheme-arg {SchemeArguments.Keys.First()}=… needs --scheme NAME (the float model has no scheme hyper-parameters).";
        // the split is recorded in every checkpoint, whose loader refuses more than MaxWorkSplit: a larger one would
        // write checkpoints that --resume cannot read
        foreach ((string flag, int? value) in new[] { ("--threads", (int?)Threads), ("--work-split", WorkSplit) })
            if (value is int n && n is < 1 or > Checkpoint.MaxWorkSplit)
                yield return $"{flag} must be between 1 and {Checkpoint.MaxWorkSplit}, got {n}.";
        if (LearningRate is { } rate && !(double.IsFinite(rate) && rate > 0)) yield return $"--lr must be a positive finite number, got {rate.ToString(System.Globalization.CultureInfo.InvariantCulture)}.";
        foreach ((string flag, double? value) in new[] { ("--weight-decay", WeightDecay), ("--latent-weight-decay", LatentWeightDecay) })
        {
            if (value is not { } decay) continue;
            if (!(double.IsFinite(decay) && decay >= 0))
                yield return $"{flag} must be a finite number ≥ 0, got {decay.ToString(System.Globalization.CultureInfo.InvariantCulture)}.";
            else if (EffectiveOptimizer is not ("sgd" or "adam" or "adamw"))
                yield return $"{flag} applies to sgd, adam and adamw; --optimizer {EffectiveOptimizer} has none.";
        }
        if (LatentWeightDecay is not null && Scheme is null)
            yield return "--latent-weight-decay needs --scheme NAME (the float model has no latent binary weights).";
        if (WarmupEpochs < 0 || WarmupEpochs >= Epochs && WarmupEpochs > 0)
            yield return $"--warmup-epochs must be a whole number from 0 to --epochs − 1 ({Epochs - 1}), got {WarmupEpochs}.";
        else if (WarmupEpochs > 0 && Schedule != "cosine")
            yield return $"--warmup-epochs goes with --schedule cosine, not {Schedule}.";
        if (Schedule is not ("cosine" or "constant" or "step")) yield return $"--schedule '{Schedule}' is not known; valid schedules: cosine, constant, step.";
        if (Augment is not ("none" or "crop-flip")) yield return $"--augment '{Augment}' is not known; valid choices: none, crop-flip.";
        if (Resume && CheckpointPath is null) yield return "--resume needs --checkpoint PATH (the checkpoint to continue from).";
        // a new stage writes its checkpoint after epoch 1; into the file it started from, that would overwrite stage 1
        if (!Resume && InitFrom is not null && CheckpointPath is not null && Path.GetFullPath(InitFrom) == Path.GetFullPath(CheckpointPath))
            yield return $"--init-from and --checkpoint are the same file ({InitFrom}); the new stage would overwrite the run it starts from. Give --checkpoint another path.";
    }
}
