using BinaryGrad.Autograd;

namespace BinaryGrad.Layers;

/// <summary>A network building block: a function of one tensor that owns trainable parameters, non-trainable
/// buffers (e.g. batch-norm running statistics) and child modules, all under stable dotted names.</summary>
/// <remarks>
/// Names follow PyTorch so checkpoints read the same: a parameter <c>weight</c> of child <c>0</c> of child
/// <c>features</c> is <c>features.0.weight</c>. Registration order is the enumeration order (own parameters, then
/// each child's, recursively), so names and <see cref="StateDict"/> order are reproducible.
/// <see cref="Training"/> switches layers whose behaviour differs between training and evaluation (batch norm, dropout).
/// </remarks>
public abstract class Module
{
    private readonly List<Parameter> _parameters = [];
    private readonly List<ModuleBuffer> _buffers = [];
    private readonly List<(string Name, Module Module)> _children = [];

    /// <summary>Computes the layer's output.</summary>
    public abstract Tensor Forward(Tensor x);

    /// <summary>True in training mode (the default), false after <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Sets training mode on this module and every descendant; returns this.</summary>
    public Module Train(bool training = true)
    {
        Training = training;
        foreach ((_, Module child) in _children) child.Train(training);
        return this;
    }

    /// <summary>Sets evaluation mode recursively (<c>Train(false)</c>); returns this.</summary>
    public Module Eval() => Train(false);

    /// <summary>Registers a trainable tensor under <paramref name="name"/> (unique among this module's members).</summary>
    protected Parameter RegisterParameter(string name, Tensor value, int precision = 32)
    {
        CheckNewName(name);
        var parameter = new Parameter(name, value, precision);
        _parameters.Add(parameter);
        return parameter;
    }

    /// <summary>Registers an existing parameter (owned by something else, e.g. a quantizer's learnable scale)
    /// under its own name, so it is saved, loaded and optimised with this module's.</summary>
    protected Parameter RegisterParameter(Parameter parameter)
    {
        CheckNewName(parameter.Name);
        _parameters.Add(parameter);
        return parameter;
    }

    /// <summary>Registers a non-trainable state tensor (saved in <see cref="StateDict"/>, never optimised).
    /// <paramref name="followsModuleDType"/> false keeps it in its own type under <see cref="To"/> (e.g. a counter).</summary>
    protected ModuleBuffer RegisterBuffer(string name, Tensor value, bool followsModuleDType = true)
    {
        CheckNewName(name);
        var buffer = new ModuleBuffer(name, value, followsModuleDType);
        _buffers.Add(buffer);
        return buffer;
    }

