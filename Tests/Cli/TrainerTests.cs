using BinaryGrad.Autograd;
using BinaryGrad.Cli.Training;
using BinaryGrad.Datasets;
using BinaryGrad.Kernels;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

[TestFixture, Category("Training")]
public class TrainerTests
{
    private string _dir = "";

    [SetUp] public void MakeDirectory() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "bg-train-" + Guid.NewGuid().ToString("N")));
    [TearDown] public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private TrainOptions Digits(int epochs, string? checkpoint = null) => new()
    {
        Dataset = "digits", Model = "mlp", Optimizer = "adam", Epochs = epochs, BatchSize = 32, Seed = 5, Threads = 2,
        CheckpointPath = checkpoint, ShowProgress = false, DataDirectory = _dir,
    };

    [Test]
    public void Mlp_OnRealDigits_ReachesNinetyPercentHeldOut()
    {
        var trainer = new Trainer(Digits(epochs: 6) with { JsonPath = Path.Combine(_dir, "m.jsonl") }, TextWriter.Null);
        double best = trainer.Run();
        Assert.That(best, Is.GreaterThanOrEqualTo(0.90));
        string[] lines = File.ReadAllLines(Path.Combine(_dir, "m.jsonl"));
        Assert.That(lines, Has.Length.EqualTo(6));
        Assert.That(lines[0], Does.Contain("\"epoch\":1").And.Contain("\"trainLoss\"").And.Contain("\"trainAcc\"")
            .And.Contain("\"testAcc\"").And.Contain("\"imagesPerSec\"").And.Contain("\"seconds\""));
    }

    [Test]
    public void BnnScheme_ReportsFlipRatioAndPerLayerStatistics()
    {
        string json = Path.Combine(_dir, "bnn.jsonl");
        var trainer = new Trainer(Digits(epochs: 2) with { Scheme = SchemeChoice.ForModel("bnn"), Width = 64, JsonPath = json }, TextWriter.Null);
        double best = trainer.Run();
        Assert.That(best, Is.GreaterThan(0.3), "well above chance (0.1) after 90 steps");
        EpochReport last = trainer.Reports[^1];
        Assert.That(last.BinaryLayers, Has.Count.EqualTo(4));
        Assert.That(last.FlipRatio, Is.EqualTo(last.BinaryLayers.Average(l => l.FlipRatio)).Within(1e-12));
        Assert.That(last.BinaryLayers.All(l => l.FlipRatio is > 0 and < 1 && l.OutsidePassThrough is >= 0 and <= 1 && l.MeanAbsLatent > 0), Is.True);
        Assert.That(File.ReadAllLines(json)[1], Does.Contain("\"flipRatio\":").And.Contain("\"outsidePassThrough\""));
    }

    /// <summary>A binary architecture without a scheme trains at full precision: it learns, and reports no flip ratio
    /// and no bit-packed size (it has no 1-bit weights); its checkpoint evaluates and resumes like any other.</summary>
    [Test]
    public void FloatResNet20_TrainsWithoutBinaryReportsAndResumes()
    {
        var (train, test) = (DigitsSubset(DatasetSplit.Train, 480), DigitsSubset(DatasetSplit.Test, 64));
        string json = Path.Combine(_dir, "float.jsonl"), checkpoint = Path.Combine(_dir, "float.safetensors");
        TrainOptions options = Digits(2, checkpoint) with { Model = "resnet20-basic", Optimizer = "sgd", LearningRate = 0.1, JsonPath = json };
        var output = new StringWriter();
        var trainer = new Trainer(options with { ShowProgress = true }, output);
        double best = trainer.Run(train, test);
        Assert.That(best, Is.GreaterThan(0.3), "well above chance (0.1)");
        Assert.That(trainer.Reports.All(r => r.FlipRatio is null && r.BinaryLayers.Count == 0), Is.True);
        Assert.That(output.ToString(), Does.Not.Contain("flip ratio").And.Not.Contain("Bit-packed"));
        Assert.That(File.ReadAllLines(json)[1], Does.Contain("\"scheme\":\"none\"").And.Contain("\"model\":\"resnet20-basic\"").And.Contain("\"flipRatio\":null"));

        // resuming the epoch-1 state gives the uninterrupted run's weights bit for bit
        string resumed = Path.Combine(_dir, "resumed.safetensors");
        new Trainer(options with { CheckpointPath = resumed, JsonPath = null, StopAfterEpochs = 1 }, TextWriter.Null).Run(train, test);
        new Trainer(options with { CheckpointPath = resumed, JsonPath = null, Resume = true }, TextWriter.Null).Run(train, test);
        Dictionary<string, Tensor> a = Checkpoint.Load(checkpoint).ModelState, b = Checkpoint.Load(resumed).ModelState;
        Assert.That(a.Keys, Is.EquivalentTo(b.Keys));
        foreach (string name in a.Keys)
            Assert.That(b[name].ToDoubleArray(), Is.EqualTo(a[name].ToDoubleArray()), name);
    }

    private static ImageDataset DigitsSubset(DatasetSplit split, int count)
    {
        ImageDataset all = BinaryGrad.Datasets.Digits.Load(split);
        return all.Subset(Enumerable.Range(0, count).ToArray(), all.Name);
    }

    /// <summary><c>--threads 1 --work-split 2</c> computes what <c>--threads 2</c> computes, bit for bit, on one thread;
    /// plain <c>--threads 1</c> splits its sums otherwise and ends elsewhere (so the equality is not vacuous). SiMaN's
    /// ResNet-20 on a third of the digits: its batch norms, PReLU slopes and weight gradients all sum across threads.</summary>
    [Test]
    public void WorkSplit_OnOneThread_ReproducesTheTwoThreadRunBitForBit()
    {
        using var threadsScope = KernelThreadsScope.Set(KernelThreads.Count);
        var (train, test) = (DigitsSubset(DatasetSplit.Train, 480), DigitsSubset(DatasetSplit.Test, 64));
        Dictionary<string, Tensor> Weights(int threads, int? split)
        {
            string path = Path.Combine(_dir, $"t{threads}s{split}.safetensors");
            var options = Digits(1, path) with
            {
                Model = "resnet20-prelu", Scheme = SchemeChoice.ForModel("siman"), Optimizer = "sgd", LearningRate = 0.1, Threads = threads, WorkSplit = split,
            };
            new Trainer(options, TextWriter.Null).Run(train, test);
            return Checkpoint.Load(path).ModelState;
        }
        Dictionary<string, Tensor> two = Weights(2, null), oneSplitTwo = Weights(1, 2), one = Weights(1, null);
        Assert.That(KernelThreads.RunningThreads, Is.EqualTo(1), "the split run ran on one thread");
        foreach (string name in two.Keys)
            Assert.That(oneSplitTwo[name].ToDoubleArray(), Is.EqualTo(two[name].ToDoubleArray()), name);
        Assert.That(two.Keys.Any(name => !one[name].ToDoubleArray().SequenceEqual(two[name].ToDoubleArray())), Is.True,
            "a one-thread split gives other rounding");
    }

    [Test]
    public void Resume_EndsWithBitIdenticalWeightsToAnUninterruptedRun()
    {
        string straight = Path.Combine(_dir, "straight.safetensors"), interrupted = Path.Combine(_dir, "interrupted.safetensors");
        new Trainer(Digits(3, straight), TextWriter.Null).Run();
        new Trainer(Digits(3, interrupted) with { StopAfterEpochs = 1 }, TextWriter.Null).Run();
        Assert.That(Checkpoint.Load(interrupted).EpochsDone, Is.EqualTo(1));
        new Trainer(Digits(3, interrupted) with { Resume = true }, TextWriter.Null).Run();

        Dictionary<string, Tensor> a = Checkpoint.Load(straight).ModelState, b = Checkpoint.Load(interrupted).ModelState;
        Assert.That(b.Keys, Is.EquivalentTo(a.Keys));
        foreach (string name in a.Keys)
            Assert.That(b[name].ToDoubleArray(), Is.EqualTo(a[name].ToDoubleArray()), name);
    }

    [Test]
    public void Resume_OfABinaryRun_ReportsTheSameFlipRatiosAsAnUninterruptedRun()
    {
        // The flip ratio of the first epoch after a resume counts from the checkpoint's signs, as the uninterrupted
        // run counts from the previous epoch's; counting from the resumed process's random init would differ.
        string straight = Path.Combine(_dir, "straight.safetensors"), interrupted = Path.Combine(_dir, "interrupted.safetensors");
        TrainOptions Bnn(string path) => Digits(2, path) with { Scheme = SchemeChoice.ForModel("bnn"), Width = 64 };
        var whole = new Trainer(Bnn(straight), TextWriter.Null);
        whole.Run();
        new Trainer(Bnn(interrupted) with { StopAfterEpochs = 1 }, TextWriter.Null).Run();
        var resumed = new Trainer(Bnn(interrupted) with { Resume = true }, TextWriter.Null);
        resumed.Run();

        Assert.That(resumed.Reports, Has.Count.EqualTo(1));
        Assert.That(resumed.Reports[0].BinaryLayers.Select(l => l.FlipRatio), Is.EqualTo(whole.Reports[1].BinaryLayers.Select(l => l.FlipRatio)));
        Assert.That(resumed.Reports[0].TestAcc, Is.EqualTo(whole.Reports[1].TestAcc));
    }

    [Test]
    public void Resume_FromCheckpointOfAnotherModel_IsRefusedAndKept()
    {
        string path = Path.Combine(_dir, "mlp.safetensors");
        new Trainer(Digits(1, path), TextWriter.Null).Run();
        byte[] before = File.ReadAllBytes(path);
        Assert.That(() => new Trainer(Digits(2, path) with { Model = "cnn", Resume = true }, TextWriter.Null).Run(),
            Throws.InstanceOf<UsageException>().With.Message.Contains("--model mlp").And.Message.Contains("--model cnn"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before), "the checkpoint is untouched");
    }

    [Test]
    public void Augmentation_ChangesTheRun_AndResumesBitIdentically()
    {
        string plain = Path.Combine(_dir, "plain.safetensors"), straight = Path.Combine(_dir, "aug.safetensors"), interrupted = Path.Combine(_dir, "aug-interrupted.safetensors");
        new Trainer(Digits(2, plain), TextWriter.Null).Run();
        new Trainer(Digits(2, straight) with { Augment = "crop-flip" }, TextWriter.Null).Run();
        new Trainer(Digits(2, interrupted) with { Augment = "crop-flip", StopAfterEpochs = 1 }, TextWriter.Null).Run();
        new Trainer(Digits(2, interrupted) with { Augment = "crop-flip", Resume = true }, TextWriter.Null).Run();

        Dictionary<string, Tensor> p = Checkpoint.Load(plain).ModelState, a = Checkpoint.Load(straight).ModelState, b = Checkpoint.Load(interrupted).ModelState;
        foreach (string name in a.Keys)
            Assert.That(b[name].ToDoubleArray(), Is.EqualTo(a[name].ToDoubleArray()), name + ": the crops and flips of epoch 2 come from the checkpointed loader state");
        Assert.That(a.Keys.Any(name => !a[name].ToDoubleArray().SequenceEqual(p[name].ToDoubleArray())), Is.True,
            "crop-flip trains on other pixels than the plain run");
    }

    [Test]
    public void Resume_WithOtherAugmentation_IsRefused()
    {
        string path = Path.Combine(_dir, "plain.safetensors");
        new Trainer(Digits(2, path) with { StopAfterEpochs = 1 }, TextWriter.Null).Run();
        Assert.That(() => new Trainer(Digits(2, path) with { Augment = "crop-flip", Resume = true }, TextWriter.Null).Run(),
            Throws.InstanceOf<UsageException>().With.Message.Contains("--augment none").And.Message.Contains("--augment crop-flip"));
    }

    [Test]
    public void WeightDecay_ChangesTheRun_AndResumeWithAnotherIsRefused()
    {
        string plain = Path.Combine(_dir, "plain.safetensors"), decayed = Path.Combine(_dir, "decayed.safetensors");
        new Trainer(Digits(1, plain) with { Optimizer = "sgd" }, TextWriter.Null).Run();
        new Trainer(Digits(2, decayed) with { Optimizer = "sgd", WeightDecay = 0.05, StopAfterEpochs = 1 }, TextWriter.Null).Run();
        Dictionary<string, Tensor> p = Checkpoint.Load(plain).ModelState, d = Checkpoint.Load(decayed).ModelState;
        Assert.That(d.Keys.Any(name => !d[name].ToDoubleArray().SequenceEqual(p[name].ToDoubleArray())), Is.True, "the decay changes the weights");
        Assert.That(() => new Trainer(Digits(2, decayed) with { Optimizer = "sgd", Resume = true }, TextWriter.Null).Run(),
            Throws.InstanceOf<UsageException>().With.Message.EndsWith("checkpoint was written with --weight-decay 0.05, but this run has --weight-decay 0."));
        Assert.That(() => new Trainer(Digits(2, decayed) with { Optimizer = "sgd", WeightDecay = 0.05, Resume = true }, TextWriter.Null).Run(), Throws.Nothing);
    }

    [Test]
    public void InitFrom_StartsFromTheCheckpointWeights_NotFromAFreshInit()
    {
        string stage1 = Path.Combine(_dir, "stage1.safetensors");
        new Trainer(Digits(1, stage1), TextWriter.Null).Run();
        var fresh = new Trainer(Digits(2) with { StopAfterEpochs = 0 }, TextWriter.Null);
        fresh.Run();
        var stage2 = new Trainer(Digits(2) with { InitFrom = stage1, Augment = "crop-flip", LearningRate = 3e-4, StopAfterEpochs = 0 }, TextWriter.Null);
        stage2.Run();

        Dictionary<string, Tensor> saved = Checkpoint.Load(stage1).ModelState;
        var loaded = stage2.Model!.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        var initial = fresh.Model!.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.That(loaded.Keys, Is.EquivalentTo(saved.Keys));
        foreach (string name in saved.Keys)
            Assert.That(loaded[name].ToDoubleArray(), Is.EqualTo(saved[name].ToDoubleArray()), name);
        Assert.That(saved.Keys.Any(name => !initial[name].ToDoubleArray().SequenceEqual(saved[name].ToDoubleArray())), Is.True,
            "one trained epoch moved the weights away from the seed's initialization, so the comparison above can fail");
    }

    [Test]
    public void InitFrom_CheckpointOfAnotherModel_IsRefusedNamingBoth()
    {
        string stage1 = Path.Combine(_dir, "stage1.safetensors");
        new Trainer(Digits(1, stage1), TextWriter.Null).Run();
        Assert.That(() => new Trainer(Digits(1) with { Model = "cnn", InitFrom = stage1 }, TextWriter.Null).Run(),
            Throws.InstanceOf<UsageException>().With.Message.Contains("--model mlp").And.Message.Contains("--model cnn"));
        Assert.That(() => new Trainer(Digits(1) with { InitFrom = Path.Combine(_dir, "missing.safetensors") }, TextWriter.Null).Run(),
            Throws.InstanceOf<UsageException>().With.Message.Contains("missing.safetensors"));
        Assert.That(() => new Trainer(Digits(1) with { InitFrom = _dir }, TextWriter.Null).Run(),
            Throws.InstanceOf<UsageException>().With.Message.Contains(_dir).And.Message.Contains("is a directory"));
    }

    [Test]
    public void InitFrom_IntoItsOwnCheckpointFile_IsRefusedAndTheFileKept()
    {
        string stage1 = Path.Combine(_dir, "stage1.safetensors");
        new Trainer(Digits(1, stage1), TextWriter.Null).Run();
        byte[] before = File.ReadAllBytes(stage1);
        Assert.That(() => new Trainer(Digits(1, stage1) with { InitFrom = stage1 }, TextWriter.Null).Run(),
            Throws.InstanceOf<UsageException>().With.Message.Contains("--init-from and --checkpoint are the same file"));
        Assert.That(File.ReadAllBytes(stage1), Is.EqualTo(before), "stage 1 is untouched");
    }

    /// <summary>A run trained on two threads and resumed on one continues on its recorded work split: its weights end
    /// bit for bit those of the uninterrupted two-thread run, and the resume says so. An explicit other split is
    /// obeyed, with a note.</summary>
    [Test]
    public void Resume_OnFewerThreads_KeepsTheRecordedWorkSplit_BitForBit()
    {
        using var threadsScope = KernelThreadsScope.Set(KernelThreads.Count);
        var (train, test) = (DigitsSubset(DatasetSplit.Train, 480), DigitsSubset(DatasetSplit.Test, 64));
        TrainOptions Options(string path, int threads) => Digits(2, path) with
        {
            Model = "resnet20-prelu", Scheme = SchemeChoice.ForModel("siman"), Optimizer = "sgd", LearningRate = 0.1, Threads = threads,
        };
        string straight = Path.Combine(_dir, "straight.safetensors"), resumed = Path.Combine(_dir, "resumed.safetensors");
        new Trainer(Options(straight, 2), TextWriter.Null).Run(train, test);
        new Trainer(Options(resumed, 2) with { StopAfterEpochs = 1 }, TextWriter.Null).Run(train, test);
        Assert.That(Checkpoint.Load(resumed).WorkSplit, Is.EqualTo(2));
        var output = new StringWriter();
        new Trainer(Options(resumed, 1) with { Resume = true, ShowProgress = true }, output).Run(train, test);
        Assert.That(output.ToString(), Does.Contain("trained with its work split as 2 threads; continuing with that split on 1 thread, bit for bit"));
        Assert.That(KernelThreads.Count, Is.EqualTo(2));
        Assert.That(KernelThreads.RunningThreads, Is.EqualTo(1));

        Dictionary<string, Tensor> a = Checkpoint.Load(straight).ModelState, b = Checkpoint.Load(resumed).ModelState;
        foreach (string name in a.Keys)
            Assert.That(b[name].ToDoubleArray(), Is.EqualTo(a[name].ToDoubleArray()), name);

        string other = Path.Combine(_dir, "other.safetensors");
        new Trainer(Options(other, 2) with { StopAfterEpochs = 1 }, TextWriter.Null).Run(train, test);
        var noted = new StringWriter();
        new Trainer(Options(other, 1) with { Resume = true, WorkSplit = 1, ShowProgress = true }, noted).Run(train, test);
        Assert.That(noted.ToString(), Does.Contain("--work-split 1 rounds its sums otherwise from here on"));
        Assert.That(Checkpoint.Load(other).WorkSplit, Is.EqualTo(1));
    }

    /// <summary>Out of range before anything runs; above 4096 a checkpoint recording the split could not be resumed.</summary>
    [TestCase(null, 0, "--work-split must be between 1 and 4096, got 0.")]
    [TestCase(null, 4097, "--work-split must be between 1 and 4096, got 4097.")]
    [TestCase(5000, null, "--threads must be between 1 and 4096, got 5000.")]
    public void ThreadsOrWorkSplitOutOfRange_IsAUsageError(int? threads, int? split, string message) =>
        Assert.That(() => new Trainer(Digits(1) with { Threads = threads ?? 2, WorkSplit = split }, TextWriter.Null).Run(),
            Throws.InstanceOf<UsageException>().With.Message.EqualTo(message));

    [Test]
    public void UnknownAugmentation_ListsValidOnes() =>
        Assert.That(() => new Trainer(Digits(1) with { Augment = "mixup" }, TextWriter.Null).Run(),
            Throws.InstanceOf<UsageException>().With.Message.Contains("mixup").And.Message.Contains("none, crop-flip"));

    [TestCase("model", "resnet9000", "valid models")]
    [TestCase("optimizer", "lbfgs", "valid optimizers")]
    public void UnknownName_ListsValidOnes(string option, string value, string expected)
    {
        TrainOptions options = option == "model" ? Digits(1) with { Model = value } : Digits(1) with { Optimizer = value };
        Assert.That(() => new Trainer(options, TextWriter.Null).Run(), Throws.InstanceOf<UsageException>().With.Message.Contains(expected).And.Message.Contains(value));
    }

    [TestCase(0, 32, "--epochs")]
    [TestCase(2, -1, "--batch-size")]
    public void NonPositiveCounts_AreRejected(int epochs, int batchSize, string expected) =>
        Assert.That(() => new Trainer(Digits(epochs) with { BatchSize = batchSize }, TextWriter.Null).Run(),
            Throws.InstanceOf<UsageException>().With.Message.Contains(expected));

    [Test]
    public void UnknownDataset_IsAUsageError() =>
        Assert.That(() => new Trainer(Digits(1) with { Dataset = "imagenet" }, TextWriter.Null).Run(),
            Throws.InstanceOf<UsageException>().With.Message.Contains("imagenet"));
}
