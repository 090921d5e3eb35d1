using BinaryGrad.Autograd;
using BinaryGrad.Layers;
using BinaryGrad.Optimizers;
using NUnit.Framework;

namespace BinaryGrad.Tests.Layers;

[TestFixture, Category("Layers")]
public class ModuleTests
{
    [Test]
    public void SmallCnn_NamesAreDottedAndStable()
    {
        var model = Models.SmallCnn(new Rng(1));
        string[] names = [.. model.NamedParameters().Select(e => e.Key)];
        Assert.That(names, Is.EqualTo(new[]
        {
            "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
            "features.4.weight", "features.4.bias", "features.5.weight", "features.5.bias",
            "classifier.1.weight", "classifier.1.bias",
        }));
        Assert.That(model.NamedBuffers().Select(e => e.Key).Take(3), Is.EqualTo(new[]
            { "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked" }));
        Assert.That(model.Forward(Tensor.Zeros([2, 1, 28, 28])).Shape.ToArray(), Is.EqualTo(new[] { 2, 10 }));
    }

    [Test]
    public void Mlp_HasThePyTorchParameterCount()
    {
        var model = Models.Mlp(new Rng(1));
        Assert.That(model.ParameterCount, Is.EqualTo(784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10 + 4 * 512));
        Assert.That(model.Forward(Tensor.Zeros([3, 1, 28, 28])).Shape.ToArray(), Is.EqualTo(new[] { 3, 10 }));
    }

    [Test]
    public void Linear_InitialisationIsBoundedByOneOverSqrtFanIn()
    {
        var layer = new Linear(100, 50, new Rng(2));
        double[] w = layer.Weight.Value.ToDoubleArray(), b = layer.Bias!.Value.ToDoubleArray();
        Assert.That(w.Max(Math.Abs), Is.LessThanOrEqualTo(0.1).And.GreaterThan(0.09));
        Assert.That(b.Max(Math.Abs), Is.LessThanOrEqualTo(0.1));
    }

    [Test]
    public void StateDict_RoundTripsIntoAFreshModel()
    {
        var trained = Models.SmallCnn(new Rng(1), imageSize: 8);
        trained.Forward(Tensor.Uniform([4, 1, 8, 8], new Rng(2), -1, 1)); // moves running statistics
        var state = trained.StateDict();
        Assert.That(state.Keys.First(), Is.EqualTo("features.0.weight"));
        Assert.That(state["features.1.num_batches_tracked"].Item(), Is.EqualTo(1.0));

        var restored = Models.SmallCnn(new Rng(99), imageSize: 8);
        restored.LoadStateDict(state);
        foreach ((string name, Tensor value) in restored.StateDict())
            Assert.That(value.ToDoubleArray(), Is.EqualTo(state[name].ToDoubleArray()), name);
        trained.Eval();
        restored.Eval();
        Tensor x = Tensor.Uniform([2, 1, 8, 8], new Rng(3), -1, 1);
        Assert.That(restored.Forward(x).ToDoubleArray(), Is.EqualTo(trained.Forward(x).ToDoubleArray()));
    }

    [Test]
    public void LoadStateDict_ShapeMismatch_NamesTheTensorAndBothShapes()
    {
        var small = new Sequential(new Conv2d(1, 16, 3, new Rng(1)));
        var wide = new Sequential(new Conv2d(1, 32, 3, new Rng(1)));
        var model = new FeatureClassifier(small, new Flatten());
        var checkpoint = new FeatureClassifier(wide, new Flatten()).StateDict();
        Assert.That(() => model.LoadStateDict(checkpoint),
            Throws.ArgumentException.With.Message.Contains("features.0.weight: checkpoint has [32,1,3,3], model has [16,1,3,3]"));
    }

    [Test]
    public void LoadStateDict_Strict_ListsMissingAndUnexpected_AndLenientSkipsThem()
    {
        var model = new Sequential(new Linear(2, 2, new Rng(1)));
        var state = new Dictionary<string, Tensor> { ["0.weight"] = Tensor.Ones([2, 2]), ["0.extra"] = Tensor.Ones([1]) };
        Assert.That(() => model.LoadStateDict(state),
            Throws.ArgumentException.With.Message.Contains("missing: 0.bias").And.Message.Contains("unexpected: 0.extra"));
        Assert.That(((Linear)model[0]).Weight.Value.ToDoubleArray(), Is.Not.EqualTo(new double[] { 1, 1, 1, 1 }), "a failed load changes nothing");
        model.LoadStateDict(state, strict: false);
        Assert.That(((Linear)model[0]).Weight.Value.ToDoubleArray(), Is.EqualTo(new double[] { 1, 1, 1, 1 }));
    }

