using BinaryGrad.Autograd;
using BinaryGrad.Cli.Training;
using BinaryGrad.Layers;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

/// <summary>VISPA and BayesBiNN through the trainer: the scheme implies BayesBiNN's optimizer and learning rate, and
/// evaluation averages the logits of the schemes' test samples.</summary>
[TestFixture, Category("Training")]
public class StochasticSchemeTrainerTests
{
    private string _dir = "";

    [SetUp] public void MakeDirectory() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "bg-stoch-" + Guid.NewGuid().ToString("N")));
    [TearDown] public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private TrainOptions Digits(string scheme, int epochs) => new()
    {
        Dataset = "digits", Model = "mlp", Scheme = SchemeChoice.ForModel(scheme), Width = 32, Epochs = epochs, BatchSize = 32, Seed = 5, Threads = 1,
        ShowProgress = false, DataDirectory = _dir,
    };

    [Test]
    public void BayesBiNNScheme_ImpliesItsOptimizerAndLearningRate_AndLearns()
    {
        TrainOptions options = Digits("bayesbinn", 2);
        Assert.That(options.EffectiveOptimizer, Is.EqualTo("bayesbinn"));
        Assert.That(options.EffectiveLearningRate, Is.EqualTo(1e-4));
        Assert.That((options with { Optimizer = "sgd" }).EffectiveOptimizer, Is.EqualTo("sgd"), "an explicit other optimizer is kept");
        var trainer = new Trainer(options, TextWriter.Null);
        double best = trainer.Run();
        Assert.That(best, Is.GreaterThan(0.3), "well above chance (0.1)");
        var model = (BinaryClassifier)trainer.Model!;
        float[] lambda = model.BinaryLayers[0].LatentWeight.Value.ToArray<float>();
        Assert.That(lambda.All(float.IsFinite), Is.True);
        Assert.That(lambda.Count(l => Math.Abs(l) != 10f), Is.GreaterThan(0), "λ moved away from its ±10 initialisation");
    }

    [Test]
    public void BayesBiNNOptimizer_WithAnotherScheme_IsAUsageError()
    {
        TrainOptions options = Digits("bnn", 1) with { Optimizer = "bayesbinn" };
        Assert.That(() => new Trainer(options, TextWriter.Null).Run(), Throws.InstanceOf<UsageException>().With.Message.Contains("--scheme bayesbinn"));
    }

    [Test]
    public void Vispa_EvaluatesOnTheAverageOfItsTestSamples()
    {
        var trainer = new Trainer(Digits("vispa", 1) with { SchemeArguments = new Dictionary<string, double> { ["test-samples"] = 3 } }, TextWriter.Null);
        double best = trainer.Run();
        var model = (BinaryClassifier)trainer.Model!;
        Assert.That(model.EvaluationSamples, Is.EqualTo(3));
        Assert.That(best, Is.InRange(0.0, 1.0));
        Assert.That(model.Parameters().All(p => p.Value.ToDoubleArray().All(double.IsFinite)), Is.True, "m and Z stay finite");
        Assert.That(BinaryGrad.Binarization.SchemeRegistry.Create("bayesbinn").Weights!.EvaluationSamples, Is.EqualTo(1), "BayesBiNN's default is the mode");
    }
}
