using BinaryGrad.Cli.Training;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

/// <summary>Which learning rate and optimizer a run gets when the user gives none: each default is a documented recipe.</summary>
[TestFixture, Category("Cli")]
public class TrainOptionsTests
{
    [TestCase("mlp", "none", "adam", null, 1e-3)]
    [TestCase("cnn", "none", "adam", null, 3e-3)]
    [TestCase("mlp", "bnn", "sgd", null, 0.05)]
    [TestCase("mlp", "bnn", "bop", null, 0.01)]
    [TestCase("mlp", "bayesbinn", "adam", null, 1e-4)]
    [TestCase("mlp", "vispa", "adam", null, 0.02)]
    [TestCase("mlp", "vispa-1w32a", "adamw", null, 0.02)]
    [TestCase("mlp", "vispa", "sgd", null, 0.05)]
    [TestCase("mlp", "vispa", "adam", 0.5, 0.5)]
    public void EffectiveLearningRate_FollowsTheDocumentedRecipes(string model, string scheme, string optimizer, double? given, double expected)
    {
        var options = new TrainOptions { Model = model, Scheme = SchemeChoice.ForModel(scheme), Optimizer = optimizer, LearningRate = given };
        Assert.That(options.EffectiveLearningRate, Is.EqualTo(expected));
    }

    [Test]
    public void BayesBiNN_ImpliesItsOptimizer_UnlessAnotherIsAskedFor()
    {
        Assert.That(new TrainOptions { Scheme = SchemeChoice.ForModel("bayesbinn") }.EffectiveOptimizer, Is.EqualTo("bayesbinn"));
        Assert.That(new TrainOptions { Scheme = SchemeChoice.ForModel("bayesbinn"), Optimizer = "sgd" }.EffectiveOptimizer, Is.EqualTo("sgd"));
        Assert.That(new TrainOptions { Scheme = SchemeChoice.ForModel("bnn") }.EffectiveOptimizer, Is.EqualTo("adam"));
    }

    [TestCase("sgd", null, 0.0)]
    [TestCase("adam", null, 0.0)]
    [TestCase("adamw", null, 0.01)]
    [TestCase("sgd", 1e-4, 1e-4)]
    [TestCase("adamw", 0.0, 0.0)]
    public void WeightDecay_DefaultsToPyTorchs_AndReachesTheOptimizer(string optimizer, double? given, double expected)
    {
        var options = new TrainOptions { Optimizer = optimizer, WeightDecay = given };
        Assert.That(options.EffectiveWeightDecay, Is.EqualTo(expected));
        var parameter = new BinaryGrad.Autograd.Parameter("w", BinaryGrad.Autograd.Tensor.FromValues([1.0, -2.0], [2]));
        BinaryGrad.Optimizers.Optimizer created = OptimizerFactory.Create(options, [new("w", parameter)]);
        Assert.That(created.Groups[0].WeightDecay, Is.EqualTo(expected));
        Assert.That(created, optimizer == "adamw" ? Is.InstanceOf<BinaryGrad.Optimizers.AdamW>() : Is.Not.InstanceOf<BinaryGrad.Optimizers.AdamW>());
    }

    [TestCase("sgd", -1e-4, "--weight-decay must be a finite number ≥ 0, got -0.0001.")]
    [TestCase("sgd", double.NaN, "--weight-decay must be a finite number ≥ 0, got NaN.")]
    [TestCase("bop", 1e-4, "--weight-decay applies to sgd, adam and adamw; --optimizer bop has none.")]
    public void WeightDecay_OutOfRangeOrWithoutEffect_IsOneLine(string optimizer, double decay, string expected)
    {
        var options = new TrainOptions { Optimizer = optimizer, WeightDecay = decay, Scheme = SchemeChoice.ForModel("bnn") };
        Assert.That(options.Problems(), Is.EqualTo(new[] { expected }));
    }

