using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Datasets;
using BinaryGrad.Kernels;
using BinaryGrad.Layers;
using BinaryGrad.Optimizers;

namespace BinaryGrad.Cli.Training;

/// <summary>Input the user must fix (unknown name, bad option, incompatible checkpoint): exit code 2, one line.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>The run diverged (<see cref="DivergenceRule"/>): exit code 3; the last good checkpoint is kept.</summary>
public sealed class DivergedException(string message) : Exception(message);

/// <summary>One epoch's figures, as written to the <c>--json</c> file.</summary>
public sealed record EpochReport(int Epoch, double TrainLoss, double TrainAcc, double TestAcc, double ImagesPerSec, double Seconds, double? FlipRatio)
{
    /// <summary>Per binary layer: flip ratio this epoch, share of latent weights outside the estimator's pass-through
    /// region, mean |latent| (empty for float models).</summary>
    public IReadOnlyList<BinaryLayerReport> BinaryLayers { get; init; } = [];
}

/// <summary>One binary layer's figures for an epoch.</summary>
public sealed record BinaryLayerReport(int Layer, double FlipRatio, double OutsidePassThrough, double MeanAbsLatent);

/// <summary>The training loop behind <c>binarygrad train</c>: data, model, optimizer, per-epoch evaluation,
/// JSON reports and checkpoints that resume bit for bit.</summary>
public sealed class Trainer
{
    private readonly TrainOptions _options;
    private readonly TextWriter _out;

    public Trainer(TrainOptions options, TextWriter output)
    {
        _options = options;
        _out = output;
    }

    /// <summary>Continues a resumed run on the work split it was trained with (sums split across threads round by the
    /// split), so that <c>--resume</c> stays bit for bit whatever <c>--threads</c> this machine is given; an explicit
    /// other <c>--work-split</c> wins, with a note that the rounding changes from here on.</summary>
    private void KeepWorkSplit(Checkpoint state, string path)
    {
        if (state.WorkSplit is not int split || split == KernelThreads.Count) return;
        if (_options.WorkSplit is int chosen)
        {
            Say($"note: {path} was trained with its work split as {split} threads; --work-split {chosen} rounds its sums otherwise from here on, " +
                "so the run is no longer bit for bit an uninterrupted one.");
            return;
        }
        KernelThreads.Count = split;
        KernelThreads.ThreadLimit = _options.Threads;
        Say($"note: {path} was trained with its work split as {split} threads; continuing with that split on " +
            $"{KernelThreads.RunningThreads} thread{(KernelThreads.RunningThreads == 1 ? "" : "s")}, bit for bit (--work-split N changes it).");
    }

    /// <summary>Per-epoch reports of this invocation.</summary>
    public List<EpochReport> Reports { get; } = [];

    /// <summary>The trained model (after <see cref="Run"/>).</summary>
    public Module? Model { get; private set; }

