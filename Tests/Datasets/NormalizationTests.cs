using BinaryGrad.Datasets;
using NUnit.Framework;

namespace BinaryGrad.Tests.Datasets;

[TestFixture, Category("Datasets")]
public class NormalizationTests
{
    [Test]
    public void Apply_Mnist_StandardizesWithPublishedConstants()
    {
        var output = new float[3];
        Normalization.Mnist.Apply([0, 255, 51], channels: 1, output);
        Assert.That(output, Is.EqualTo(new[] { -0.1307f / 0.3081f, (1 - 0.1307f) / 0.3081f, (0.2f - 0.1307f) / 0.3081f }).Within(1e-6f));
    }

    [Test]
    public void Apply_Cifar10_UsesEachChannelsOwnConstants()
    {
        var output = new float[3];
        Normalization.Cifar10.Apply([255, 255, 255], channels: 3, output);
        Assert.That(output, Is.EqualTo(new[] { (1 - 0.4914f) / 0.2470f, (1 - 0.4822f) / 0.2435f, (1 - 0.4465f) / 0.2616f }).Within(1e-6f));
    }

    [Test]
    public void Apply_UnitRange_ScalesToZeroOne()
    {
        var output = new float[2];
        Normalization.UnitRange.Apply([0, 255], channels: 1, output);
        Assert.That(output, Is.EqualTo(new[] { 0f, 1f }));
    }

    [Test]
    public void FromData_GivesMeanAndPopulationStdPerChannel()
    {
        // Two 2-channel 1×1 images: channel 0 holds 0 and 255, channel 1 holds 51 twice.
        var data = new ImageDataset("d", 2, 1, 1, [0, 51, 255, 51], [0, 1], ["a", "b"]);
        Normalization n = Normalization.FromData(data);
        Assert.Multiple(() =>
        {
            Assert.That(n.Mean, Is.EqualTo(new[] { 0.5f, 0.2f }).Within(1e-6f));
            Assert.That(n.Std[0], Is.EqualTo(0.5f).Within(1e-6f));
            Assert.That(n.Std[1], Is.LessThan(1e-5f), "a constant channel has (almost) zero spread");
        });
    }

    [Test]
    public void Apply_ChannelCountMismatch_IsRejected() =>
        Assert.That(() => Normalization.Cifar10.Apply(new byte[4], channels: 1, new float[4]),
                    Throws.ArgumentException.With.Message.Contains("3 channels"));

    [Test]
    public void For_KnownNames_ReturnsStandardConstants() =>
        Assert.That(Normalization.For("Fashion-MNIST"), Is.SameAs(Normalization.FashionMnist));
}
