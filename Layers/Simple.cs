using BinaryGrad.Autograd;

namespace BinaryGrad.Layers;

/// <summary><c>y = max(x, 0)</c> (<see cref="Ops.Relu"/>).</summary>
public sealed class ReLU : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.Relu(x);
}

/// <summary><c>y = clamp(x, min, max)</c>, gradient 1 inside [min, max] and 0 outside (<see cref="Ops.HardTanh"/>):
/// the straight-through window of binary networks.</summary>
public sealed class HardTanh(double min = -1, double max = 1) : Module
{
    public double Min { get; } = min;
    public double Max { get; } = max;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.HardTanh(x, Min, Max);
}

/// <summary>Parametric ReLU (<see cref="Ops.PRelu"/>) with parameter <c>weight</c>: one slope per channel, or one shared
/// slope when <c>numParameters</c> is 1 (PyTorch's default), initialised to <c>init</c>.</summary>
public sealed class PReLU : Module
{
    /// <summary>Creates the layer.</summary>
    public PReLU(int numParameters = 1, double init = 0.25)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numParameters, 1);
        Weight = RegisterParameter("weight", Tensor.Full([numParameters], init));
    }

    public Parameter Weight { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.PRelu(x, Weight.Value);
}

/// <summary>Inverted dropout (<see cref="Ops.Dropout"/>) with drop probability <see cref="P"/>, active only in training.</summary>
public sealed class Dropout : Module
{
    private readonly Rng _rng;

    /// <summary>Creates the layer; masks are drawn from <paramref name="rng"/>.</summary>
    public Dropout(double p, Rng rng)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout: p must be in [0, 1].");
        ArgumentNullException.ThrowIfNull(rng);
        (P, _rng) = (p, rng);
    }

    public double P { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.Dropout(x, P, _rng, Training);
}

/// <summary>Flattens every axis from <see cref="StartAxis"/> on (default: all but the batch axis), a view when possible.</summary>
public sealed class Flatten(int startAxis = 1) : Module
{
    public int StartAxis { get; } = startAxis;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.Flatten(x, StartAxis);
}

/// <summary>Max pooling with a square window (<see cref="Ops.MaxPool2D"/>); stride defaults to the window.</summary>
public sealed class MaxPool2d(int kernelSize, int? stride = null, int padding = 0) : Module
{
    public int KernelSize { get; } = kernelSize;
    public int Stride { get; } = stride ?? kernelSize;
    public int Padding { get; } = padding;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.MaxPool2D(x, KernelSize, Stride, Padding);
}

/// <summary>Average pooling with a square window, padding counted as zeros (<see cref="Ops.AvgPool2D"/>).</summary>
public sealed class AvgPool2d(int kernelSize, int? stride = null, int padding = 0) : Module
{
    public int KernelSize { get; } = kernelSize;
    public int Stride { get; } = stride ?? kernelSize;
    public int Padding { get; } = padding;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.AvgPool2D(x, KernelSize, Stride, Padding);
}

/// <summary>Global average pooling [N,C,H,W] → [N,C] (<see cref="Ops.GlobalAvgPool2D"/>).</summary>
public sealed class GlobalAvgPool2d : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.GlobalAvgPool2D(x);
}
