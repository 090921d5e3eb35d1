using System.Numerics;
using System.Runtime.InteropServices;
using BinaryGrad.Autograd;
using BinaryGrad.Kernels.Updates;
using Tensor = BinaryGrad.Autograd.Tensor;

namespace BinaryGrad.Optimizers;

/// <summary>Adam (Kingma &amp; Ba 2015) with PyTorch's formulas; weight decay is an L2 term added to the gradient:
/// <code>
/// g ← ∇ + wd·p
/// m ← β₁·m + (1 − β₁)·g            (slot exp_avg)
/// v ← β₂·v + (1 − β₂)·g²           (slot exp_avg_sq)
/// p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// </code>
/// ε is added after the square root of the bias-corrected second moment, as PyTorch does. t (slot step) counts this
/// parameter's updates.</summary>
public class Adam : Optimizer
{
    /// <summary>Optimises named parameters (e.g. <c>model.NamedParameters()</c>) as one group.</summary>
    public Adam(IEnumerable<KeyValuePair<string, Parameter>> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0)
        : this(OneGroup(parameters), learningRate, beta1, beta2, eps, weightDecay) { }

    /// <summary>Optimises <paramref name="groups"/>; their unset hyper-parameters take these defaults.</summary>
    public Adam(IEnumerable<ParameterGroup> groups, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0)
        : base(groups, new ParameterGroup(Array.Empty<Parameter>()) { LearningRate = learningRate, Beta1 = beta1, Beta2 = beta2, Eps = eps, WeightDecay = weightDecay }) { }

    /// <summary>True for AdamW: decay applied to the weights (<c>p ← p·(1 − lr·wd)</c>) instead of to the gradient.</summary>
    protected virtual bool DecoupledWeightDecay => false;

    /// <inheritdoc/>
    protected override void Update(ParameterGroup group, Parameter parameter, Tensor grad, Dictionary<string, Tensor> state)
    {
        Tensor m = Slot(state, "exp_avg", parameter.Value, out _), v = Slot(state, "exp_avg_sq", parameter.Value, out _);
        int t = NextStep(state);
        DTypeDispatch.Run(parameter.DType, new AdamStep(parameter.Value, grad, m, v, group, t, DecoupledWeightDecay));
    }

    /// <summary>One Adam step on p with gradient g and moments m, v, in their element type.</summary>
    private readonly struct AdamStep(Tensor p, Tensor g, Tensor mTensor, Tensor vTensor, ParameterGroup group, int t, bool decoupledWeightDecay) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            Span<T> m = mTensor.AsSpan<T>(), v = vTensor.AsSpan<T>();
            double lr = group.Lr, wd = group.WeightDecay!.Value, beta1 = group.Beta1!.Value, beta2 = group.Beta2!.Value;
            var k = new AdamCoefficients<T>
            {
                Decay = T.CreateChecked(decoupledWeightDecay ? 1 - lr * wd : 1),
                L2 = T.CreateChecked(decoupledWeightDecay ? 0 : wd),
                Beta1 = T.CreateChecked(beta1),
                OneMinusBeta1 = T.CreateChecked(1 - beta1),
                Beta2 = T.CreateChecked(beta2),
                OneMinusBeta2 = T.CreateChecked(1 - beta2),
                SqrtCorrection2 = T.CreateChecked(Math.Sqrt(1 - Math.Pow(beta2, t))),
                Eps = T.CreateChecked(group.Eps!.Value),
                NegativeStep = T.CreateChecked(-lr / (1 - Math.Pow(beta1, t))),
            };
            AdamUpdate.Apply(p.AsSpan<T>(), g.AsSpan<T>(), m, v, k);
        }
    }
}

/// <summary>AdamW (Loshchilov &amp; Hutter 2019): Adam with decoupled weight decay, <c>p ← p·(1 − lr·wd)</c> before the
/// Adam step (the gradient is not modified). Default wd 0.01, as in PyTorch.</summary>
public sealed class AdamW : Adam
{
    /// <summary>Optimises named parameters as one group.</summary>
    public AdamW(IEnumerable<KeyValuePair<string, Parameter>> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0.01)
        : base(parameters, learningRate, beta1, beta2, eps, weightDecay) { }

    /// <summary>Optimises <paramref name="groups"/>; their unset hyper-parameters take these defaults.</summary>
    public AdamW(IEnumerable<ParameterGroup> groups, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0.01)
        : base(groups, learningRate, beta1, beta2, eps, weightDecay) { }

    /// <inheritdoc/>
    protected override bool DecoupledWeightDecay => true;
}
