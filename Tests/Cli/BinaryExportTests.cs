using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Cli.Commands;
using BinaryGrad.Cli.Training;
using BinaryGrad.Datasets;
using BinaryGrad.Layers;
using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

[TestFixture, Category("Training")]
public class BinaryExportTests
{
    private string _dir = "";

    [SetUp] public void MakeDirectory() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "bg-export-" + Guid.NewGuid().ToString("N")));
    [TearDown] public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private TrainOptions Options(string model, string checkpoint) => new()
    {
        Dataset = "digits", Model = model, Scheme = SchemeChoice.ForModel("bnn"), Optimizer = "adam", Epochs = 1, BatchSize = 64, Seed = 3, Threads = 2,
        CheckpointPath = checkpoint, ShowProgress = false, DataDirectory = _dir,
    };

    /// <summary>Logits of the training framework's evaluation forward, batch by batch.</summary>
    private static float[] FrameworkLogits(Module model, ImageDataset data, int batchSize)
    {
        model.Eval();
        var logits = new List<float>();
        using (GradMode.NoGrad())
            foreach (Batch batch in DataLoader.ForEvaluation(data, batchSize, Normalization.For("digits")).Epoch())
                logits.AddRange(model.Forward(Trainer.BatchTensor(batch)).ToArray<float>());
        return [.. logits];
    }

    private static float[] InferenceLogits(InferenceModel model, ImageDataset data, int batchSize)
    {
        var logits = new List<float>();
        foreach (Batch batch in DataLoader.ForEvaluation(data, batchSize, Normalization.For("digits")).Epoch())
            logits.AddRange(model.Forward(batch.ImageSpan.ToArray(), batch.Count));
        return [.. logits];
    }

    [TestCase("mlp"), TestCase("cnn")]
    public void ExportedModel_GivesTheFrameworksEvalLogitsOnEveryTestImage(string modelName)
    {
        string checkpoint = Path.Combine(_dir, modelName + ".safetensors"), bgm = Path.Combine(_dir, modelName + ".bgm");
        var trainer = new Trainer(Options(modelName, checkpoint), TextWriter.Null);
        trainer.Run();
        var output = new StringWriter();
        Assert.That(ExportCommand.Run(checkpoint, bgm, output, TextWriter.Null), Is.EqualTo(0));
        Assert.That(output.ToString(), Does.Contain("Exported " + modelName));

        ImageDataset test = Digits.Load(DatasetSplit.Test);
        InferenceModel inference = InferenceModel.Load(bgm);
        float[] expected = FrameworkLogits(trainer.Model!, test, 64), actual = InferenceLogits(inference, test, 64);
        Assert.That(actual, Is.EqualTo(expected), "logits differ");
        (double accuracy, _) = InferCommand.Evaluate(inference, test, Normalization.For("digits"), 64);
        double frameworkAccuracy = Trainer.Evaluate(trainer.Model!, test, Normalization.For("digits"), 64);
        Assert.That(accuracy, Is.EqualTo(frameworkAccuracy));
        Assert.That(accuracy, Is.GreaterThan(0.5));

        var cli = new StringWriter();
        Assert.That(InferCommand.Run(bgm, "digits", _dir, 100, cli, TextWriter.Null), Is.EqualTo(0));
        Assert.That(cli.ToString(), Does.Contain("accuracy").And.Contain("images/s").And.Contain("bytes"));
        // without --dataset: the data set the file records (digits), not a fixed default
        var ownData = new StringWriter();
        Assert.That(InferCommand.Run(bgm, null, _dir, 100, ownData, TextWriter.Null), Is.EqualTo(0));
        static string Accuracy(string line) => line[line.IndexOf("accuracy", StringComparison.Ordinal)..line.IndexOf(" images)", StringComparison.Ordinal)];
        Assert.That(ownData.ToString(), Does.Contain("on digits-test"));
        Assert.That(Accuracy(ownData.ToString()), Is.EqualTo(Accuracy(cli.ToString())));
    }

    [Test]
    public void ExportWithRecalibratedBatchNorm_CarriesTheReestimatedStatistics()
    {
        string checkpoint = Path.Combine(_dir, "mlp.safetensors"), plain = Path.Combine(_dir, "plain.bgm"), recalibrated = Path.Combine(_dir, "recalibrated.bgm");
        var trainer = new Trainer(Options("mlp", checkpoint), TextWriter.Null);
        trainer.Run();
        var output = new StringWriter();
        Assert.That(ExportCommand.Run(checkpoint, plain, TextWriter.Null, TextWriter.Null), Is.EqualTo(0));
        Assert.That(ExportCommand.Run(checkpoint, recalibrated, output, TextWriter.Null, recalibrateImages: 500, dataDirectory: _dir), Is.EqualTo(0));
        // whole batches of 256: 512 images
        Assert.That(output.ToString(), Does.Contain("re-estimated from the first 512 training images"));

        // the same network, its statistics re-estimated in the framework from the same images, evaluated there
        Checkpoint state = Checkpoint.Load(checkpoint);
        Module model = trainer.Model!;
        model.LoadStateDict(state.ModelState, strict: true);
        ImageDataset train = Digits.Load(DatasetSplit.Train), test = Digits.Load(DatasetSplit.Test);
        Assert.That(Trainer.RecalibrateBatchNorm(model, train, Normalization.For("digits"), 500), Is.EqualTo(512));
        float[] expected = FrameworkLogits(model, test, 64);
        Assert.That(InferenceLogits(InferenceModel.Load(recalibrated), test, 64), Is.EqualTo(expected), "the export carries the re-estimated statistics");
        Assert.That(InferenceLogits(InferenceModel.Load(plain), test, 64), Is.Not.EqualTo(expected), "and they differ from the trained running averages");

        // refused before any file is read: a missing checkpoint and data directory are not what it reports
        var error = new StringWriter();
        Assert.That(ExportCommand.Run(Path.Combine(_dir, "missing.safetensors"), recalibrated, TextWriter.Null, error, recalibrateImages: 1,
            dataDirectory: Path.Combine(_dir, "no-data")), Is.EqualTo(2));
        Assert.That(error.ToString(), Does.Contain("--recalibrate-bn takes a number of training images of at least 2").And.Not.Contain("missing"));
    }

    [Test]
    public void VggSmall_PackedSignChain_MatchesFrameworkLogitsExactly()
    {
        var rng = new Rng(11);
        BinaryClassifier model = BinaryModels.VggSmall(rng, () => SchemeRegistry.Create("bnn"), inChannels: 1, classes: 10, imageSize: 8);
        PerturbBatchNorms(model, rng, meanRange: 3);
        InferenceModel inference = InferenceModel.FromModule(model, 1, 8, 8, 10, "digits");
        string bgm = Path.Combine(_dir, "vgg.bgm");
        inference.Save(bgm);
        inference = InferenceModel.Load(bgm);
        Tensor x = Tensor.Uniform([6, 1, 8, 8], rng, -2, 2);
        float[] expected;
        model.Eval();
        using (GradMode.NoGrad()) expected = model.Forward(x).ToArray<float>();
        Assert.That(inference.Forward(x.ToArray<float>(), 6), Is.EqualTo(expected));
    }

    /// <summary>SiMaN's VGG-Small (a PReLU after every batch norm, slopes of both signs so that some flip the sign the
    /// next binary layer reads) with SiMaN's centred signs, through the file: the framework's evaluation logits exactly.</summary>
    [Test]
    public void VggSmallPRelu_ThroughTheBgmFile_MatchesFrameworkLogitsExactly()
    {
        var rng = new Rng(17);
        BinaryClassifier model = BinaryModels.VggSmall(rng, () => SchemeRegistry.Create("siman"), inChannels: 3, classes: 10, imageSize: 8,
            nonlinearity: BlockNonlinearity.PReLU);
        PerturbBatchNorms(model, rng, meanRange: 1);
        foreach (PReLU prelu in Modules(model).OfType<PReLU>())
            for (int c = 0; c < prelu.Weight.Length; c++) prelu.Weight.Value.AsSpan<float>()[c] = (float)(rng.NextDouble() * 2 - 0.5);
        InferenceModel inference = InferenceModel.FromModule(model, 3, 8, 8, 10, "cifar10");
        Assert.That(inference.Layers.OfType<PReLULayer>().Count(), Is.EqualTo(6), "the stem's and the five binary layers'");
        string bgm = Path.Combine(_dir, "vgg-prelu.bgm");
        inference.Save(bgm);
        inference = InferenceModel.Load(bgm);
        Tensor x = Tensor.Uniform([4, 3, 8, 8], rng, -2, 2);
        float[] expected;
        model.Eval();
        using (GradMode.NoGrad()) expected = model.Forward(x).ToArray<float>();
        Assert.That(inference.Forward(x.ToArray<float>(), 4), Is.EqualTo(expected));
    }

    [TestCase("resnet20", 8), TestCase("resnet20-basic", 8), TestCase("resnet18", 8), TestCase("resnet20-prelu", 8)]
    public void ResNets_ThroughTheBgmFile_MatchFrameworkLogitsExactly(string name, int side)
    {
        var rng = new Rng(13);
        BinaryClassifier model = name switch
        {
            // SiMaN's reference network: PReLU after every unit, centred signs before every binary convolution
            "resnet20-prelu" => BinaryResNets.ResNet20(rng, () => SchemeRegistry.Create("siman"), imageSize: side, nonlinearity: BlockNonlinearity.PReLU),
            "resnet20" => BinaryResNets.ResNet20(rng, () => SchemeRegistry.Create("bnn"), imageSize: side),
            "resnet20-basic" => BinaryResNets.ResNet20(rng, () => SchemeRegistry.Create("bnn"), imageSize: side, block: ResNetBlock.Basic),
            _ => BinaryResNets.ResNet18(rng, () => SchemeRegistry.Create("bnn"), imageSize: side),
        };
        PerturbBatchNorms(model, rng, meanRange: 1);
        // slopes in [−0.5, 1.5): a negative one flips the sign that the next binary convolution reads
        foreach (PReLU prelu in Modules(model).OfType<PReLU>())
            for (int c = 0; c < prelu.Weight.Length; c++) prelu.Weight.Value.AsSpan<float>()[c] = (float)(rng.NextDouble() * 2 - 0.5);
        InferenceModel inference = InferenceModel.FromModule(model, 3, side, side, 10, "cifar10");
        Assert.That(inference.Layers.OfType<ResidualLayer>().Count(), Is.EqualTo(name == "resnet20-basic" ? 9 : name == "resnet18" ? 16 : 18));
        Assert.That(inference.Layers.OfType<PReLULayer>().Count(), Is.EqualTo(name == "resnet20-prelu" ? 18 : 0));
        string bgm = Path.Combine(_dir, name + ".bgm");
        inference.Save(bgm);
        inference = InferenceModel.Load(bgm);
        Tensor x = Tensor.Uniform([5, 3, side, side], rng, -2, 2);
        float[] expected;
        model.Eval();
        using (GradMode.NoGrad()) expected = model.Forward(x).ToArray<float>();
        Assert.That(inference.Forward(x.ToArray<float>(), 5), Is.EqualTo(expected));
    }

    /// <summary>Running statistics away from (0, 1) and some negative scales, so that the folded affine maps are not
    /// trivial: mean uniform in ±<paramref name="meanRange"/>, variance in [0.1, 4.1), γ in [−0.5, 1.5).</summary>
    private static void PerturbBatchNorms(Module model, Rng rng, double meanRange)
    {
        foreach (BatchNormBase bn in Modules(model).OfType<BatchNormBase>())
        {
            Span<float> mean = bn.RunningMean.AsSpan<float>(), variance = bn.RunningVar.AsSpan<float>(), gamma = bn.Weight!.Value.AsSpan<float>();
            for (int c = 0; c < mean.Length; c++)
            {
                mean[c] = (float)((rng.NextDouble() * 2 - 1) * meanRange);
                variance[c] = (float)(rng.NextDouble() * 4 + 0.1);
                gamma[c] = (float)(rng.NextDouble() * 2 - 0.5);
            }
        }
    }

    private static IEnumerable<Module> Modules(Module m) => new[] { m }.Concat(m.NamedChildren().SelectMany(c => Modules(c.Value)));

    [Test]
    public void TruncatedForeignOrMismatchedModels_AreOneLineErrorsWithExitCode2()
    {
        var model = BinaryModels.Mlp(new Rng(1), () => SchemeRegistry.Create("bnn"), inputs: 64, hidden: 32, hiddenLayers: 1);
        string good = Path.Combine(_dir, "good.bgm");
        InferenceModel.FromModule(model, 1, 8, 8, 10, "digits").Save(good);
        byte[] bytes = File.ReadAllBytes(good);

        string truncated = Path.Combine(_dir, "truncated.bgm"), foreign = Path.Combine(_dir, "foreign.bgm"), versioned = Path.Combine(_dir, "v9.bgm");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        File.WriteAllBytes(foreign, [.. "PK\u0003\u0004not a model at all"u8]);
        byte[] v9 = (byte[])bytes.Clone();
        v9[8] = 9;
        File.WriteAllBytes(versioned, v9);
        foreach ((string path, string expected) in new[] { (truncated, "truncated"), (foreign, "bad magic"), (versioned, "version 9") })
        {
            var error = new StringWriter();
            Assert.That(InferCommand.Run(path, "digits", _dir, 64, TextWriter.Null, error), Is.EqualTo(2), path);
            Assert.That(error.ToString().TrimEnd(), Does.Contain(path).And.Contain(expected).And.Not.Contain('\n'));
        }
        // an MNIST-sized model on 8×8 digits
        string mnist = Path.Combine(_dir, "mnist.bgm");
        InferenceModel.FromModule(BinaryModels.Mlp(new Rng(1), () => SchemeRegistry.Create("bnn"), hidden: 32, hiddenLayers: 1), 1, 28, 28, 10, "mnist").Save(mnist);
        var sizeError = new StringWriter();
        Assert.That(InferCommand.Run(mnist, "digits", _dir, 64, TextWriter.Null, sizeError), Is.EqualTo(2));
        Assert.That(sizeError.ToString().TrimEnd(), Does.Contain("expects 1×28×28 images").And.Contain("1×8×8").And.Not.Contain('\n'));
    }

    [Test]
    public void Export_RefusesScaledWeights()
    {
        Assert.That(() => InferenceModel.FromModule(BinaryModels.Mlp(new Rng(1), () => new SchemeInstance(new ScaledSign(), new SteSign(), null, null), inputs: 64, hidden: 8, hiddenLayers: 1), 1, 8, 8, 10, "digits"),
            Throws.TypeOf<NotSupportedException>().With.Message.Contains("scaled_sign"));
    }
}
