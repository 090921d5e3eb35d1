using BinaryGrad.Autograd;

namespace BinaryGrad.Layers;

/// <summary>ResNet basic block (He et al. 2016): <c>y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))</c> with 3×3
/// convolutions (padding 1, no bias: batch norm's β replaces it). The shortcut is the identity when shapes agree, else a
/// 1×1 convolution with the block's stride followed by batch norm (child <c>shortcut</c>, named 0 and 1).</summary>
public sealed class ResidualBlock : Module
{
    /// <summary>Creates the block; <paramref name="stride"/> 2 halves the spatial size (applied in conv1 and the shortcut).</summary>
    public ResidualBlock(int inChannels, int outChannels, Rng rng, int stride = 1)
    {
        Conv1 = RegisterModule("conv1", new Conv2d(inChannels, outChannels, 3, rng, stride, padding: 1, bias: false));
        Bn1 = RegisterModule("bn1", new BatchNorm2d(outChannels));
        Conv2 = RegisterModule("conv2", new Conv2d(outChannels, outChannels, 3, rng, 1, padding: 1, bias: false));
        Bn2 = RegisterModule("bn2", new BatchNorm2d(outChannels));
        if (stride != 1 || inChannels != outChannels)
            Shortcut = RegisterModule("shortcut", new Sequential(
                new Conv2d(inChannels, outChannels, 1, rng, stride, bias: false), new BatchNorm2d(outChannels)));
    }

    public Conv2d Conv1 { get; }
    public BatchNorm2d Bn1 { get; }
    public Conv2d Conv2 { get; }
    public BatchNorm2d Bn2 { get; }

    /// <summary>The projection shortcut, or null for the identity.</summary>
    public Sequential? Shortcut { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        Tensor h = Ops.Relu(Bn1.Forward(Conv1.Forward(x)));
        h = Bn2.Forward(Conv2.Forward(h));
        return Ops.Relu(Ops.Add(h, Shortcut is null ? x : Shortcut.Forward(x)));
    }
}
