using BinaryGrad.Autograd;
using BinaryGrad.Cli;
using BinaryGrad.Cli.Commands;
using BinaryGrad.Cli.Training;
using BinaryGrad.Layers;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

/// <summary>The ResNet models at the command line: names, the image sizes they take, and bench train's choices.</summary>
[TestFixture, Category("Cli")]
public class ResNetCliTests
{
    private static Module Build(string model, string scheme, string dataset) =>
        ModelFactory.Create(new TrainOptions { Model = model, Scheme = SchemeChoice.ForModel(scheme), Dataset = dataset }, ExportCommand.DatasetShape(dataset), new Rng(0));

    [TestCase("resnet20", 18, 9), TestCase("resnet20-basic", 18, 9), TestCase("resnet18", 16, 8), TestCase("resnet18-basic", 16, 8)]
    [TestCase("resnet20-prelu", 18, 9), TestCase("resnet20-basic-prelu", 18, 9), TestCase("resnet18-prelu", 16, 8), TestCase("resnet18-basic-prelu", 16, 8)]
    public void ResNetNames_BuildTheirNetworks(string model, int binaryLayers, int blocks)
    {
        var net = (BinaryClassifier)Build(model, "bnn", "cifar10");
        Assert.That(net.BinaryLayers, Has.Count.EqualTo(binaryLayers));
        var modules = BinaryGrad.Tests.Layers.Binary.BinaryResNetTests.Descendants(net).ToList();
        bool basic = model.Contains("-basic", StringComparison.Ordinal), prelu = model.EndsWith("-prelu", StringComparison.Ordinal);
        Assert.That(modules.OfType<Residual>().Count(), Is.EqualTo(basic ? blocks : 2 * blocks),
            "Bi-Real: a shortcut per binary conv; basic: one per block");
        // an activation after the stem and after every binary conv's batch norm (inside the block or after its add)
        Assert.That(modules.OfType<PReLU>().Count(), Is.EqualTo(prelu ? binaryLayers : 0));
        Assert.That(modules.OfType<HardTanh>().Count(), Is.EqualTo(prelu ? 0 : binaryLayers + 1));
        Assert.That(modules.OfType<ReLU>().Count(), Is.EqualTo(prelu ? 1 : 0), "SiMaN's stem: ReLU");
        if (prelu)
            Assert.That(modules.OfType<PReLU>().Select(p => p.Weight.Length), Is.EqualTo(net.BinaryLayers.Select(b => ((BinaryConv2d)b).OutChannels)),
                "one slope per channel of the unit's output");
    }

    [TestCase("vgg-small", false), TestCase("vgg-small-prelu", true)]
    public void VggSmallNames_BuildTheirNonlinearities(string model, bool prelu)
    {
        var net = (BinaryClassifier)Build(model, "bnn", "cifar10");
        var modules = BinaryGrad.Tests.Layers.Binary.BinaryResNetTests.Descendants(net).ToList();
        Assert.That(net.BinaryLayers, Has.Count.EqualTo(5));
        Assert.That(modules.OfType<PReLU>().Select(p => p.Weight.Length), Is.EqualTo(prelu ? new[] { 128, 128, 256, 256, 512, 512 } : []));
        Assert.That(modules.OfType<HardTanh>().Count(), Is.EqualTo(prelu ? 0 : 6));
    }

    [Test]
    public void ResNet18_On28PixelImages_IsRefusedNamingTheSizes()
    {
        // MNIST's 28×28 is divisible by 4 (ResNet-20's two stride-2 stages) but not by 8 (ResNet-18's three)
        Assert.That(Build("resnet20", "bnn", "mnist"), Is.InstanceOf<BinaryClassifier>());
        var e = Assert.Throws<UsageException>(() => Build("resnet18", "bnn", "mnist"))!;
        Assert.That(e.Message, Does.Contain("--model resnet18").And.Contain("28×28").And.Contain("divisible by 8"));
    }

    [Test]
    public void FloatResNet20Basic_IsHeEtAlsNetworkWithoutAQuantizer()
    {
        var net = (BinaryClassifier)Build("resnet20-basic", "none", "cifar10");
        var modules = BinaryGrad.Tests.Layers.Binary.BinaryResNetTests.Descendants(net).ToList();
        var convs = net.BinaryLayers.Cast<BinaryConv2d>().ToList();
        Assert.That(convs, Has.Count.EqualTo(18));
        Assert.That(convs.All(c => c.WeightQuantizer is null && c.InputQuantizer is null && !c.UsesBitKernel), Is.True, "float weights and inputs");
        // He et al. §4.2: ReLU after the stem, inside every block and after every block's add; no Hardtanh (that is
        // the STE window of a binarized activation)
        Assert.That(modules.OfType<ReLU>().Count(), Is.EqualTo(1 + 2 * 9));
        Assert.That(modules.OfType<HardTanh>().Count(), Is.Zero);
        // the 1W/1A network's parameters, counted by hand in BinaryResNetTests (0.27 M, as He et al. report)
        Assert.That(net.ParameterCount, Is.EqualTo(269_850));
    }

    [Test]
    public void UnknownModel_IsAUsageErrorListingTheModels()
    {
        var e = Assert.Throws<UsageException>(() => Build("resnet34", "bnn", "cifar10"))!;
        Assert.That(e.Message, Does.Contain("resnet34").And.Contain("resnet20").And.Contain("resnet18"));
    }

    [TestCase("resnet99", null, "--model 'resnet99' is not known")]
    [TestCase(null, "bnn", "--scheme needs --model")]
    [TestCase("vgg-small", "no-such-scheme", "--scheme 'no-such-scheme' is not known")]
    public void BenchTrain_BadModelOrScheme_IsOneLineAndExit2BeforeTiming(string? model, string? scheme, string expected)
    {
        var error = new StringWriter();
        int code = BenchTrain.Run(json: true, TextWriter.Null, model, scheme, error: error, peer: false);
        Assert.That(code, Is.EqualTo(Program.BadInput));
        Assert.That(error.ToString().TrimEnd(), Does.Contain(expected).And.Not.Contain('\n'));
    }
}
