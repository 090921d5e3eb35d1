using BinaryGrad.Autograd;

namespace BinaryGrad.Layers;

/// <summary>2-D convolution layer over NCHW (<see cref="Ops.Conv2D"/>): square kernel, the same stride, zero padding
/// and dilation on both axes. Parameters <c>weight</c> [out,in,k,k] and, optionally, <c>bias</c> [out].</summary>
/// <remarks>PyTorch's default initialisation: with fanIn = in·k², <c>W ~ U(−1/√fanIn, 1/√fanIn)</c> (Kaiming-uniform,
/// a = √5) and <c>b ~ U(−1/√fanIn, 1/√fanIn)</c>; weight drawn first, then bias.</remarks>
public sealed class Conv2d : Module
{
    /// <summary>Creates the layer with freshly initialised parameters.</summary>
    public Conv2d(int inChannels, int outChannels, int kernelSize, Rng rng, int stride = 1, int padding = 0, int dilation = 1, bool bias = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        ArgumentOutOfRangeException.ThrowIfLessThan(dilation, 1);
        ArgumentNullException.ThrowIfNull(rng);
        (InChannels, OutChannels, KernelSize, Stride, Padding, Dilation) = (inChannels, outChannels, kernelSize, stride, padding, dilation);
        double bound = 1 / Math.Sqrt(inChannels * kernelSize * kernelSize);
        Weight = RegisterParameter("weight", Tensor.Uniform([outChannels, inChannels, kernelSize, kernelSize], rng, -bound, bound));
        if (bias) Bias = RegisterParameter("bias", Tensor.Uniform([outChannels], rng, -bound, bound));
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }
    public int Dilation { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.Conv2D(x, Weight.Value, Bias?.Value, Stride, Padding, Dilation);

    /// <inheritdoc/>
    public override string ToString() =>
        $"Conv2d({InChannels}→{OutChannels}, k={KernelSize}, stride={Stride}, padding={Padding}, dilation={Dilation}{(Bias is null ? ", no bias" : "")})";
}