    [Test]
    public void TrainEval_PropagatesAndSwitchesBatchNormAndDropout()
    {
        var bn = new BatchNorm1d(2);
        var model = new Sequential(new Sequential(bn), new Dropout(0.5, new Rng(1)));
        Tensor x = Tensor.FromValues([1, 2, 3, 5], [2, 2]);
        Assert.That(model.Training && bn.Training, Is.True);
        model.Forward(x);
        Assert.That(bn.BatchesTracked, Is.EqualTo(1));
        model.Eval();
        Assert.That(bn.Training, Is.False);
        double[] before = bn.RunningMean.ToDoubleArray();
        double[] y = model.Forward(x).ToDoubleArray();
        Assert.That(bn.RunningMean.ToDoubleArray(), Is.EqualTo(before));
        Assert.That(bn.BatchesTracked, Is.EqualTo(1));
        // eval: dropout is the identity and BN uses running stats (mean 0.1·batch mean, var 0.9 + 0.1·unbiased var)
        double expected0 = (1 - 0.2) / Math.Sqrt(0.9 + 0.1 * 2 + 1e-5);
        Assert.That(y[0], Is.EqualTo(expected0).Within(1e-5));
        model.Train();
        Assert.That(bn.Training, Is.True);
    }

    [Test]
    public void To_Float64_ConvertsParametersAndBuffersButKeepsTheCounter()
    {
        var model = Models.SmallCnn(new Rng(1), imageSize: 8).To(DType.Float64);
        Assert.That(model.Parameters().All(p => p.DType == DType.Float64), Is.True);
        Assert.That(model.NamedBuffers().All(e => e.Value.DType == DType.Float64), Is.True);
        Assert.That(model.Forward(Tensor.Zeros([1, 1, 8, 8], DType.Float64)).DType, Is.EqualTo(DType.Float64));
    }

    [Test]
    public void Models_Create_UnknownNameListsValidNames()
    {
        Assert.That(Models.Create("cnn", new Rng(1)), Is.InstanceOf<FeatureClassifier>());
        Assert.That(() => Models.Create("resnet", new Rng(1)), Throws.ArgumentException.With.Message.Contains("valid names: mlp, cnn"));
    }

    [Test]
    public void ResidualBlock_ProjectionShortcutOnlyWhenShapesChange()
    {
        var same = new ResidualBlock(4, 4, new Rng(1));
        var down = new ResidualBlock(4, 8, new Rng(1), stride: 2);
        Assert.That(same.Shortcut, Is.Null);
        Assert.That(down.NamedParameters().Select(e => e.Key), Does.Contain("shortcut.0.weight"));
        Assert.That(down.Forward(Tensor.Uniform([2, 4, 6, 6], new Rng(2))).Shape.ToArray(), Is.EqualTo(new[] { 2, 8, 3, 3 }));
    }

    [Test]
    public void SmallCnn_OneBatchLossFallsWithAdam()
    {
        var rng = new Rng(21);
        var model = Models.SmallCnn(new Rng(22), imageSize: 8, classes: 3);
        Tensor x = Tensor.Uniform([12, 1, 8, 8], rng, -1, 1);
        int[] labels = [.. Enumerable.Range(0, 12).Select(i => i % 3)];
        var optimizer = new Adam(model.NamedParameters(), 0.01);
        double first = 0, last = 0;
        for (int step = 0; step < 15; step++)
        {
            optimizer.ZeroGrad();
            Tensor loss = Ops.CrossEntropy(model.Forward(x), labels);
            loss.Backward();
            optimizer.Step();
            if (step == 0) first = loss.Item();
            last = loss.Item();
        }
        Assert.That(last, Is.LessThan(first * 0.5), $"loss {first} → {last}");
    }

    private static IEnumerable<string> OptimizerNames => ["sgd", "sgd-nesterov", "adam", "adamw"];

    /// <summary>Four Gaussian blobs at the corners of a square, labelled XOR-style: not linearly separable.</summary>
    [TestCaseSource(nameof(OptimizerNames))]
    public void TinyMlp_LearnsXorLikeData(string optimizerName)
    {
        var rng = new Rng(11);
        const int n = 128;
        var x = new double[n * 2];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            int a = i % 2, b = (i / 2) % 2;
            x[2 * i] = (a == 0 ? -1 : 1) + 0.2 * rng.Normal();
            x[2 * i + 1] = (b == 0 ? -1 : 1) + 0.2 * rng.Normal();
            labels[i] = a ^ b;
        }
        Tensor inputs = Tensor.FromValues(x, [n, 2]);
        var model = Models.Mlp(new Rng(12), inputs: 2, hidden: [16, 16], classes: 2);
        Optimizer optimizer = optimizerName switch
        {
            "sgd" => new Sgd(model.NamedParameters(), 0.1, momentum: 0.9),
            "sgd-nesterov" => new Sgd(model.NamedParameters(), 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4),
            "adam" => new Adam(model.NamedParameters(), 0.01),
            _ => new AdamW(model.NamedParameters(), 0.01),
        };
        double first = 0, last = 0;
        for (int step = 0; step < 100; step++)
        {
            optimizer.ZeroGrad();
            Tensor loss = Ops.CrossEntropy(model.Forward(inputs), labels);
            loss.Backward();
            optimizer.Step();
            if (step == 0) first = loss.Item();
            last = loss.Item();
        }
        Assert.That(last, Is.LessThan(first * 0.2), $"loss {first} → {last}");
    }
}
