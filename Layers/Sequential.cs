using System.Collections;
using BinaryGrad.Autograd;

namespace BinaryGrad.Layers;

/// <summary>Applies its children in order; they are named <c>0</c>, <c>1</c>, … (PyTorch's numbering, so parameter
/// names read <c>3.weight</c>, or <c>features.3.weight</c> inside a parent).</summary>
public sealed class Sequential : Module, IReadOnlyList<Module>
{
    private readonly List<Module> _modules = [];

    /// <summary>Creates the container with <paramref name="modules"/> in order.</summary>
    public Sequential(params IEnumerable<Module> modules)
    {
        foreach (Module m in modules) Add(m);
    }

    /// <summary>Appends <paramref name="module"/> under the next index; returns this.</summary>
    public Sequential Add(Module module)
    {
        RegisterModule(_modules.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);
        _modules.Add(module);
        return this;
    }

    /// <inheritdoc/>
    public Module this[int index] => _modules[index];

    /// <inheritdoc/>
    public int Count => _modules.Count;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        for (int i = 0; i < _modules.Count; i++)
        {
            // a residual unit ending in batch norm, then Hardtanh: one fused pass (Residual.ForwardClamped), same bits
            if (i + 1 < _modules.Count && _modules[i] is Residual residual && _modules[i + 1] is HardTanh clamp
                && residual.ForwardClamped(x, clamp.Min, clamp.Max) is { } fused)
            {
                x = fused;
                i++;
                continue;
            }
            // the same with PReLU (SiMaN's units): Residual.ForwardPRelu
            if (i + 1 < _modules.Count && _modules[i] is Residual unit && _modules[i + 1] is PReLU prelu
                && unit.ForwardPRelu(x, prelu.Weight.Value) is { } fusedPRelu)
            {
                x = fusedPRelu;
                i++;
                continue;
            }
            x = _modules[i].Forward(x);
        }
        return x;
    }

    /// <summary>Runs the first <paramref name="count"/> modules only.</summary>
    internal Tensor ForwardPrefix(Tensor x, int count)
    {
        for (int i = 0; i < count; i++) x = _modules[i].Forward(x);
        return x;
    }

    /// <summary>The modules in order.</summary>
    internal IReadOnlyList<Module> Modules => _modules;

    /// <inheritdoc/>
    public IEnumerator<Module> GetEnumerator() => _modules.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A model split into a feature extractor and a classifier head: <c>classifier(features(x))</c>, with children
/// named <c>features</c> and <c>classifier</c> (so names read <c>features.0.weight</c>, as in torchvision).</summary>
public sealed class FeatureClassifier : Module
{
    /// <summary>Creates the model from its two parts.</summary>
    public FeatureClassifier(Module features, Module classifier)
    {
        Features = RegisterModule("features", features);
        Classifier = RegisterModule("classifier", classifier);
    }

    public Module Features { get; }
    public Module Classifier { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Classifier.Forward(Features.Forward(x));
}
