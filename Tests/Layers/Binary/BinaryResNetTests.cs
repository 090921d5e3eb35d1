using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Layers;
using NUnit.Framework;

namespace BinaryGrad.Tests.Layers.Binary;

[TestFixture, Category("Layers")]
public class BinaryResNetTests
{
    private static SchemeInstance Bnn() => SchemeRegistry.Create("bnn");

    [Test]
    public void ResNet20_HasThePublishedParameterCountAndShapes()
    {
        BinaryClassifier net = BinaryResNets.ResNet20(new Rng(1), Bnn);
        // He et al.'s CIFAR ResNet-20 has 0.27 M parameters. By hand: stem 3·16·9; stage 1: six 16·16·9 convs; stage 2:
        // 16·32·9 + five 32·32·9; stage 3: 32·64·9 + five 64·64·9; FC 64·10 + 10; BN (γ, β): stem 16, 6×16, 6×32, 6×64,
        // head BN1d 64.
        long convs = 3 * 16 * 9 + 6 * 16 * 16 * 9 + (16 * 32 * 9 + 5 * 32 * 32 * 9) + (32 * 64 * 9 + 5 * 64 * 64 * 9);
        long bn = 2 * (16 + 6 * 16 + 6 * 32 + 6 * 64 + 64);
        Assert.That(net.ParameterCount, Is.EqualTo(convs + 64 * 10 + 10 + bn).And.EqualTo(269_850));
        Assert.That(net.BinaryLayers, Has.Count.EqualTo(18), "every 3×3 conv inside the 9 blocks is binary");
        Assert.That(net.BinaryLayers.Cast<BinaryConv2d>().All(c => c.UsesBitKernel), Is.True, "bnn: both operands hard signs");
        using (GradMode.NoGrad())
        {
            net.Eval();
            Assert.That(net.Forward(Tensor.Zeros([2, 3, 32, 32])).Shape.ToArray(), Is.EqualTo(new[] { 2, 10 }));
        }
    }

    [Test]
    public void ResNet18_HasFourStagesOfTwoBlocks()
    {
        BinaryClassifier net = BinaryResNets.ResNet18(new Rng(1), Bnn);
        Assert.That(net.BinaryLayers, Has.Count.EqualTo(16));
        int[] widths = [.. net.BinaryLayers.Cast<BinaryConv2d>().Select(c => c.OutChannels)];
        Assert.That(widths, Is.EqualTo(new[] { 64, 64, 64, 64, 128, 128, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512 }));
        int[] strides = [.. net.BinaryLayers.Cast<BinaryConv2d>().Select(c => c.Stride)];
        Assert.That(strides, Is.EqualTo(new[] { 1, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1 }));
        // convs: stem 3·64·9 + 4·64·64·9 + (64·128 + 3·128·128 + 128·256 + 3·256·256 + 256·512 + 3·512·512)·9; FC 5130;
        // BN: stem 64 + 4×64 + 4×128 + 4×256 + 4×512, head 512
        long convs = 3 * 64 * 9 + 9L * (4 * 64 * 64 + 64 * 128 + 3 * 128 * 128 + 128 * 256 + 3 * 256 * 256 + 256 * 512 + 3 * 512 * 512);
        long bn = 2L * (64 + 4 * 64 + 4 * 128 + 4 * 256 + 4 * 512 + 512);
        Assert.That(net.ParameterCount, Is.EqualTo(convs + 512 * 10 + 10 + bn));
    }

    [Test]
    public void BasicBlockVariant_HasOneShortcutPerTwoConvs()
    {
        BinaryClassifier biReal = BinaryResNets.ResNet20(new Rng(1), Bnn);
        BinaryClassifier basic = BinaryResNets.ResNet20(new Rng(1), Bnn, block: ResNetBlock.Basic);
        Assert.That(Descendants(biReal).OfType<Residual>().Count(), Is.EqualTo(18));
        Assert.That(Descendants(basic).OfType<Residual>().Count(), Is.EqualTo(9));
        Assert.That(basic.ParameterCount, Is.EqualTo(biReal.ParameterCount), "the same convolutions and batch norms, rewired");
    }

