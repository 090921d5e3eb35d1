using BinaryGrad.Autograd;
using BinaryGrad.Binarization;

namespace BinaryGrad.Layers;

/// <summary>The residual unit of a binary ResNet.</summary>
public enum ResNetBlock
{
    /// <summary>Bi-Real (Liu et al., ECCV 2018, arXiv:1808.00278): a real-valued shortcut around <i>every</i> binary
    /// 3×3 convolution, <c>y = act(BN(binconv(x)) + shortcut(x))</c>, two such units per block. The real activations
    /// flow past every sign, which is what lets a 1W/1A ResNet train; the default.</summary>
    BiReal,

    /// <summary>The standard two-convolution BasicBlock of He et al. 2016,
    /// <c>y = act(BN(binconv₂(act(BN(binconv₁(x))))) + shortcut(x))</c>: one shortcut per two binary convolutions.</summary>
    Basic,
}

/// <summary>The shortcut of a unit that changes width or halves the image.</summary>
public enum ResNetDownsample
{
    /// <summary>He et al.'s option A, as in the CIFAR ResNet-20 of IR-Net and RBNN (<c>resnet20_bireal_1w1a</c>):
    /// <c>x[:, :, ::s, ::s]</c> with zero channels appended on both sides (<see cref="ZeroPadShortcut"/>). No
    /// parameters, so the shortcut stays exactly real at no cost; the default.</summary>
    ZeroPad,

    /// <summary>Bi-Real / ReActNet's downsampling: 2×2 average pooling, then a real 1×1 convolution and batch norm.</summary>
    AvgPoolConv,
}

/// <summary>A residual connection without the activation: <c>y = main(x) + shortcut(x)</c>, the shortcut being the
/// identity when null. Children <c>main</c> and (if any) <c>shortcut</c>.</summary>
public sealed class Residual : Module
{
    public Residual(Module main, Module? shortcut = null)
    {
        Main = RegisterModule("main", main);
        if (shortcut is not null) Shortcut = RegisterModule("shortcut", shortcut);
    }

    public Module Main { get; }

    /// <summary>The downsampling shortcut, or null for the identity.</summary>
    public Module? Shortcut { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        Tensor main = Main.Forward(x), shortcut = Shortcut is null ? x : Shortcut.Forward(x);
        if (!Shapes.Equal(main.Shape, shortcut.Shape))
            throw new ArgumentException($"residual: the main branch gives {Shapes.Format(main.Shape)} but the shortcut gives {Shapes.Format(shortcut.Shape)} for input {Shapes.Format(x.Shape)}.");
        return Ops.Add(main, shortcut);
    }

    /// <summary><c>clamp(Forward(x), min, max)</c> in one pass when the main branch is a <see cref="Sequential"/> that
    /// ends in a <see cref="BatchNorm2d"/> (a Bi-Real unit followed by its Hardtanh): the batch norm, the add and the
    /// clamp run as <see cref="Ops.BatchNormAddClamp"/>, bit for bit the separate ops. Null when the branch has another
    /// form (the caller then runs the modules one by one).</summary>
    internal Tensor? ForwardClamped(Tensor x, double min, double max) =>
        FusedParts(x) is var (norm, beforeNorm, shortcut) ? norm.ForwardAddClamp(beforeNorm, shortcut, min, max) : null;

    /// <summary><c>PReLU(Forward(x))</c> with <paramref name="slopes"/> in one pass (<see cref="Ops.BatchNormAddPRelu"/>)
    /// when the main branch ends in a <see cref="BatchNorm2d"/>, as <see cref="ForwardClamped"/>; null otherwise.</summary>
    internal Tensor? ForwardPRelu(Tensor x, Tensor slopes) =>
        FusedParts(x) is var (norm, beforeNorm, shortcut) ? norm.ForwardAddPRelu(beforeNorm, shortcut, slopes) : null;

    /// <summary>The final batch norm of the main branch, its input and the shortcut's output, for a fused epilogue; null
    /// (nothing run) when the main branch does not end in a <see cref="BatchNorm2d"/>.</summary>
    private (BatchNorm2d Norm, Tensor BeforeNorm, Tensor Shortcut)? FusedParts(Tensor x)
    {
        if (Main is not Sequential { Modules: [.., BatchNorm2d norm] } main) return null;
        Tensor beforeNorm = main.ForwardPrefix(x, main.Modules.Count - 1), shortcut = Shortcut is null ? x : Shortcut.Forward(x);
        if (!Shapes.Equal(beforeNorm.Shape, shortcut.Shape))
            throw new ArgumentException($"residual: the main branch gives {Shapes.Format(beforeNorm.Shape)} but the shortcut gives {Shapes.Format(shortcut.Shape)} for input {Shapes.Format(x.Shape)}.");
        return (norm, beforeNorm, shortcut);
    }
}

