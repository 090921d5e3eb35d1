using System.Globalization;
using BinaryGrad.Autograd;

namespace BinaryGrad.Optimizers;

/// <summary>A set of parameters sharing hyper-parameters (PyTorch's param group). Unset values take the optimizer's
/// defaults when the optimizer is built; afterwards every value is set and may be changed between steps.</summary>
public sealed class ParameterGroup
{
    /// <summary>A group of named parameters (the names key the optimizer state, e.g. <c>features.0.weight.exp_avg</c>).</summary>
    public ParameterGroup(IEnumerable<KeyValuePair<string, Parameter>> namedParameters)
    {
        ArgumentNullException.ThrowIfNull(namedParameters);
        Named = [.. namedParameters.Select(e => ((string?)e.Key, e.Value))];
    }

    /// <summary>A group of parameters named by <see cref="Parameter.Name"/> (made unique by the optimizer when they clash).</summary>
    public ParameterGroup(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Named = [.. parameters.Select(p => ((string?)null, p))];
    }

    /// <summary>The parameters with the names given at construction (null: named by the optimizer).</summary>
    internal List<(string? Name, Parameter Parameter)> Named { get; }

    /// <summary>The parameters of the group.</summary>
    public IEnumerable<Parameter> Parameters => Named.Select(e => e.Parameter);

    /// <summary>Step size.</summary>
    public double? LearningRate { get; set; }
    /// <summary>L2 penalty (Sgd, Adam) or decoupled decay rate (AdamW).</summary>
    public double? WeightDecay { get; set; }
    /// <summary>Sgd momentum μ.</summary>
    public double? Momentum { get; set; }
    /// <summary>Adam β₁.</summary>
    public double? Beta1 { get; set; }
    /// <summary>Adam β₂.</summary>
    public double? Beta2 { get; set; }
    /// <summary>Adam ε.</summary>
    public double? Eps { get; set; }

    internal double Lr => LearningRate!.Value;
}

/// <summary>Updates parameters in place from their gradients. Subclasses implement the rule for one parameter;
/// the base class owns groups, names, state and its serialisation.</summary>
/// <remarks>Parameters whose <see cref="Parameter.Grad"/> is null (unused in this step) are skipped and keep their state.
/// State tensors are keyed <c>{name}.{slot}</c> (e.g. <c>fc.weight.exp_avg</c>, <c>fc.weight.step</c>) and
/// <c>group{i}.lr</c>, so a checkpoint restores the exact continuation.</remarks>
public abstract class Optimizer
{
    private readonly Dictionary<Parameter, string> _names = [];
    private readonly Dictionary<string, Dictionary<string, Tensor>> _state = [];

    /// <summary>Collects the groups and fills each group's unset hyper-parameters from <paramref name="defaults"/>.</summary>
    protected Optimizer(IEnumerable<ParameterGroup> groups, ParameterGroup defaults)
    {
        ArgumentNullException.ThrowIfNull(groups);
        Groups = [.. groups];
        if (Groups.Count == 0) throw new ArgumentException($"{GetType().Name}: no parameter groups.", nameof(groups));
        var used = new HashSet<string>();
        int index = 0;
        foreach (ParameterGroup g in Groups)
        {
            g.LearningRate ??= defaults.LearningRate;
            g.WeightDecay ??= defaults.WeightDecay;
            g.Momentum ??= defaults.Momentum;
            g.Beta1 ??= defaults.Beta1;
            g.Beta2 ??= defaults.Beta2;
            g.Eps ??= defaults.Eps;
            foreach ((string? name, Parameter p) in g.Named)
            {
                if (_names.ContainsKey(p)) throw new ArgumentException($"{GetType().Name}: parameter '{p.Name}' appears twice.", nameof(groups));
                string key = name ?? p.Name;
                if (!used.Add(key)) key = name is null ? $"param{index}" : throw new ArgumentException($"{GetType().Name}: two parameters are named '{name}'.", nameof(groups));
                used.Add(key);
                _names[p] = key;
                index++;
            }
        }
    }

    /// <summary>Optimises named parameters (e.g. <c>model.NamedParameters()</c>) as one group.</summary>
    protected static ParameterGroup[] OneGroup(IEnumerable<KeyValuePair<string, Parameter>> parameters) => [new ParameterGroup(parameters)];