    /// <summary>Trains as configured; returns the best test accuracy.</summary>
    /// <exception cref="UsageException">Bad options, data or checkpoint.</exception>
    /// <exception cref="DivergedException">The loss became NaN or infinite.</exception>
    public double Run(ImageDataset? trainOverride = null, ImageDataset? testOverride = null)
    {
        string? problem = _options.Problems().FirstOrDefault();
        if (problem is not null) throw new UsageException(problem);
        CheckOutputs();
        KernelThreads.Count = _options.WorkSplit ?? _options.Threads;
        KernelThreads.ThreadLimit = _options.WorkSplit is null ? null : _options.Threads;

        ImageDataset train = trainOverride ?? LoadData(DatasetSplit.Train);
        ImageDataset test = testOverride ?? LoadData(DatasetSplit.Test);
        var rng = new Rng(_options.Seed);
        Module model;
        try
        {
            model = ModelFactory.Create(_options, train, rng);
            DryRun(model, train, rng);
        }
        catch (ArgumentException e)
        {
            // a layer refused its configuration (e.g. --scheme-arg channels=2 for a scheme whose layers need the input's
            // channel count): the options are at fault, so it is bad input, not a defect
            throw new UsageException($"--model {_options.Model} --scheme {_options.SchemeName}" +
                string.Concat(_options.SchemeArguments.Select(a => $" --scheme-arg {a.Key}={a.Value.ToString(CultureInfo.InvariantCulture)}")) +
                $" cannot be built or run: {e.Message}");
        }
        Model = model;
        // Batch norm normalizes by the batch's own statistics in training, which one image does not have (its variance
        // is 0 and the layer refuses it). A final batch of one image is therefore dropped: that image is still seen in
        // other epochs (shuffling), and every other batch size keeps its partial last batch.
        bool batchNorm = model.NamedBuffers().Any(b => b.Key.EndsWith("running_var", StringComparison.Ordinal));
        if (batchNorm && Math.Min(_options.BatchSize, train.Count) == 1)
            throw new UsageException($"--batch-size {_options.BatchSize}: {_options.Model} has batch norm, which needs at least 2 images per training batch.");
        bool dropLast = batchNorm && train.Count > _options.BatchSize && train.Count % _options.BatchSize == 1;
        Optimizer optimizer = OptimizerFactory.Create(_options, model.NamedParameters(), train.Count);
        Normalization normalization = Normalization.For(_options.Dataset);
        var loader = new DataLoader(train, new DataLoaderOptions
        {
            BatchSize = _options.BatchSize, Shuffle = true, Seed = _options.Seed ^ 0x5DEECE66DUL, DropLast = dropLast,
            Normalization = normalization, Prefetch = true,
            RandomCropPadding = _options.Augment == "crop-flip" ? TrainOptions.CropPadding : 0,
            RandomHorizontalFlip = _options.Augment == "crop-flip",
        });

        int startEpoch = 0;
        double bestTestAcc = 0;
        if (_options.Resume && _options.CheckpointPath is { } resumeFrom)
        {
            Checkpoint state = Checkpoint.Load(resumeFrom);
            state.CheckCompatible(_options);
            // --resume continues one run bit for bit, learning rate included; a new rate is a new stage (--init-from)
            if (_options.LearningRate is double wanted && state.LearningRate is double stored && wanted != stored)
                throw new UsageException($"--resume with --lr {wanted.ToString(CultureInfo.InvariantCulture)}: {resumeFrom} continues at the run's own rate {stored.ToString("R", CultureInfo.InvariantCulture)}; " +
                    "drop --lr, or start a new stage with --init-from and another --checkpoint.");
            if (state.IsUnverifiedLegacy) Say($"note: {resumeFrom} was written before checkpoints carried a checksum; its data cannot be verified.");
            KeepWorkSplit(state, resumeFrom);
            state.Restore(model, optimizer, rng, loader);
            startEpoch = state.EpochsDone;
            bestTestAcc = state.BestTestAcc;
            Say($"Resuming from {resumeFrom} after epoch {startEpoch}.");
        }
        else if (_options.InitFrom is { } initFrom)
        {
            Checkpoint stage1 = Checkpoint.Load(initFrom);
            stage1.CheckSameNetwork(_options);
            stage1.RestoreModel(model);
            Say($"Starting from the weights of {initFrom} ({stage1.EpochsDone} epochs, best test accuracy {stage1.BestTestAcc:P2}); fresh optimizer and schedule.");
        }

        long parameters = model.Parameters().Sum(p => (long)p.Length);
        Say($"{Simd.IsaLine}");
        Say($"Training {_options.Model} ({parameters:N0} parameters, scheme {_options.SchemeName}) on {train.Name}: {train.Count} train / {test.Count} test images, " +
            $"{_options.EffectiveOptimizer} lr {_options.EffectiveLearningRate.ToString(CultureInfo.InvariantCulture)}" +
            (_options.EffectiveWeightDecay == 0 ? "" : $" weight decay {_options.EffectiveWeightDecay.ToString(CultureInfo.InvariantCulture)}") +
            (_options.EffectiveLatentWeightDecay == _options.EffectiveWeightDecay ? "" : $" (latent weights {_options.EffectiveLatentWeightDecay.ToString(CultureInfo.InvariantCulture)})") + $", batch {_options.BatchSize}, {_options.Epochs} epochs" +
            (_options.WarmupEpochs == 0 ? "" : $" ({_options.WarmupEpochs} of warm-up)") + $", seed {_options.Seed}" +
            (_options.Augment == "none" ? "." : $", augmentation {_options.Augment}."));
        var wall = Stopwatch.StartNew();
        int epochsThisRun = 0;
        for (int epoch = startEpoch; epoch < _options.Epochs; epoch++)
        {
            if (_options.StopAfterEpochs is int stop && epochsThisRun >= stop) break;
            EpochReport report = TrainEpoch(epoch, model, optimizer, loader, test, normalization);
            Reports.Add(report);
            bestTestAcc = Math.Max(bestTestAcc, report.TestAcc);
            AppendJson(report);
            if (_options.PlotDirectory is { } plots) TrainingPlots.Write(plots, Reports, _options);
            // the epoch passed the divergence rule (TrainEpoch throws otherwise), so this state may replace the last one
            if (_options.CheckpointPath is { } path)
                Checkpoint.Capture(_options, epoch + 1, bestTestAcc, model, optimizer, rng, loader).Save(path);
            epochsThisRun++;
        }
        if (WithBinaryWeights(model) is { } binaryModel)
        {
            // binary latent weights deploy as 1 bit each (packed in bytes); every other parameter stays float32
            var binaryWeights = binaryModel.BinaryLayers.Select(l => l.LatentWeight).ToHashSet();
            long packed = model.Parameters().Sum(p => binaryWeights.Contains(p) ? (p.Length + 7L) / 8 : 4L * p.Length);
            Say($"Bit-packed model size {packed / 1024.0:N1} KiB vs {4.0 * parameters / 1024:N1} KiB as float32 ({4.0 * parameters / packed:F1}× smaller); " +
                "'binarygrad export' writes it as a .bgm file.");
        }
        Say($"Done: best test accuracy {bestTestAcc:P2}, wall time {wall.Elapsed.TotalSeconds:F1} s, {parameters:N0} parameters" +
            (_options.CheckpointPath is null ? "." : $", checkpoint {_options.CheckpointPath}."));
        return bestTestAcc;
    }