/// <summary>He et al.'s option-A shortcut: <c>y[n, c + before, i, j] = x[n, c, s·i, s·j]</c> and zero in the
/// <c>before = ⌊(out − in)/2⌋</c> channels in front and the rest behind (<c>F.pad(x[:, :, ::2, ::2], (0,0,0,0,p,p))</c>
/// in the reference code, where p = out/4 = (out − in)/2). Output side <c>⌈side/s⌉</c>, which equals a stride-s,
/// padding-1 3×3 convolution's for every side.</summary>
/// <remarks>One op, <see cref="Ops.SubsamplePad"/> (equal to <see cref="Ops.Slice"/> twice, then <see cref="Ops.Pad"/>).
/// Backward: dx is dy's interior channels at the sampled positions and zero elsewhere.</remarks>
public sealed class ZeroPadShortcut : Module
{
    public ZeroPadShortcut(int inChannels, int outChannels, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, inChannels);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        (InChannels, OutChannels, Stride) = (inChannels, outChannels, stride);
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int Stride { get; }

    /// <summary>Zero channels before the input's.</summary>
    public int Before => (OutChannels - InChannels) / 2;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 4 || x.Shape[1] != InChannels)
            throw new ArgumentException($"{this}: expected input [N,{InChannels},H,W], got {Shapes.Format(x.Shape)}.");
        if (Stride == 1 && OutChannels == InChannels) return x;
        return Ops.SubsamplePad(x, Stride, Before, OutChannels - InChannels - Before);
    }

    /// <inheritdoc/>
    public override string ToString() => $"ZeroPadShortcut({InChannels}→{OutChannels}, stride={Stride})";
}

/// <summary>Builders for binary ResNets on CIFAR-sized images.</summary>
public static class BinaryResNets
{
    /// <summary>The CIFAR ResNet-20 of He et al. 2016 (§4.2): real stem <c>Conv(in→16, 3×3)</c>–BN–act, three stages of
    /// three blocks at widths 16/32/64 (the first block of stages 2 and 3 halves the image), global average pooling,
    /// BN1d and a real <c>FC(64 → classes)</c> — RBNN's <c>resnet20_bireal_1w1a</c> with the default options.</summary>
    public static BinaryClassifier ResNet20(Rng rng, Func<SchemeInstance> newScheme, int inChannels = 3, int classes = 10, int imageSize = 32,
                                            ResNetBlock block = ResNetBlock.BiReal, ResNetDownsample downsample = ResNetDownsample.ZeroPad,
                                            BlockNonlinearity nonlinearity = BlockNonlinearity.Scheme) =>
        Build("ResNet-20", rng, newScheme, [3, 3, 3], [16, 32, 64], inChannels, classes, imageSize, block, downsample, nonlinearity);

    /// <summary>The CIFAR ResNet-18 (RBNN's and IR-Net's <c>resnet18_1w1a</c>): real stem <c>Conv(in→64, 3×3)</c>–BN–act
    /// without max-pool, four stages of two blocks at widths 64/128/256/512, global average pooling, BN1d and a real
    /// <c>FC(512 → classes)</c>.</summary>
    public static BinaryClassifier ResNet18(Rng rng, Func<SchemeInstance> newScheme, int inChannels = 3, int classes = 10, int imageSize = 32,
                                            ResNetBlock block = ResNetBlock.BiReal, ResNetDownsample downsample = ResNetDownsample.ZeroPad,
                                            BlockNonlinearity nonlinearity = BlockNonlinearity.Scheme) =>
        Build("ResNet-18", rng, newScheme, [2, 2, 2, 2], [64, 128, 256, 512], inChannels, classes, imageSize, block, downsample, nonlinearity);

