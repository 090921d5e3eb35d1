using BinaryGrad.Autograd;

namespace BinaryGrad.Layers;

/// <summary>Fully connected layer <c>y = x·Wᵀ + b</c> (<see cref="Ops.Linear"/>): x [N,in] → y [N,out]; inputs of
/// higher rank are treated as [·, in] rows. Parameters <c>weight</c> [out,in] and, optionally, <c>bias</c> [out].</summary>
/// <remarks>PyTorch's default initialisation: Kaiming-uniform with a = √5, which makes the weight bound
/// <c>gain·√(3/fanIn)</c> with <c>gain = √(2/(1 + a²)) = √(1/3)</c>, i.e. <c>W ~ U(−1/√in, 1/√in)</c>; and
/// <c>b ~ U(−1/√in, 1/√in)</c>. Weight values are drawn first, then the bias, from the given <c>rng</c>.</remarks>
public sealed class Linear : Module
{
    /// <summary>Creates the layer with freshly initialised parameters.</summary>
    public Linear(int inFeatures, int outFeatures, Rng rng, bool bias = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        ArgumentNullException.ThrowIfNull(rng);
        (InFeatures, OutFeatures) = (inFeatures, outFeatures);
        double bound = 1 / Math.Sqrt(inFeatures);
        Weight = RegisterParameter("weight", Tensor.Uniform([outFeatures, inFeatures], rng, -bound, bound));
        if (bias) Bias = RegisterParameter("bias", Tensor.Uniform([outFeatures], rng, -bound, bound));
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank == 2) return Ops.Linear(x, Weight.Value, Bias?.Value);
        if (x.Rank < 1 || x.Shape[^1] != InFeatures)
            throw new ArgumentException($"Linear({InFeatures}→{OutFeatures}): input {Shapes.Format(x.Shape)} must end in {InFeatures} features.");
        Tensor y = Ops.Linear(x.Reshape(-1, InFeatures), Weight.Value, Bias?.Value);
        return y.Reshape([.. x.Shape[..^1].ToArray(), OutFeatures]);
    }

    /// <inheritdoc/>
    public override string ToString() => $"Linear({InFeatures}→{OutFeatures}{(Bias is null ? ", no bias" : "")})";
}