    [Test]
    public void ZeroPadShortcut_SubsamplesAndPadsChannelsByHand()
    {
        // x[n, c, i, j] = 100n + 10c + 4i + j on [2, 2, 4, 4]; stride 2, 2 → 6 channels: 2 zero channels, the
        // input's 2 channels at even rows/columns, 2 zero channels.
        var values = new double[2 * 2 * 4 * 4];
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 2; c++)
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++) values[((n * 2 + c) * 4 + i) * 4 + j] = 100 * n + 10 * c + 4 * i + j;
        Tensor x = Tensor.FromValues(values, [2, 2, 4, 4], requiresGrad: true);
        Tensor y = new ZeroPadShortcut(2, 6, 2).Forward(x);
        Assert.That(y.Shape.ToArray(), Is.EqualTo(new[] { 2, 6, 2, 2 }));
        float[] got = y.ToArray<float>();
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 6; c++)
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++)
                    {
                        float expected = c is >= 2 and < 4 ? 100 * n + 10 * (c - 2) + 4 * (2 * i) + 2 * j : 0;
                        Assert.That(got[((n * 6 + c) * 2 + i) * 2 + j], Is.EqualTo(expected), $"y[{n},{c},{i},{j}]");
                    }
        // backward: dx is 1 exactly at the sampled positions, 0 elsewhere
        Ops.Sum(y).Backward();
        float[] dx = x.Grad!.ToArray<float>();
        for (int k = 0; k < dx.Length; k++)
        {
            int i = k / 4 % 4, j = k % 4;
            Assert.That(dx[k], Is.EqualTo(i % 2 == 0 && j % 2 == 0 ? 1f : 0f), $"dx[{k}]");
        }
    }

    [Test]
    public void Residual_NamesBothShapesWhenTheBranchesDisagree()
    {
        var residual = new Residual(new Conv2d(2, 3, 3, new Rng(1), padding: 1));
        var e = Assert.Throws<ArgumentException>(() => residual.Forward(Tensor.Zeros([1, 2, 4, 4])))!;
        Assert.That(e.Message, Does.Contain("[1,3,4,4]").And.Contain("[1,2,4,4]"));
    }

    [Test]
    public void ImageSideNotDivisibleByTheStages_IsRefusedByName()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => BinaryResNets.ResNet18(new Rng(1), Bnn, imageSize: 28))!;
        Assert.That(e.Message, Does.Contain("ResNet-18").And.Contain("multiple of 8"));
    }

    [Test]
    public void BitKernelTrainingForward_EqualsFloatForwardExactly()
    {
        // the whole ResNet-20 in training mode: bit-kernel convolutions against the float ones, same weights and batch
        BinaryClassifier net = BinaryResNets.ResNet20(new Rng(3), Bnn, imageSize: 8);
        var rng = new Rng(4);
        Tensor x = Tensor.Normal([3, 3, 8, 8], rng);
        float[] bits = net.Forward(x).ToArray<float>();
        BinaryClassifier twin = BinaryResNets.ResNet20(new Rng(3), Bnn, imageSize: 8);
        foreach (BinaryConv2d conv in twin.BinaryLayers.Cast<BinaryConv2d>()) conv.UseBitKernel = false;
        float[] floats = twin.Forward(x).ToArray<float>();
        Assert.That(bits, Is.EqualTo(floats));
    }

    /// <summary>A Bi-Real unit followed by Hardtanh inside a <see cref="Sequential"/> runs as one fused op, and gives
    /// bit for bit what its modules give one by one: output, input and parameter gradients, running statistics.</summary>
    [Test]
    public void ResidualThenHardTanh_RunsFused_AsTheModulesOneByOne([Values] bool training, [Values] bool downsample)
    {
        (Sequential Net, Residual Unit, Tensor X) Build()
        {
            var rng = new Rng(5);
            var unit = new Residual(new Sequential(new Conv2d(4, downsample ? 8 : 4, 3, rng, stride: downsample ? 2 : 1, padding: 1, bias: false),
                new BatchNorm2d(downsample ? 8 : 4)), downsample ? new ZeroPadShortcut(4, 8, 2) : null);
            var net = new Sequential(unit, new HardTanh());
            net.Train(training);
            return (net, unit, Tensor.Normal([3, 4, 6, 6], new Rng(6), requiresGrad: true));
        }
        (Sequential net, _, Tensor x) = Build();
        Tensor y = net.Forward(x);
        Assert.That(y.GradFn!.Name, Is.EqualTo("batch_norm_add_clamp"));
        y.Backward(Tensor.Normal(y.Shape, new Rng(7)));

        (Sequential twin, Residual twinUnit, Tensor twinX) = Build();
        Tensor expected = Ops.HardTanh(twinUnit.Forward(twinX));
        Assert.That(expected.GradFn!.Name, Is.EqualTo("hardtanh"));
        expected.Backward(Tensor.Normal(expected.Shape, new Rng(7)));

        Assert.That(y.ToArray<float>(), Is.EqualTo(expected.ToArray<float>()), "output");
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(twinX.Grad!.ToArray<float>()), "input gradient");
        foreach (((string name, Parameter p), (_, Parameter q)) in net.NamedParameters().Zip(twin.NamedParameters()))
            Assert.That(p.Grad!.ToArray<float>(), Is.EqualTo(q.Grad!.ToArray<float>()), name);
        foreach (((string name, Tensor b), (_, Tensor c)) in net.NamedBuffers().Zip(twin.NamedBuffers()))
            Assert.That(b.ToDoubleArray(), Is.EqualTo(c.ToDoubleArray()), name);
    }

    /// <summary>The same for a unit followed by a per-channel <see cref="PReLU"/> (SiMaN's units): one fused op
    /// (<see cref="Ops.BatchNormAddPRelu"/>), bit for bit the modules one by one, the slopes' gradient included.</summary>
    [Test]
    public void ResidualThenPReLU_RunsFused_AsTheModulesOneByOne([Values] bool training, [Values] bool downsample)
    {
        (Sequential Net, Residual Unit, PReLU Act, Tensor X) Build()
        {
            var rng = new Rng(5);
            int outputs = downsample ? 8 : 4;
            var unit = new Residual(new Sequential(new Conv2d(4, outputs, 3, rng, stride: downsample ? 2 : 1, padding: 1, bias: false),
                new BatchNorm2d(outputs)), downsample ? new ZeroPadShortcut(4, 8, 2) : null);
            var act = new PReLU(outputs);
            for (int c = 0; c < outputs; c++) act.Weight.Value.AsSpan<float>()[c] = 0.5f - 0.25f * c;
            var net = new Sequential(unit, act);
            net.Train(training);
            return (net, unit, act, Tensor.Normal([3, 4, 6, 6], new Rng(6), requiresGrad: true));
        }
        (Sequential net, _, _, Tensor x) = Build();
        Tensor y = net.Forward(x);
        Assert.That(y.GradFn!.Name, Is.EqualTo("batch_norm_add_prelu"));
        y.Backward(Tensor.Normal(y.Shape, new Rng(7)));

        (Sequential twin, Residual twinUnit, PReLU twinAct, Tensor twinX) = Build();
        Tensor expected = twinAct.Forward(twinUnit.Forward(twinX));
        Assert.That(expected.GradFn!.Name, Is.EqualTo("prelu"));
        expected.Backward(Tensor.Normal(expected.Shape, new Rng(7)));

        Assert.That(y.ToArray<float>(), Is.EqualTo(expected.ToArray<float>()), "output");
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(twinX.Grad!.ToArray<float>()), "input gradient");
        foreach (((string name, Parameter p), (_, Parameter q)) in net.NamedParameters().Zip(twin.NamedParameters()))
            Assert.That(p.Grad!.ToArray<float>(), Is.EqualTo(q.Grad!.ToArray<float>()), name);
        foreach (((string name, Tensor b), (_, Tensor c)) in net.NamedBuffers().Zip(twin.NamedBuffers()))
            Assert.That(b.ToDoubleArray(), Is.EqualTo(c.ToDoubleArray()), name);
    }

    /// <summary>The whole training step's gradients of a 1W/1A ResNet-20 (tiny images): the bit-kernel layers — the
    /// sign folded into each convolution, whose backward adds the residual shortcut's gradient into x's in its own
    /// write (<c>Function.TakePendingGradient</c>) — against the float convolutions, where the engine adds the two.
    /// Input gradient and every parameter gradient, within float rounding (the kernels sum in other orders).</summary>
    [Test]
    public void BitKernelTrainingBackward_EqualsFloatBackward()
    {
        (Tensor X, double[] Grads) Step(bool bits)
        {
            BinaryClassifier net = BinaryResNets.ResNet20(new Rng(3), Bnn, imageSize: 8);
            foreach (BinaryConv2d conv in net.BinaryLayers.Cast<BinaryConv2d>()) conv.UseBitKernel = bits;
            Tensor x = Tensor.Normal([3, 3, 8, 8], new Rng(4), requiresGrad: true);
            Tensor logits = net.Forward(x);
            Ops.Sum(Ops.Mul(logits, Tensor.Normal(logits.Shape, new Rng(5)))).Backward();
            return (x, [.. x.Grad!.ToDoubleArray(), .. net.Parameters().SelectMany(p => p.Grad!.ToDoubleArray())]);
        }
        (Tensor x, double[] bits) = Step(bits: true);
        (_, double[] floats) = Step(bits: false);
        Assert.That(x.Grad!.ToDoubleArray().Count(v => v != 0), Is.GreaterThan(x.Length / 2), "the gradient reaches the input");
        double scale = floats.Max(Math.Abs);
        Assert.That(bits, Is.EqualTo(floats).Within(1e-4 * scale));
    }

    /// <summary>Every module below <paramref name="m"/>, depth first.</summary>
    internal static IEnumerable<Module> Descendants(Module m) => m.NamedChildren().SelectMany(c => new[] { c.Value }.Concat(Descendants(c.Value)));
}