    /// <summary>One evaluation forward of two zero images, so that a configuration the layers refuse (a scheme argument
    /// that does not fit the input, e.g. <c>--scheme reactnet --scheme-arg channels=2</c>) is reported as bad input
    /// before training instead of failing inside the first step. The model RNG is restored afterwards and evaluation
    /// mode updates no statistics, so the run is the same as without it.</summary>
    private static void DryRun(Module model, ImageDataset train, Rng rng)
    {
        ulong[] state = rng.GetState();
        model.Eval();
        try
        {
            using TensorPool.StepScope step = TensorPool.BeginStep();
            using (GradMode.NoGrad()) model.Forward(Tensor.Zeros([2, train.Channels, train.Height, train.Width]));
        }
        finally
        {
            model.Train();
            rng.SetState(state);
        }
    }

    /// <summary>Every output path is checked before any data is read or any step is taken.</summary>
    private void CheckOutputs()
    {
        if (_options.CheckpointPath is { } checkpoint)
        {
            if (_options.JsonPath is { } j && OutputPaths.SameFile(checkpoint, j))
                throw new UsageException($"--checkpoint and --json are the same file ({checkpoint}); give each its own path.");
            OutputPaths.CheckFile(checkpoint, "--checkpoint", _options.Resume ? null : _options.InitFrom);
        }
        if (_options.JsonPath is { } json) OutputPaths.CheckFile(json, "--json", _options.InitFrom);
        if (_options.PlotDirectory is { } plots) OutputPaths.CheckDirectory(plots, "--plot");
    }