    /// <summary>SiMaN's recipe: decay on the real parameters, none on the latent binary weights — two groups; without
    /// --latent-weight-decay, one group as before.</summary>
    [Test]
    public void LatentWeightDecay_PutsTheLatentWeightsInTheirOwnGroup()
    {
        var real = new BinaryGrad.Autograd.Parameter("bn.weight", BinaryGrad.Autograd.Tensor.FromValues([1.0, 2.0], [2]));
        var latent = new BinaryGrad.Autograd.Parameter("conv.weight", BinaryGrad.Autograd.Tensor.FromValues([0.5, -0.5], [2]), precision: 1);
        KeyValuePair<string, BinaryGrad.Autograd.Parameter>[] named = [new("bn.weight", real), new("conv.weight", latent)];
        var options = new TrainOptions { Optimizer = "sgd", Scheme = SchemeChoice.ForModel("bnn"), WeightDecay = 5e-4 };

        BinaryGrad.Optimizers.Optimizer same = OptimizerFactory.Create(options, named);
        Assert.That(same.Groups, Has.Count.EqualTo(1));
        Assert.That(same.Groups[0].WeightDecay, Is.EqualTo(5e-4));

        BinaryGrad.Optimizers.Optimizer split = OptimizerFactory.Create(options with { LatentWeightDecay = 0 }, named);
        Assert.That(split.Groups.Select(g => (g.Parameters.Single().Name, g.WeightDecay)),
            Is.EqualTo(new[] { ("bn.weight", (double?)5e-4), ("conv.weight", (double?)0.0) }));
        Assert.That(new TrainOptions { LatentWeightDecay = 0 }.Problems(),
            Is.EqualTo(new[] { "--latent-weight-decay needs --scheme NAME (the float model has no latent binary weights)." }));
    }

    /// <summary>--warmup-epochs 2 of 10 with 3 batches an epoch: lr·(t+1)/6 for the first 6 steps, then the cosine over
    /// the remaining 24 (its first step at the full rate, its midpoint at half).</summary>
    [Test]
    public void WarmupEpochs_RampLinearly_ThenTheCosine()
    {
        var options = new TrainOptions { Optimizer = "sgd", LearningRate = 0.1, Epochs = 10, WarmupEpochs = 2 };
        BinaryGrad.Optimizers.ILearningRateSchedule schedule = Schedules.Create(options, batchesPerEpoch: 3)!;
        Assert.That(schedule.At(0), Is.EqualTo(0.1 / 6).Within(1e-15));
        Assert.That(schedule.At(5), Is.EqualTo(0.1).Within(1e-15));
        Assert.That(schedule.At(6), Is.EqualTo(0.1).Within(1e-15));
        Assert.That(schedule.At(6 + 12), Is.EqualTo(0.05).Within(1e-15));
        Assert.That(new TrainOptions { Epochs = 5, WarmupEpochs = 5 }.Problems(), Has.Some.Contains("--warmup-epochs must be a whole number from 0 to --epochs − 1 (4), got 5."));
        Assert.That(new TrainOptions { Epochs = 5, WarmupEpochs = 1, Schedule = "step" }.Problems(), Has.Some.EqualTo("--warmup-epochs goes with --schedule cosine, not step."));
    }

    /// <summary>A mistyped model or optimizer fails before any data is read: the run below names a data set that does
    /// not exist in a folder that does not exist, so had the trainer loaded data first its error would be about that.</summary>
    [TestCase("resnet99", "adam", "--model 'resnet99' is not known; valid models: mlp, cnn, vgg-small,")]
    [TestCase("mlp", "adagrad", "--optimizer 'adagrad' is not known; valid optimizers: sgd, adam,")]
    public void UnknownModelOrOptimizer_FailsBeforeTheDataIsRead(string model, string optimizer, string expected)
    {
        var options = new TrainOptions { Model = model, Optimizer = optimizer, Dataset = "no-such-dataset",
            DataDirectory = Path.Combine(Path.GetTempPath(), "binarygrad-no-such-dir-" + Guid.NewGuid().ToString("N")) };
        Assert.That(options.Problems().First(), Does.StartWith(expected));
        var e = Assert.Throws<UsageException>(() => new Trainer(options, TextWriter.Null).Run())!;
        Assert.That(e.Message, Does.StartWith(expected));
        Assert.That(Directory.Exists(options.DataDirectory), Is.False, "nothing was fetched");
    }
}