    /// <summary>Registers a child module under <paramref name="name"/>; returns it.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        ArgumentNullException.ThrowIfNull(module);
        CheckNewName(name);
        _children.Add((name, module));
        return module;
    }

    private void CheckNewName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"{GetType().Name}: member name '{name}' must be non-empty and contain no '.'.");
        if (_parameters.Any(p => p.Name == name) || _buffers.Any(b => b.Name == name) || _children.Any(c => c.Name == name))
            throw new ArgumentException($"{GetType().Name}: a member named '{name}' is already registered.");
    }

    /// <summary>The direct children with their names.</summary>
    public IEnumerable<KeyValuePair<string, Module>> NamedChildren() => _children.Select(c => KeyValuePair.Create(c.Name, c.Module));

    /// <summary>Every parameter of this module and its descendants, with its full dotted name.</summary>
    public IEnumerable<KeyValuePair<string, Parameter>> NamedParameters(string prefix = "")
    {
        foreach (Parameter p in _parameters) yield return KeyValuePair.Create(prefix + p.Name, p);
        foreach ((string name, Module child) in _children)
            foreach (var entry in child.NamedParameters(prefix + name + ".")) yield return entry;
    }

    /// <summary>Every parameter, in <see cref="NamedParameters"/> order.</summary>
    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(e => e.Value);

    /// <summary>Every buffer of this module and its descendants, with its full dotted name.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> NamedBuffers(string prefix = "") =>
        NamedBufferSlots(prefix).Select(e => KeyValuePair.Create(e.Key, e.Value.Value));

    private IEnumerable<KeyValuePair<string, ModuleBuffer>> NamedBufferSlots(string prefix = "")
    {
        foreach (ModuleBuffer b in _buffers) yield return KeyValuePair.Create(prefix + b.Name, b);
        foreach ((string name, Module child) in _children)
            foreach (var entry in child.NamedBufferSlots(prefix + name + ".")) yield return entry;
    }

    /// <summary>Total number of trainable scalars.</summary>
    public long ParameterCount => Parameters().Sum(p => (long)p.Length);

    /// <summary>A snapshot of every parameter and buffer (copies, detached), parameters first, in registration order:
    /// what a checkpoint stores.</summary>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var state = new OrderedDictionary<string, Tensor>();
        foreach ((string name, Parameter p) in NamedParameters()) state.Add(name, Snapshot(p.Value));
        foreach ((string name, ModuleBuffer b) in NamedBufferSlots()) state.Add(name, Snapshot(b.Value));
        return state;
    }

    private static Tensor Snapshot(Tensor t) => t.DType == DType.Float32
        ? new Tensor(t.ToArray<float>(), t.Shape)
        : new Tensor(t.ToArray<double>(), t.Shape);

    /// <summary>Copies values from <paramref name="state"/> into the parameters and buffers of the same names (converted
    /// to each member's element type). Validates everything first and changes nothing when it throws.</summary>
    /// <param name="state">Named tensors, e.g. from <see cref="StateDict"/> or a checkpoint.</param>
    /// <param name="strict">When true, names missing from <paramref name="state"/> and unexpected extra names are errors;
    /// when false they are skipped. Shape mismatches are always errors.</param>
    /// <exception cref="ArgumentException">Lists every problem, e.g.
    /// <c>features.0.weight: checkpoint has [32,1,3,3], model has [16,1,3,3]</c>, <c>missing: …</c>, <c>unexpected: …</c>.</exception>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(state);
        var targets = new List<(string Name, Tensor Current, Action<Tensor> Load)>();
        foreach ((string name, Parameter p) in NamedParameters()) targets.Add((name, p.Value, p.Load));
        foreach ((string name, ModuleBuffer b) in NamedBufferSlots()) targets.Add((name, b.Value, b.Load));

        var problems = new List<string>();
        foreach ((string name, Tensor current, _) in targets)
            if (state.TryGetValue(name, out Tensor? stored) && !Shapes.Equal(stored.Shape, current.Shape))
                problems.Add($"{name}: checkpoint has {Shapes.Format(stored.Shape)}, model has {Shapes.Format(current.Shape)}");
        if (strict)
        {
            var known = targets.Select(t => t.Name).ToHashSet();
            string[] missing = [.. targets.Where(t => !state.ContainsKey(t.Name)).Select(t => t.Name)];
            string[] unexpected = [.. state.Keys.Where(k => !known.Contains(k))];
            if (missing.Length > 0) problems.Add("missing: " + string.Join(", ", missing));
            if (unexpected.Length > 0) problems.Add("unexpected: " + string.Join(", ", unexpected));
        }
        if (problems.Count > 0)
            throw new ArgumentException($"{GetType().Name}.LoadStateDict: " + string.Join("; ", problems) + ".");
        foreach ((string name, _, Action<Tensor> load) in targets)
            if (state.TryGetValue(name, out Tensor? stored)) load(stored);
        NotifyStateLoaded();
    }

    // The root's LoadStateDict writes straight into its descendants' parameters, so each of them is told afterwards.
    private void NotifyStateLoaded()
    {
        OnStateLoaded();
        foreach ((_, Module child) in _children) child.NotifyStateLoaded();
    }

    /// <summary>Called on this module and every descendant after <see cref="LoadStateDict"/> has replaced their values:
    /// the place to reset state derived from the parameters (e.g. the sign snapshot a binary layer's flip ratio is
    /// measured against), so it describes the loaded weights rather than the ones they replaced.</summary>
    protected virtual void OnStateLoaded() { }

    /// <summary>Converts every parameter and buffer (except type-fixed buffers) to <paramref name="dtype"/>, recursively.
    /// Parameters become new leaves (gradients are dropped), so build the optimizer after converting.</summary>
    public Module To(DType dtype)
    {
        foreach (Parameter p in _parameters) p.ConvertTo(dtype);
        foreach (ModuleBuffer b in _buffers) if (b.FollowsModuleDType) b.Value = b.Value.To(dtype);
        foreach ((_, Module child) in _children) child.To(dtype);
        return this;
    }

    /// <summary>Forgets every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (Parameter p in Parameters()) p.ZeroGrad();
    }

    /// <inheritdoc/>
    public override string ToString() => GetType().Name;
}

/// <summary>A named non-trainable tensor slot of a module (the tensor is replaced by <see cref="Module.To"/>).</summary>
public sealed class ModuleBuffer(string name, Tensor value, bool followsModuleDType)
{
    /// <summary>Name within its module, e.g. <c>running_mean</c>.</summary>
    public string Name { get; } = name;

    private Tensor _value = value.Keep(); // module state: never returned to a TensorPool scope it was made in

    /// <summary>The current tensor.</summary>
    public Tensor Value
    {
        get => _value;
        internal set => _value = value.Keep();
    }

    /// <summary>False for buffers that keep their own element type (counters).</summary>
    public bool FollowsModuleDType { get; } = followsModuleDType;

    /// <summary>Copies <paramref name="values"/> (same shape) into the buffer, converting the element type.</summary>
    internal void Load(Tensor values)
    {
        Tensor converted = values.To(Value.DType).Contiguous();
        if (Value.DType == DType.Float32) converted.AsSpan<float>().CopyTo(Value.AsSpan<float>());
        else converted.AsSpan<double>().CopyTo(Value.AsSpan<double>());
    }
}
