using BinaryGrad.Cli.Commands;
using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

[TestFixture, Category("Layers")]
public class BinarySummaryTests
{
    [Test]
    public void BinaryMlp_MatchesHandComputedFigures()
    {
        // --model mlp --scheme bnn on MNIST: Flatten, [BinaryLinear → BN1d] for 784→1024, 1024→1024, 1024→1024, 1024→10.
        ModelSummary s = SummaryCommand.Summarize("mlp", "bnn", "mnist");
        Assert.That(s.Rows.Select(r => r.Layer.Split('(')[0]), Is.EqualTo(new[]
            { "Flatten", "BinaryLinear", "BatchNorm1d", "BinaryLinear", "BatchNorm1d", "BinaryLinear", "BatchNorm1d", "BinaryLinear", "BatchNorm1d" }));
        SummaryRow first = s.Rows[1], hidden = s.Rows[3], bn = s.Rows[2], last = s.Rows[7];
        Assert.That((first.Parameters, first.BinaryParameters, first.BitsPerWeight), Is.EqualTo((784L * 1024, 784L * 1024, "1")));
        Assert.That((first.Float32Bytes, first.PackedBytes), Is.EqualTo((784L * 1024 * 4, 784.0 * 1024 / 8)));
        Assert.That((first.Macs, first.BinaryMacs), Is.EqualTo((802_816L, 0L)), "real pixels × binary weights are 32-bit MACs");
        Assert.That((hidden.Macs, hidden.BinaryMacs), Is.EqualTo((0L, 1_048_576L)));
        Assert.That((bn.Parameters, bn.BitsPerWeight, bn.PackedBytes, bn.ActivationBytes), Is.EqualTo((2048L, "32", 8192.0, 4096L)));
        Assert.That((last.BinaryMacs, last.ActivationElements), Is.EqualTo((10_240L, 10L)));
        Assert.That(s.Parameters, Is.EqualTo(2_910_208L + 6_164));
        Assert.That(s.BinaryParameters, Is.EqualTo(2_910_208L));
        Assert.That(s.Float32Bytes, Is.EqualTo(11_665_488L));
        Assert.That(s.PackedBytes, Is.EqualTo(363_776.0 + 24_656));
        Assert.That(s.CompressionRatio, Is.EqualTo(11_665_488.0 / 388_432).Within(1e-12));
        Assert.That((s.Macs, s.BinaryMacs), Is.EqualTo((802_816L, 2_107_392L)));
        // activations: 784 (flatten) + 6×1024 + 2×10 elements, 4 bytes each; peak = flatten's 784 in + 784 out vs 1024 + 1024
        Assert.That(s.ActivationBytes, Is.EqualTo(4L * (784 + 6 * 1024 + 20)));
        Assert.That(s.PeakActivationBytes, Is.EqualTo(4L * 2048));
        Assert.That(s.Format(), Does.Contain("compression ratio 30.03×"));
    }

    [Test]
    public void VggSmall_CountsConvolutionMacs()
    {
        ModelSummary s = SummaryCommand.Summarize("vgg-small", "bnn", "cifar10");
        SummaryRow stem = s.Rows[0], second = s.Rows[3];
        Assert.That(stem.Macs, Is.EqualTo(128L * 32 * 32 * 3 * 9));
        Assert.That(second.BinaryMacs, Is.EqualTo(128L * 32 * 32 * 128 * 9));
        Assert.That(s.Rows[^1].Macs, Is.EqualTo(8192L * 10));
    }

    [Test]
    public void ResNet20_CountsEveryBinaryConvolutionThroughTheResiduals()
    {
        ModelSummary s = SummaryCommand.Summarize("resnet20", "bnn", "cifar10");
        // binary MACs by hand: stage 1 six 16→16 convs on 32×32; stages 2 and 3 one widening stride-2 conv plus five
        // convs at the new width, on 16×16 and 8×8
        long stage1 = 6L * 16 * 16 * 9 * 32 * 32;
        long stage2 = (16L * 32 * 9 + 5L * 32 * 32 * 9) * 16 * 16;
        long stage3 = (32L * 64 * 9 + 5L * 64 * 64 * 9) * 8 * 8;
        Assert.That(s.BinaryMacs, Is.EqualTo(stage1 + stage2 + stage3));
        // real MACs: the stem 3→16 on 32×32 and the classifier 64→10
        Assert.That(s.Macs, Is.EqualTo(3L * 16 * 9 * 32 * 32 + 64 * 10));
        Assert.That(s.Parameters, Is.EqualTo(269_850));
        Assert.That(s.Rows.Count(r => r.Layer.StartsWith("residual add", StringComparison.Ordinal)), Is.EqualTo(18));
    }

    [Test]
    public void UnknownModelOrScheme_IsAOneLineErrorWithExitCode2()
    {
        var error = new StringWriter();
        Assert.That(SummaryCommand.Run("mlp", "no-such-scheme", "mnist", TextWriter.Null, error), Is.EqualTo(2));
        Assert.That(error.ToString().TrimEnd(), Does.Contain("no-such-scheme").And.Not.Contain('\n'));
    }
}