    /// <summary>A binary ResNet: real stem, <paramref name="blocks"/>[s] blocks of width <paramref name="widths"/>[s] per
    /// stage (stride 2 in the first unit of every stage but the first), real head. Every 3×3 convolution inside the
    /// blocks is a <see cref="BinaryConv2d"/> with the scheme's weight and input quantizers; the stem, the shortcuts
    /// and the classifier stay real.</summary>
    /// <remarks>"act" is chosen by <paramref name="nonlinearity"/>: by default the scheme's learnable nonlinearity if it
    /// has one, else Hardtanh (the STE window, as RBNN's blocks) when the scheme binarizes activations, else ReLU. The image side must be divisible by
    /// 2^(stages − 1) so every stride-2 unit sees an even side and both branches of a residual agree.</remarks>
    public static BinaryClassifier Build(string name, Rng rng, Func<SchemeInstance> newScheme, int[] blocks, int[] widths, int inChannels, int classes,
                                         int imageSize, ResNetBlock block, ResNetDownsample downsample,
                                         BlockNonlinearity nonlinearity = BlockNonlinearity.Scheme)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentNullException.ThrowIfNull(newScheme);
        if (blocks.Length != widths.Length || blocks.Length == 0)
            throw new ArgumentException($"{name}: {blocks.Length} stage block counts for {widths.Length} widths.");
        int reduction = 1 << (blocks.Length - 1);
        if (imageSize < reduction || imageSize % reduction != 0)
            throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize,
                $"{name}: the image size must be a positive multiple of {reduction} ({blocks.Length - 1} stride-2 stages).");
        var body = new Sequential();
        var binary = new List<IBinaryLayer>();
        SchemeInstance stemScheme = newScheme();
        Regularizer? regularizer = stemScheme.Regularizer;
        body.Add(new Conv2d(inChannels, widths[0], 3, rng, padding: 1, bias: false)).Add(new BatchNorm2d(widths[0]))
            .Add(nonlinearity == BlockNonlinearity.PReLU ? new ReLU() : BinaryModels.Activation(stemScheme));
        int width = widths[0];
        for (int stage = 0; stage < blocks.Length; stage++)
            for (int b = 0; b < blocks[stage]; b++)
            {
                int stride = stage > 0 && b == 0 ? 2 : 1, outputs = widths[stage];
                Module? shortcut = stride == 1 && width == outputs ? null : Shortcut(width, outputs, stride, downsample, rng);
                BinaryConv2d NewConv(int from, int s, out Module act)
                {
                    SchemeInstance scheme = newScheme();
                    regularizer ??= scheme.Regularizer;
                    act = nonlinearity == BlockNonlinearity.PReLU ? new PReLU(outputs) : BinaryModels.Activation(scheme);
                    var conv = new BinaryConv2d(from, outputs, 3, rng, scheme.Weights, scheme.Activations, stride: s, padding: 1);
                    binary.Add(conv);
                    return conv;
                }
                if (block == ResNetBlock.BiReal)
                {
                    BinaryConv2d first = NewConv(width, stride, out Module act1);
                    body.Add(new Residual(new Sequential(first, new BatchNorm2d(outputs)), shortcut)).Add(act1);
                    BinaryConv2d second = NewConv(outputs, 1, out Module act2);
                    body.Add(new Residual(new Sequential(second, new BatchNorm2d(outputs)))).Add(act2);
                }
                else
                {
                    BinaryConv2d first = NewConv(width, stride, out Module act1);
                    BinaryConv2d second = NewConv(outputs, 1, out Module act2);
                    var main = new Sequential(first, new BatchNorm2d(outputs), act1, second, new BatchNorm2d(outputs));
                    body.Add(new Residual(main, shortcut)).Add(act2);
                }
                width = outputs;
            }
        body.Add(new GlobalAvgPool2d()).Add(new BatchNorm1d(width)).Add(new Linear(width, classes, rng));
        return new BinaryClassifier(body, binary, regularizer);
    }

    private static Module Shortcut(int inChannels, int outChannels, int stride, ResNetDownsample downsample, Rng rng) => downsample switch
    {
        ResNetDownsample.ZeroPad => new ZeroPadShortcut(inChannels, outChannels, stride),
        ResNetDownsample.AvgPoolConv => stride == 1
            ? new Sequential(new Conv2d(inChannels, outChannels, 1, rng, bias: false), new BatchNorm2d(outChannels))
            : new Sequential(new AvgPool2d(stride), new Conv2d(inChannels, outChannels, 1, rng, bias: false), new BatchNorm2d(outChannels)),
        _ => throw new ArgumentOutOfRangeException(nameof(downsample), downsample, "unknown downsampling shortcut"),
    };
}
