using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>A scheme's extra loss term on the latent weights (e.g. BD-BNN's kurtosis penalty): L_total = L_task + Penalty.</summary>
public abstract class Regularizer
{
    /// <summary>Short name, e.g. <c>kurtosis</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The penalty over the given latent weight tensors, as a scalar graph node (so backward reaches them).</summary>
    public abstract Tensor Penalty(IReadOnlyList<Tensor> weights);

    /// <summary>Updates schedule-driven state; default nothing.</summary>
    public virtual void OnProgress(TrainingProgress progress) { }
}