    /// <summary>The parameter groups.</summary>
    public IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>The first group's learning rate; setting it sets every group's (what schedules do).</summary>
    public double LearningRate
    {
        get => Groups[0].Lr;
        set { foreach (ParameterGroup g in Groups) g.LearningRate = value; }
    }

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public void Step()
    {
        using var _ = GradMode.NoGrad();
        foreach (ParameterGroup g in Groups)
            foreach ((string? _, Parameter p) in g.Named) // the list itself: a LINQ view would allocate every step
            {
                if (p.Grad is null) continue;
                if (!_state.TryGetValue(_names[p], out Dictionary<string, Tensor>? state)) _state[_names[p]] = state = [];
                Tensor grad = p.Grad.DType == p.DType ? p.Grad.Contiguous() : p.Grad.To(p.DType);
                Update(g, p, grad, state);
            }
    }

    /// <summary>Updates <paramref name="parameter"/>'s values in place from <paramref name="grad"/> (contiguous, same type),
    /// creating its state slots on first use.</summary>
    protected abstract void Update(ParameterGroup group, Parameter parameter, Tensor grad, Dictionary<string, Tensor> state);

    /// <summary>Forgets every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (ParameterGroup g in Groups) foreach ((string? _, Parameter p) in g.Named) p.ZeroGrad();
    }

    /// <summary>A copy of the optimizer state: per-parameter slots as <c>{name}.{slot}</c> and each group's learning rate
    /// as <c>group{i}.lr</c> (a scalar).</summary>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var result = new OrderedDictionary<string, Tensor>();
        for (int i = 0; i < Groups.Count; i++)
            result.Add(string.Create(CultureInfo.InvariantCulture, $"group{i}.lr"), Tensor.Scalar(Groups[i].Lr, DType.Float64));
        foreach ((string name, Dictionary<string, Tensor> slots) in _state)
            foreach ((string slot, Tensor t) in slots) result.Add($"{name}.{slot}", Copy(t));
        return result;
    }

    /// <summary>Replaces the state with <paramref name="state"/> (from <see cref="StateDict"/>); slots are copied, so
    /// later steps continue exactly as the saved optimizer would have.</summary>
    /// <exception cref="ArgumentException">A key names no parameter of this optimizer or no known group.</exception>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var byName = _names.Values.ToHashSet();
        var loaded = new Dictionary<string, Dictionary<string, Tensor>>();
        var learningRates = new Dictionary<int, double>();
        foreach ((string key, Tensor value) in state)
        {
            if (key.StartsWith("group", StringComparison.Ordinal) && key.EndsWith(".lr", StringComparison.Ordinal)
                && int.TryParse(key.AsSpan(5, key.Length - 8), NumberStyles.None, CultureInfo.InvariantCulture, out int gi) && gi < Groups.Count)
            {
                learningRates[gi] = value.Item();
                continue;
            }
            int dot = key.LastIndexOf('.');
            string name = dot < 0 ? "" : key[..dot];
            if (!byName.Contains(name))
                throw new ArgumentException($"{GetType().Name}.LoadStateDict: '{key}' names no parameter of this optimizer.", nameof(state));
            if (!loaded.TryGetValue(name, out var slots)) loaded[name] = slots = [];
            slots[key[(dot + 1)..]] = Copy(value);
        }
        _state.Clear();
        foreach (var entry in loaded) _state[entry.Key] = entry.Value;
        foreach ((int gi, double lr) in learningRates) Groups[gi].LearningRate = lr;
    }

    private static Tensor Copy(Tensor t) => t.DType == DType.Float32 ? new Tensor(t.ToArray<float>(), t.Shape) : new Tensor(t.ToArray<double>(), t.Shape);

    /// <summary>The state slot <paramref name="slot"/>, created as zeros like <paramref name="like"/> on first use.</summary>
    protected static Tensor Slot(Dictionary<string, Tensor> state, string slot, Tensor like, out bool created)
    {
        created = !state.TryGetValue(slot, out Tensor? t);
        if (created) state[slot] = t = Tensor.Zeros(like.Shape, like.DType).Keep(); // optimizer state outlives any TensorPool step scope
        return t!;
    }

    /// <summary>Increments and returns the per-parameter step counter (slot <c>step</c>, float64 scalar, exact to 2⁵³).</summary>
    protected static int NextStep(Dictionary<string, Tensor> state)
    {
        if (!state.TryGetValue("step", out Tensor? t)) state["step"] = t = Tensor.Zeros([], DType.Float64).Keep();
        Span<double> s = t.AsSpan<double>();
        s[0] += 1;
        return (int)s[0];
    }
}
