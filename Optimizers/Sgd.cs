using System.Numerics;
using System.Numerics.Tensors;
using BinaryGrad.Autograd;
using Tensor = BinaryGrad.Autograd.Tensor;

namespace BinaryGrad.Optimizers;

/// <summary>Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay, with PyTorch's
/// formulas (dampening 0 by default):
/// <code>
/// g ← ∇ + wd·p
/// b ← g on the first step, else μ·b + (1 − dampening)·g     (slot momentum_buffer; only when μ ≠ 0)
/// g ← g + μ·b  (Nesterov)   or   g ← b
/// p ← p − lr·g
/// </code></summary>
public sealed class Sgd : Optimizer
{
    /// <summary>Optimises named parameters (e.g. <c>model.NamedParameters()</c>) as one group.</summary>
    public Sgd(IEnumerable<KeyValuePair<string, Parameter>> parameters, double learningRate, double momentum = 0, double weightDecay = 0,
        bool nesterov = false, double dampening = 0)
        : this(OneGroup(parameters), learningRate, momentum, weightDecay, nesterov, dampening) { }

    /// <summary>Optimises <paramref name="groups"/>; their unset hyper-parameters take these defaults.</summary>
    public Sgd(IEnumerable<ParameterGroup> groups, double learningRate, double momentum = 0, double weightDecay = 0,
        bool nesterov = false, double dampening = 0)
        : base(groups, new ParameterGroup(Array.Empty<Parameter>()) { LearningRate = learningRate, Momentum = momentum, WeightDecay = weightDecay })
    {
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException("Sgd: Nesterov momentum needs momentum > 0 and dampening 0.");
        (Nesterov, Dampening) = (nesterov, dampening);
    }

    private object? _scratch;

    public bool Nesterov { get; }
    public double Dampening { get; }

    /// <inheritdoc/>
    protected override void Update(ParameterGroup group, Parameter parameter, Tensor grad, Dictionary<string, Tensor> state)
    {
        if (parameter.DType == DType.Float32) Update<float>(group, parameter, grad, state);
        else Update<double>(group, parameter, grad, state);
    }

    private void Update<T>(ParameterGroup group, Parameter parameter, Tensor grad, Dictionary<string, Tensor> state)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Span<T> p = parameter.Value.AsSpan<T>();
        T wd = T.CreateChecked(group.WeightDecay!.Value), mu = T.CreateChecked(group.Momentum!.Value), lr = T.CreateChecked(group.Lr);
        // The gradient is modified below, so work on a copy in a reused buffer (the caller's gradient stays intact).
        if (_scratch is not T[] scratch || scratch.Length < p.Length) _scratch = scratch = new T[p.Length];
        Span<T> g = scratch.AsSpan(0, p.Length);
        grad.AsSpan<T>().CopyTo(g);
        if (wd != T.Zero) TensorPrimitives.MultiplyAdd(p, wd, g, g);
        if (mu != T.Zero)
        {
            Span<T> buffer = Slot(state, "momentum_buffer", parameter.Value, out bool created).AsSpan<T>();
            if (created) g.CopyTo(buffer);
            else
            {
                TensorPrimitives.Multiply(buffer, mu, buffer);
                TensorPrimitives.MultiplyAdd(g, T.CreateChecked(1 - Dampening), buffer, buffer);
            }
            if (Nesterov) TensorPrimitives.MultiplyAdd(buffer, mu, g, g);
            else buffer.CopyTo(g);
        }
        TensorPrimitives.MultiplyAdd(g, -lr, p, p);
    }
}
