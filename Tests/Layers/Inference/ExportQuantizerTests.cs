using BinaryGrad.Autograd;
using BinaryGrad.Cli.Commands;
using BinaryGrad.Cli.Training;
using BinaryGrad.Layers;
using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Layers.Inference;

/// <summary>The standardised activation signs export exactly. BiPer's scaled sign is sign(x) at test time; SiMaN's
/// centred sign is sign(x − mean of the image) at test time too, which a <see cref="CenteredSignLayer"/> before the
/// binary layer computes with the quantizer's own loops. Oracle: the framework's evaluation logits, also after the
/// model is written to a .bgm file and read back.</summary>
[TestFixture, Category("Inference")]
public class ExportQuantizerTests
{
    [TestCase("mlp", "biper", "mnist")]
    [TestCase("mlp", "siman", "mnist")]
    [TestCase("resnet20", "siman", "cifar10")]
    public void StandardizedSigns_ExportWithTheFrameworksLogits(string model, string scheme, string dataset)
    {
        BinaryGrad.Datasets.ImageDataset shape = ExportCommand.DatasetShape(dataset);
        var rng = new Rng(7);
        Module net = ModelFactory.Create(new TrainOptions { Model = model, Scheme = SchemeChoice.ForModel(scheme), Dataset = dataset }, shape, rng);
        BenchInfer.RandomizeBatchNorms(net, rng);
        var inference = InferenceModel.FromModule(net, shape.Channels, shape.Height, shape.Width, shape.ClassCount, dataset);
        const int batch = 5;
        Tensor x = Tensor.Uniform([batch, shape.Channels, shape.Height, shape.Width], new Rng(3), -2, 2);
        net.Eval();
        float[] expected;
        using (GradMode.NoGrad()) expected = net.Forward(x).ToArray<float>();
        Assert.That(inference.Forward(x.ToArray<float>(), batch), Is.EqualTo(expected), "exported");
        Assert.That(inference.Layers.Count(l => l is CenteredSignLayer) + inference.Layers.OfType<ResidualLayer>().Sum(r => r.Main.Count(l => l is CenteredSignLayer)),
            scheme == "siman" ? Is.GreaterThan(0) : Is.Zero, "a centred sign before each SiMaN binary layer");
        string path = Path.Combine(Path.GetTempPath(), $"bg-export-{Guid.NewGuid():N}.bgm");
        try
        {
            inference.Save(path);
            Assert.That(InferenceModel.Load(path).Forward(x.ToArray<float>(), batch), Is.EqualTo(expected), "read back from the file");
        }
        finally { File.Delete(path); }
    }
}