    private ImageDataset LoadData(DatasetSplit split)
    {
        try
        {
            var store = new DatasetStore(_options.DataDirectory, log: _options.ShowProgress ? _out : null);
            return store.Load(_options.Dataset, split);
        }
        catch (Exception e) when (e is DatasetException or ArgumentException)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>The model as a binary network whose binary layers have 1-bit weights to flip and to pack; null for the
    /// float models, and for a binary architecture built at full precision (no --scheme).</summary>
    private BinaryClassifier? WithBinaryWeights(Module model) => _options.Scheme is null ? null : model as BinaryClassifier;

    private EpochReport TrainEpoch(int epoch, Module model, Optimizer optimizer, DataLoader loader, ImageDataset test, Normalization normalization)
    {
        model.Train();
        var binary = model as BinaryClassifier;
        BinaryClassifier? withBinaryWeights = WithBinaryWeights(model);
        ILearningRateSchedule? schedule = Schedules.Create(_options, loader.BatchesPerEpoch);
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        long correct = 0, seen = 0;
        int batches = loader.BatchesPerEpoch, batchIndex = 0;
        _divergence ??= new DivergenceRule();
        using var progress = new ProgressReporter(_out, $"epoch {epoch + 1}/{_options.Epochs}", batches, _options.ShowProgress, _options.ProgressContext);
        foreach (Batch batch in loader.Epoch())
        {
            // Everything the step computes (activations, the graph's saved tensors, gradients) is rented from the pool and
            // goes back when the step ends, so steady-state steps allocate no tensor storage; parameters, their gradients
            // and optimizer state escape the scope by design (see TensorPool).
            using TensorPool.StepScope step = TensorPool.BeginStep();
            Tensor x = BatchTensor(batch);
            binary?.OnProgress(new TrainingProgress(epoch, (long)epoch * batches + batchIndex, _options.Epochs, (long)_options.Epochs * batches));
            Tensor logits = model.Forward(x);
            Tensor loss = Ops.CrossEntropy(logits, batch.LabelSpan);
            if (binary?.Penalty() is { } penalty) loss = Ops.Add(loss, penalty);
            double lossValue = loss.Item();
            if (_divergence.Step(lossValue, logits.Shape[1]) is { } why) throw Diverged(why, epoch, batchIndex);
            optimizer.ZeroGrad();
            schedule?.ApplyTo(optimizer, epoch * batches + batchIndex);
            loss.Backward();
            optimizer.Step();
            lossSum += lossValue * batch.Count;
            correct += CountCorrect(logits, batch.LabelSpan);
            seen += batch.Count;
            batchIndex++;
            progress.Update(batchIndex, lossSum / seen, (double)correct / seen, seen / clock.Elapsed.TotalSeconds);
        }
        if (seen > 0 && _divergence.Epoch(lossSum / seen) is { } epochWhy) throw Diverged(epochWhy, epoch, batchIndex - 1);
        double trainSeconds = clock.Elapsed.TotalSeconds;
        progress.Status($"testing on {test.Count} images…");
        double testAcc = Evaluate(model, test, normalization, _options.BatchSize);
        double seconds = clock.Elapsed.TotalSeconds;
        // mean over binary layers of the share of weights whose sign changed during this epoch
        List<BinaryLayerReport> layers = [];
        if (withBinaryWeights is not null)
            for (int i = 0; i < withBinaryWeights.BinaryLayers.Count; i++)
            {
                IBinaryLayer layer = withBinaryWeights.BinaryLayers[i];
                BinaryLayerStatistics stats = layer.Statistics();
                layers.Add(new BinaryLayerReport(i, layer.FlipRatioSinceLastCall(), stats.OutsidePassThrough, stats.MeanAbsLatent));
            }
        double? flipRatio = layers.Count == 0 ? null : layers.Average(l => l.FlipRatio);
        progress.Finish($"loss {lossSum / seen:F4}, train acc {(double)correct / seen:P2}, test acc {testAcc:P2}, {seen / trainSeconds:F0} images/s, {seconds:F1} s" +
            (flipRatio is double f ? $", flip ratio {f:P3}" : ""));
        foreach (BinaryLayerReport l in layers)
            Say($"  binary layer {l.Layer}: flip ratio {l.FlipRatio:P3}, outside pass-through {l.OutsidePassThrough:P2}, mean |latent| {l.MeanAbsLatent:G4}");
        return new EpochReport(epoch + 1, lossSum / seen, (double)correct / seen, testAcc, seen / trainSeconds, seconds, flipRatio) { BinaryLayers = layers };
    }

    private DivergenceRule? _divergence;

    private DivergedException Diverged(string why, int epoch, int batchIndex) =>
        new($"the run diverged at epoch {epoch + 1}, batch {batchIndex + 1}: {why}; stopping. " +
            (_options.CheckpointPath is null ? "Lower --lr and try again." : $"The last good checkpoint {_options.CheckpointPath} is kept (if one was written); lower --lr and start again."));

    /// <summary>Accuracy of <paramref name="model"/> in eval mode over every image of <paramref name="data"/>; stochastic
    /// binary models (VISPA, BayesBiNN with test samples) are scored on logits averaged over their evaluation samples.</summary>
    public static double Evaluate(Module model, ImageDataset data, Normalization normalization, int batchSize)
    {
        model.Eval();
        long correct = 0;
        int samples = (model as BinaryClassifier)?.EvaluationSamples ?? 1;
        using (GradMode.NoGrad())
            foreach (Batch batch in DataLoader.ForEvaluation(data, batchSize, normalization).Epoch())
            {
                using TensorPool.StepScope step = TensorPool.BeginStep();
                Tensor x = BatchTensor(batch), logits = model.Forward(x);
                for (int s = 1; s < samples; s++) logits = Ops.Add(logits, model.Forward(x)); // the sum's argmax is the mean's
                correct += CountCorrect(logits, batch.LabelSpan);
            }
        model.Train();
        return data.Count == 0 ? 0 : (double)correct / data.Count;
    }

    /// <summary>Refuses a <c>--recalibrate-bn</c> count below 2; commands call it before reading any file or data.</summary>
    public static void CheckRecalibrationImages(int images)
    {
        if (images < 2) throw new UsageException($"--recalibrate-bn takes a number of training images of at least 2 (a batch variance needs two), not {images}.");
    }

    /// <summary>Re-estimates the batch norms' running statistics (<see cref="BatchNormRecalibration"/>) from the first
    /// images of <paramref name="train"/>, in order and without augmentation, in whole batches until at least
    /// <paramref name="images"/> are used; returns how many were. Leaves the model in evaluation mode.</summary>
    public static int RecalibrateBatchNorm(Module model, ImageDataset train, Normalization normalization, int images, int batchSize = 256)
    {
        CheckRecalibrationImages(images);
        int used = 0;
        IEnumerable<Tensor> Batches()
        {
            foreach (Batch batch in DataLoader.ForEvaluation(train, batchSize, normalization).Epoch())
            {
                if (used >= images) yield break;
                if (batch.Count < 2) continue; // one image has no unbiased variance
                using TensorPool.StepScope step = TensorPool.BeginStep();
                used += batch.Count;
                yield return BatchTensor(batch);
            }
        }
        BatchNormRecalibration.Run(model, Batches());
        return used;
    }

    /// <summary>The batch's images as an NCHW float32 tensor (copied: the loader reuses its buffers; inside a
    /// <see cref="TensorPool"/> step scope the copy's storage comes from the pool).</summary>
    public static Tensor BatchTensor(Batch batch)
    {
        Tensor x = Tensor.Empty([batch.Count, batch.Channels, batch.Height, batch.Width]);
        batch.ImageSpan.CopyTo(x.AsSpan<float>());
        return x;
    }

    /// <summary>Rows whose largest logit is at the label (first index on ties).</summary>
    public static int CountCorrect(Tensor logits, ReadOnlySpan<int> labels)
    {
        double[] values = logits.ToDoubleArray();
        int classes = logits.Shape[1], correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            int best = 0;
            for (int c = 1; c < classes; c++) if (values[i * classes + c] > values[i * classes + best]) best = c;
            if (best == labels[i]) correct++;
        }
        return correct;
    }

