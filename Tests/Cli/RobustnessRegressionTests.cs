using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using BinaryGrad.Autograd;
using BinaryGrad.Autograd.Serialization;
using BinaryGrad.Cli;
using BinaryGrad.Cli.Training;
using BinaryGrad.Datasets;
using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

/// <summary>One regression test per reproduction of issue 17 ("no crash, no loss, no silent corruption"), each
/// through the real command line (<c>Program.Run</c>): exit 2 (or 3 for divergence) with one line on stderr, and no
/// file destroyed.</summary>
[TestFixture, Category("Training"), NonParallelizable]
public class RobustnessRegressionTests
{
    private string _dir = "";
    private string _checkpoint = "";

    [OneTimeSetUp]
    public void TrainOnce()
    {
        Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "bg-issue17-" + Guid.NewGuid().ToString("N")));
        _checkpoint = Path.Combine(_dir, "w48.safetensors");
        // a binary MLP of non-default width, so that export must honour the checkpoint's --width
        Assert.That(Run("train", "--dataset", "digits", "--scheme", "bnn", "--width", "48", "--epochs", "1", "--batch-size", "256",
            "--threads", "1", "--checkpoint", _checkpoint, "--data-dir", _dir).Code, Is.EqualTo(0));
    }

    [OneTimeTearDown] public void Remove() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Asserts exit <paramref name="code"/> with exactly one stderr line containing every <paramref name="contains"/>.</summary>
    private static void AssertFails(int code, (int Code, string Out, string Error) result, params string[] contains)
    {
        Assert.That(result.Code, Is.EqualTo(code), result.Error);
        string[] lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), result.Error);
        foreach (string c in contains) Assert.That(lines[0], Does.Contain(c));
        Assert.That(lines[0], Does.Not.Contain("   at ").And.Not.Contain("internal error"));
    }

    private string Copy(string name, Action<byte[]>? edit = null)
    {
        byte[] bytes = File.ReadAllBytes(_checkpoint);
        edit?.Invoke(bytes);
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>The checkpoint with one metadata value replaced (re-saved, so its checksum is valid: only the value is wrong).</summary>
    private string WithMetadata(string name, string key, string value)
    {
        var (tensors, metadata) = SafeTensors.Load(_checkpoint);
        metadata[key] = value;
        string path = Path.Combine(_dir, name);
        SafeTensors.Save(path, tensors, metadata);
        return path;
    }

    /// <summary>Every verb that loads a checkpoint: eval, train --resume, train --init-from, export.</summary>
    private void AssertEveryLoaderRefuses(string path, params string[] contains)
    {
        string resumed = Path.Combine(_dir, "resumed-" + Path.GetFileName(path));
        File.Copy(path, resumed, overwrite: true);
        AssertFails(2, Run("eval", "--checkpoint", path, "--data-dir", _dir), [path, .. contains]);
        AssertFails(2, Run("train", "--dataset", "digits", "--scheme", "bnn", "--width", "48", "--epochs", "2", "--batch-size", "256",
            "--checkpoint", resumed, "--resume", "--data-dir", _dir), [resumed, .. contains]);
        AssertFails(2, Run("train", "--dataset", "digits", "--scheme", "bnn", "--width", "48", "--epochs", "1",
            "--init-from", path, "--data-dir", _dir), [path, .. contains]);
        AssertFails(2, Run("export", "--checkpoint", path, "--out", Path.Combine(_dir, "x.bgm")), [path, .. contains]);
    }

    // ---- unhandled exceptions ------------------------------------------------------------------------------

    [Test]
    public void Eval_RecalibratesBatchNormFirst_AndRefusesTooFewImages()
    {
        var result = Run("eval", "--checkpoint", _checkpoint, "--data-dir", _dir, "--recalibrate-bn", "300");
        Assert.That(result.Code, Is.EqualTo(0), result.Error);
        // whole batches of 256 until at least 300 images
        Assert.That(result.Out, Does.Contain("re-estimated from the first 512 training images").And.Contain("test accuracy"));
        AssertFails(2, Run("eval", "--checkpoint", _checkpoint, "--data-dir", _dir, "--recalibrate-bn", "1"),
            "--recalibrate-bn takes a number of training images of at least 2", "not 1");
        // checked before the checkpoint is read
        AssertFails(2, Run("eval", "--checkpoint", Path.Combine(_dir, "missing.safetensors"), "--recalibrate-bn", "0"), "--recalibrate-bn", "not 0");
    }

    [Test]
    public void UnwritableOutputs_AreRefusedBeforeTraining()
    {
        string file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "x");
        string[] train = ["train", "--dataset", "digits", "--epochs", "1", "--data-dir", _dir];
        AssertFails(2, Run([.. train, "--checkpoint", "/proc/x"]), "--checkpoint /proc/x", "cannot write");
        AssertFails(2, Run([.. train, "--checkpoint", _dir]), "--checkpoint", "is a directory");
        AssertFails(2, Run([.. train, "--json", Path.Combine(file, "log.json")]), "--json");
        AssertFails(2, Run([.. train, "--plot", file]), "--plot", "is a file");
        AssertFails(2, Run("compare", "--schemes", "bnn", "--dataset", "digits", "--out", "/proc/cmp", "--data-dir", _dir), "--out /proc/cmp.md");
        AssertFails(2, Run("train", "--dataset", "mnist", "--epochs", "1", "--data-dir", file), file);
        Assert.That(File.ReadAllText(file), Is.EqualTo("x"));
    }

    [TestCase(4), TestCase(2), TestCase(359)]
    public void AFinalBatchOfOneImage_IsDroppedWithBatchNorm(int batchSize)
    {
        // digits has 1437 training images: 1437 mod 4 = 1437 mod 2 = 1437 mod 359 = 1
        Assert.That(DigitsTrainCount() % batchSize, Is.EqualTo(1));
        var result = Run("train", "--dataset", "digits", "--epochs", "1", "--batch-size", batchSize.ToString(), "--threads", "1", "--data-dir", _dir);
        Assert.That(result.Code, Is.EqualTo(0), result.Error);
    }

    private static int DigitsTrainCount() => Digits.Load(DatasetSplit.Train).Count;

    [Test]
    public void BatchSizeOne_WithBatchNorm_IsRefused() =>
        AssertFails(2, Run("train", "--dataset", "digits", "--epochs", "1", "--batch-size", "1", "--data-dir", _dir), "--batch-size 1", "batch norm");

    [Test]
    public void OptionValuesThatPassTheParser_AreRangeChecked()
    {
        AssertFails(2, Run("train", "--dataset", "digits", "--scheme", "bnn", "--width", "50000", "--data-dir", _dir), "--width", "8192");
        AssertFails(2, Run("train", "--dataset", "digits", "--scheme", "reactnet", "--scheme-arg", "channels=2", "--data-dir", _dir), "channels=2");
    }

    [Test]
    public void SpecialFiles_AreRefusedWithoutReadingOrBlocking()
    {
        Assume.That(File.Exists("/dev/zero") && OperatingSystem.IsLinux());
        AssertFails(2, Run("eval", "--checkpoint", "/dev/zero"), "/dev/zero", "not a regular file");
        AssertFails(2, Run("infer", "--model", "/dev/urandom", "--dataset", "digits"), "/dev/urandom", "not a regular file");
        string fifo = Path.Combine(_dir, "pipe");
        using (Process mkfifo = Process.Start("mkfifo", fifo)) mkfifo.WaitForExit();
        AssertFails(2, Run("eval", "--checkpoint", fifo), fifo, "not a regular file");
        AssertFails(2, Run("infer", "--model", fifo, "--dataset", "digits"), fifo);
    }

    [TestCase("width", "abc"), TestCase("width", "50000"), TestCase("schemeArgs", "garbage"), TestCase("schemeArgs", "{\"beta\":1,\"beta\":2}"),
     TestCase("epochsDone", "1.5"), TestCase("epochsDone", "-2147483648"), TestCase("epochsDone", "-1"), TestCase("rngState", "zz"),
     TestCase("rngState", "1,2,3"), TestCase("loaderState", "0,0,0,0"), TestCase("loaderState", "x"), TestCase("bestTestAcc", "NaN"),
     TestCase("learningRate", "-1"), TestCase("dataset", "bogus"), TestCase("workSplit", "0"), TestCase("workSplit", "99999")]
    public void MalformedMetadataValues_AreRefusedByEveryVerbThatLoads(string key, string value) =>
        AssertEveryLoaderRefuses(WithMetadata($"meta-{key}-{Math.Abs(value.GetHashCode())}.safetensors", key, value), $"'{key}'");

    [Test]
    public void ADuplicateJsonKeyInTheHeader_IsRefusedByEveryVerbThatLoads()
    {
        byte[] bytes = File.ReadAllBytes(_checkpoint);
        int headerLength = (int)BinaryPrimitives.ReadInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, headerLength);
        // repeat the metadata's format key: same length budget, the padding spaces absorb it
        string duplicated = header.Replace("\"__metadata__\":{", "\"__metadata__\":{\"model\":\"cnn\",", StringComparison.Ordinal).TrimEnd();
        Assert.That(Encoding.UTF8.GetByteCount(duplicated), Is.LessThanOrEqualTo(headerLength + 64));
        byte[] json = Encoding.UTF8.GetBytes(duplicated);
        byte[] result = new byte[8 + json.Length + bytes.Length - 8 - headerLength];
        BinaryPrimitives.WriteInt64LittleEndian(result, json.Length);
        json.CopyTo(result, 8);
        bytes.AsSpan(8 + headerLength).CopyTo(result.AsSpan(8 + json.Length));
        string path = Path.Combine(_dir, "duplicate.safetensors");
        File.WriteAllBytes(path, result);
        AssertEveryLoaderRefuses(path, "duplicate");
    }

    // ---- silent wrong results -----------------------------------------------------------------------------

    [Test]
    public void HugeBatchSizes_GiveTheSameResultAsNormalOnes()
    {
        string bgm = Path.Combine(_dir, "batch.bgm");
        Assert.That(Run("export", "--checkpoint", _checkpoint, "--out", bgm).Code, Is.EqualTo(0));
        var small = Run("infer", "--model", bgm, "--dataset", "digits", "--batch-size", "100", "--data-dir", _dir);
        var huge = Run("infer", "--model", bgm, "--dataset", "digits", "--batch-size", "2147483647", "--data-dir", _dir);
        Assert.That(huge.Code, Is.EqualTo(0), huge.Error);
        string Accuracy(string s) => s[(s.IndexOf("accuracy", StringComparison.Ordinal) + 9)..s.IndexOf('%')];
        Assert.That(Accuracy(huge.Out), Is.EqualTo(Accuracy(small.Out)));
        Assert.That(double.Parse(Accuracy(huge.Out), System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(10));
        // train: one batch of every image, a finite loss
        string json = Path.Combine(_dir, "huge.json");
        Assert.That(Run("train", "--dataset", "digits", "--epochs", "1", "--batch-size", "2147483647", "--threads", "1", "--json", json, "--data-dir", _dir).Code, Is.EqualTo(0));
        double loss = System.Text.Json.JsonDocument.Parse(File.ReadAllLines(json)[0]).RootElement.GetProperty("trainLoss").GetDouble();
        Assert.That(double.IsFinite(loss) && loss > 0, Is.True, $"loss {loss}");
    }

    [Test]
    public void AmbiguousOrIgnoredOptions_AreRefused()
    {
        AssertFails(2, Run("train", "--dataset", "digits", "--lr", "0,001"), "'0,001'", "--lr");
        AssertFails(2, Run("train", "--dataset", "digits", "--scheme-arg", "beta=5"), "--scheme-arg", "--scheme");
        string resumed = Copy("lr.safetensors");
        AssertFails(2, Run("train", "--dataset", "digits", "--scheme", "bnn", "--width", "48", "--epochs", "2", "--batch-size", "256",
            "--checkpoint", resumed, "--resume", "--lr", "0.5", "--data-dir", _dir), "--resume with --lr 0.5");
        AssertFails(2, Run("bench", "gemm", "--threads", "0"), "--threads must be at least 1");
        AssertFails(2, Run("train", "--dataset", "digits", "--work-split", "x"), "'x' is not a whole number for --work-split");
    }

    // ---- corrupted checkpoints ---------------------------------------------------------------------------------

    [Test]
    public void OneBitFlipInTensorData_IsRefusedByEveryVerbThatLoads()
    {
        byte[] original = File.ReadAllBytes(_checkpoint);
        int dataStart = 8 + (int)BinaryPrimitives.ReadInt64LittleEndian(original);
        foreach (int at in new[] { dataStart, dataStart + (original.Length - dataStart) / 2, original.Length - 1 })
            AssertEveryLoaderRefuses(Copy($"flip-{at}.safetensors", b => b[at] ^= 0x10), "SHA-256");
    }

    [Test]
    public void AHeaderLengthOneByteShort_IsRefused()
    {
        string path = Copy("short.safetensors", b => BinaryPrimitives.WriteInt64LittleEndian(b, BinaryPrimitives.ReadInt64LittleEndian(b) - 1));
        AssertEveryLoaderRefuses(path);
    }

    [Test]
    public void NaNInARunningVariance_IsRefused()
    {
        var (tensors, metadata) = SafeTensors.Load(_checkpoint);
        string name = tensors.Keys.First(k => k.EndsWith("running_var", StringComparison.Ordinal));
        tensors[name].AsSpan<float>()[3] = float.NaN;
        string path = Path.Combine(_dir, "nan.safetensors");
        SafeTensors.Save(path, tensors, metadata);
        AssertEveryLoaderRefuses(path, name, "NaN");
    }

    [Test]
    public void RemovedOptimizerState_IsRefusedOnResume()
    {
        var (tensors, metadata) = SafeTensors.Load(_checkpoint);
        string removed = tensors.Keys.First(k => k.StartsWith("optimizer.", StringComparison.Ordinal));
        tensors.Remove(removed);
        string path = Path.Combine(_dir, "no-optimizer.safetensors");
        SafeTensors.Save(path, tensors, metadata);
        AssertFails(2, Run("train", "--dataset", "digits", "--scheme", "bnn", "--width", "48", "--epochs", "2", "--batch-size", "256",
            "--checkpoint", path, "--resume", "--data-dir", _dir), "optimizer state is incomplete", removed);
    }

    // ---- lost files ---------------------------------------------------------------------------------------------

    [Test]
    public void Export_NeverDestroysItsInputOrAForeignFile()
    {
        string input = Copy("self.safetensors");
        byte[] before = File.ReadAllBytes(input);
        AssertFails(2, Run("export", "--checkpoint", input, "--out", input), "--out", "input");
        Assert.That(File.ReadAllBytes(input), Is.EqualTo(before));
        string notes = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(notes, "keep me");
        AssertFails(2, Run("export", "--checkpoint", input, "--out", notes), "--force");
        Assert.That(File.ReadAllText(notes), Is.EqualTo("keep me"));
        Assert.That(Run("export", "--checkpoint", input, "--out", notes, "--force").Code, Is.EqualTo(0));
        Assert.That(InferenceModel.Load(notes).Layers, Is.Not.Empty);
        // an existing .bgm is replaced without --force
        Assert.That(Run("export", "--checkpoint", input, "--out", notes).Code, Is.EqualTo(0));
    }

    [Test]
    public void Export_HonoursTheCheckpointsWidth()
    {
        string bgm = Path.Combine(_dir, "w48.bgm");
        var result = Run("export", "--checkpoint", _checkpoint, "--out", bgm);
        Assert.That(result.Code, Is.EqualTo(0), result.Error);
        Assert.That(InferenceModel.Load(bgm).Layers.OfType<BinaryDenseLayer>().First().Out, Is.EqualTo(48));
    }

    [Test]
    public void StaleTemporaryFiles_AreRemovedByTheNextWrite()
    {
        string target = Path.Combine(_dir, "stale.bgm");
        // a process id that is not running: a killed writer's leftover
        int dead = 999_999;
        while (IsRunning(dead)) dead--;
        string stale = AtomicFile.TemporaryFor(target, dead);
        File.WriteAllText(stale, "half a model");
        Assert.That(Run("export", "--checkpoint", _checkpoint, "--out", target).Code, Is.EqualTo(0));
        Assert.That(File.Exists(stale), Is.False);
        Assert.That(Directory.GetFiles(_dir, ".stale.bgm.*"), Is.Empty);
    }

    private static bool IsRunning(int pid)
    {
        try { using var p = Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }

    [Test]
    public void AtomicWrite_KeepsTheOldFileWhenTheWriterFails()
    {
        string path = Path.Combine(_dir, "atomic.txt");
        File.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s => { s.WriteByte(1); throw new InvalidOperationException("disk full"); }));
        Assert.That(File.ReadAllText(path), Is.EqualTo("old"));
        Assert.That(Directory.GetFiles(_dir, ".atomic.txt.*"), Is.Empty);
    }

    // ---- unbounded resources ------------------------------------------------------------------------------------

    [Test]
    public void ABgmWithAHugePoolingWindow_IsRefusedBeforeItRuns()
    {
        var model = BinaryGrad.Layers.BinaryModels.Mlp(new Rng(1), () => BinaryGrad.Binarization.SchemeRegistry.Create("bnn"), inputs: 784, hidden: 16, hiddenLayers: 1);
        var good = InferenceModel.FromModule(model, 1, 28, 28, 10, "mnist");
        foreach ((int window, int padding) in new[] { (40001, 20000), ((1 << 28) - 1, (1 << 27) - 1) })
        {
            // a pooling layer with window − 2·padding = 1 keeps 28×28, so the chain itself is consistent and only the
            // bounds can refuse it; a window of 2²⁸ − 1 without padding does not fit and is refused by the chain check
            var forged = new InferenceModel(1, 28, 28, 10, "mnist", [new MaxPoolLayer(window, 1, padding), .. good.Layers]);
            string path = Path.Combine(_dir, $"pool-{window}.bgm");
            forged.Save(path);
            var result = Run("infer", "--model", path, "--dataset", "digits", "--data-dir", _dir);
            AssertFails(2, result, path);
        }
    }

    [Test]
    public void AGzipBomb_IsDecompressedOnlyUpToTheExpectedSize()
    {
        DatasetInfo mnist = DatasetCatalog.Get("mnist");
        DatasetFileSpec spec = mnist.Files.First(f => f.FileName == "t10k-images-idx3-ubyte");
        string directory = Directory.CreateDirectory(Path.Combine(_dir, "bomb", "mnist")).FullName;
        using (var file = File.Create(Path.Combine(directory, spec.FileName + ".gz")))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        {
            byte[] zeros = new byte[1 << 20];
            for (long written = 0; written < spec.Length * 4; written += zeros.Length) gzip.Write(zeros);
        }
        var store = new DatasetStore(Path.Combine(_dir, "bomb"), sources: []);
        var e = Assert.Throws<DatasetException>(() => store.Load("mnist", DatasetSplit.Test));
        Assert.That(e!.Message, Does.Contain("stopped decompressing"));
        Assert.That(Directory.GetFiles(directory).Select(Path.GetFileName), Is.EquivalentTo(new[] { spec.FileName + ".gz" }));
    }

    // ---- divergence -----------------------------------------------------------------------------------------

    [Test]
    public void ADivergingRun_ExitsWith3AndKeepsTheLastGoodCheckpoint()
    {
        string checkpoint = Copy("diverge.safetensors");
        byte[] before = File.ReadAllBytes(checkpoint);
        var result = Run("train", "--dataset", "digits", "--epochs", "3", "--lr", "1e6", "--threads", "1", "--checkpoint", checkpoint, "--data-dir", _dir);
        AssertFails(3, result, "diverged");
        Assert.That(File.ReadAllBytes(checkpoint), Is.EqualTo(before));
    }

    [Test]
    public void DivergenceRule_IgnoresASpikeButNotASustainedRise()
    {
        var rule = new DivergenceRule();
        Assert.That(rule.Step(2.3, 10), Is.Null);
        for (int i = 0; i < DivergenceRule.SustainedSteps - 1; i++) Assert.That(rule.Step(1000, 10), Is.Null);
        Assert.That(rule.Step(1.0, 10), Is.Null); // the stretch is broken
        for (int i = 0; i < DivergenceRule.SustainedSteps - 1; i++) Assert.That(rule.Step(24, 10), Is.Null);
        Assert.That(rule.Step(24, 10), Does.Contain("10 steps"));
        Assert.That(new DivergenceRule().Step(double.NaN, 10), Does.Contain("NaN"));
        var resumed = new DivergenceRule();
        resumed.Step(0.01, 10); // a resumed run starts low: the reference is at least ln 10
        Assert.That(resumed.Reference, Is.EqualTo(Math.Log(10)));
        Assert.That(resumed.Epoch(0.5), Is.Null);
        Assert.That(resumed.Epoch(10 * Math.Log(10) + 0.01), Does.Contain("mean loss"));
    }

    // ---- the system is never changed -------------------------------------------------------------------

    [Test]
    public void FashionMnistFromDebian_OnlyDownloadsThePackageFile()
    {
        Assume.That(OperatingSystem.IsLinux());
        string bin = Directory.CreateDirectory(Path.Combine(_dir, "fake-bin")).FullName, log = Path.Combine(_dir, "apt.log");
        File.WriteAllText(Path.Combine(bin, "apt-get"), $"#!/bin/sh\necho \"$@\" >> {log}\nexit 100\n");
        if (OperatingSystem.IsLinux()) File.SetUnixFileMode(Path.Combine(bin, "apt-get"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string? path = Environment.GetEnvironmentVariable("PATH");
        Environment.SetEnvironmentVariable("PATH", bin + ":" + path);
        try
        {
            var source = new DebianFashionMnistSource(installedDirectory: Path.Combine(_dir, "not-installed"));
            string staging = Directory.CreateDirectory(Path.Combine(_dir, "staging")).FullName;
            Assert.Throws<DatasetException>(() => source.Fetch(DatasetCatalog.Get("fashion-mnist"), staging, TextWriter.Null, CancellationToken.None));
        }
        finally { Environment.SetEnvironmentVariable("PATH", path); }
        Assert.That(File.ReadAllLines(log), Is.EqualTo(new[] { "download dataset-fashion-mnist" }));
    }
}
