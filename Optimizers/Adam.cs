using System.Numerics;
using System.Runtime.InteropServices;
using BinaryGrad.Autograd;
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
        if (parameter.DType == DType.Float32) Update<float>(group, parameter, grad, state);
        else Update<double>(group, parameter, grad, state);
    }

    private void Update<T>(ParameterGroup group, Parameter parameter, Tensor grad, Dictionary<string, Tensor> state)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Span<T> m = Slot(state, "exp_avg", parameter.Value, out _).AsSpan<T>();
        Span<T> v = Slot(state, "exp_avg_sq", parameter.Value, out _).AsSpan<T>();
        int t = NextStep(state);
        double lr = group.Lr, wd = group.WeightDecay!.Value, beta1 = group.Beta1!.Value, beta2 = group.Beta2!.Value;
        var k = new Coefficients<T>
        {
            Decay = T.CreateChecked(DecoupledWeightDecay ? 1 - lr * wd : 1),
            L2 = T.CreateChecked(DecoupledWeightDecay ? 0 : wd),
            Beta1 = T.CreateChecked(beta1),
            OneMinusBeta1 = T.CreateChecked(1 - beta1),
            Beta2 = T.CreateChecked(beta2),
            OneMinusBeta2 = T.CreateChecked(1 - beta2),
            SqrtCorrection2 = T.CreateChecked(Math.Sqrt(1 - Math.Pow(beta2, t))),
            Eps = T.CreateChecked(group.Eps!.Value),
            NegativeStep = T.CreateChecked(-lr / (1 - Math.Pow(beta1, t))),
        };
        Apply(parameter.Value.AsSpan<T>(), grad.AsSpan<T>(), m, v, k);
    }

    private struct Coefficients<T>
    {
        public T Decay, L2, Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, SqrtCorrection2, Eps, NegativeStep;
    }

    /// <summary>The whole update in one pass over p, g, m, v (a chain of span-wide primitives would stream the four
    /// arrays about ten times; the optimizer step is memory-bound, so one pass is several times faster).
    /// Operation order matches the formula in the class doc term by term.</summary>
    private static void Apply<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> m, Span<T> v, in Coefficients<T> k)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            ref T pr = ref MemoryMarshal.GetReference(p), mr = ref MemoryMarshal.GetReference(m), vr = ref MemoryMarshal.GetReference(v);
            ref T gr = ref MemoryMarshal.GetReference(g);
            Vector<T> decay = new(k.Decay), l2 = new(k.L2), b1 = new(k.Beta1), c1 = new(k.OneMinusBeta1), b2 = new(k.Beta2),
                c2 = new(k.OneMinusBeta2), sqrtCorrection2 = new(k.SqrtCorrection2), eps = new(k.Eps), step = new(k.NegativeStep);
            for (; i <= p.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                nuint at = (nuint)i;
                Vector<T> pv = Vector.LoadUnsafe(ref pr, at);
                Vector<T> gv = Vector.LoadUnsafe(ref gr, at) + l2 * pv;
                pv *= decay;
                Vector<T> mv = b1 * Vector.LoadUnsafe(ref mr, at) + c1 * gv;
                Vector<T> vv = b2 * Vector.LoadUnsafe(ref vr, at) + c2 * (gv * gv);
                mv.StoreUnsafe(ref mr, at);
                vv.StoreUnsafe(ref vr, at);
                (pv + step * (mv / (Vector.SquareRoot(vv) / sqrtCorrection2 + eps))).StoreUnsafe(ref pr, at);
            }
        }
        for (; i < p.Length; i++)
        {
            T gi = g[i] + k.L2 * p[i];
            m[i] = k.Beta1 * m[i] + k.OneMinusBeta1 * gi;
            v[i] = k.Beta2 * v[i] + k.OneMinusBeta2 * (gi * gi);
            p[i] = p[i] * k.Decay + k.NegativeStep * (m[i] / (T.Sqrt(v[i]) / k.SqrtCorrection2 + k.Eps));
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
