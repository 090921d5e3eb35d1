using BinaryGrad.Autograd;
using BinaryGrad.Cli.Commands;
using BinaryGrad.Cli.Training;
using BinaryGrad.Layers;
using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Layers.Inference;

/// <summary>Which activation quantizers export exactly: BiPer's scaled sign is sign(x) at test time, so its model runs
/// on the bit kernels with the framework's logits; SiMaN's centred sign uses each image's mean at test time, which the
/// bit-packed layers cannot do, so export refuses it instead of writing a model that predicts differently.</summary>
[TestFixture, Category("Inference")]
public class ExportQuantizerTests
{
    private static Module Create(string model, string scheme, string dataset, Rng rng) =>
        ModelFactory.Create(new TrainOptions { Model = model, Scheme = SchemeChoice.ForModel(scheme), Dataset = dataset }, ExportCommand.DatasetShape(dataset), rng);

    [Test]
    public void Siman_IsRefused_NamingTheQuantizer()
    {
        BinaryGrad.Datasets.ImageDataset shape = ExportCommand.DatasetShape("cifar10");
        Module net = Create("resnet20", "siman", "cifar10", new Rng(7));
        var error = Assert.Throws<NotSupportedException>(() => InferenceModel.FromModule(net, shape.Channels, shape.Height, shape.Width, shape.ClassCount, "cifar10"));
        Assert.That(error!.Message, Does.Contain("'standardized_sign' (SiMaN) subtracts each image's own mean"));
    }

    [Test]
    public void BiPer_ExportsWithTheFrameworksLogits()
    {
        BinaryGrad.Datasets.ImageDataset shape = ExportCommand.DatasetShape("mnist");
        var rng = new Rng(7);
        Module net = Create("mlp", "biper", "mnist", rng);
        BenchInfer.RandomizeBatchNorms(net, rng);
        var inference = InferenceModel.FromModule(net, shape.Channels, shape.Height, shape.Width, shape.ClassCount, "mnist");
        Tensor x = Tensor.Uniform([5, shape.Channels, shape.Height, shape.Width], new Rng(3), -2, 2);
        net.Eval();
        float[] expected;
        using (GradMode.NoGrad()) expected = net.Forward(x).ToArray<float>();
        Assert.That(inference.Forward(x.ToArray<float>(), 5), Is.EqualTo(expected));
    }
}