    private void AppendJson(EpochReport r)
    {
        if (_options.JsonPath is null) return;
        string line = JsonSerializer.Serialize(new
        {
            epoch = r.Epoch, trainLoss = r.TrainLoss, trainAcc = r.TrainAcc, testAcc = r.TestAcc,
            imagesPerSec = r.ImagesPerSec, seconds = r.Seconds, flipRatio = r.FlipRatio,
            binaryLayers = r.BinaryLayers.Select(l => new { layer = l.Layer, flipRatio = l.FlipRatio, outsidePassThrough = l.OutsidePassThrough, meanAbsLatent = l.MeanAbsLatent }), model = _options.Model, scheme = _options.SchemeName, dataset = _options.Dataset,
        });
        Autograd.Serialization.AtomicFile.AppendAllText(_options.JsonPath, line + Environment.NewLine);
    }

    private void Say(string line)
    {
        if (_options.ShowProgress) _out.WriteLine(line);
    }
}

/// <summary>The <c>--schedule</c> names.</summary>
public static class Schedules
{
    /// <summary>The schedule over <c>epochs × batchesPerEpoch</c> steps, or null for a constant rate.</summary>
    public static ILearningRateSchedule? Create(TrainOptions options, int batchesPerEpoch)
    {
        int total = options.Epochs * batchesPerEpoch;
        double lr = options.EffectiveLearningRate;
        return options.Schedule switch
        {
            "cosine" => new CosineWithWarmup(lr, warmupSteps: options.WarmupEpochs * batchesPerEpoch, totalSteps: total),
            "step" => new MilestoneSchedule(lr, [total / 2, total * 3 / 4]),
            _ => null,
        };
    }

    /// <summary>lr × 0.1 after each milestone step.</summary>
    private sealed class MilestoneSchedule(double baseRate, int[] milestones) : ILearningRateSchedule
    {
        public double At(int step) => baseRate * Math.Pow(0.1, milestones.Count(m => step >= m));
    }
}
