namespace BinaryGrad.Autograd;

/// <summary>A trainable tensor of a model: a float leaf that requires a gradient, with a stable name and a
/// precision tag. Optimizers see only parameters, never layers.</summary>
/// <remarks>
/// <see cref="Precision"/> follows Larq's <c>is_binary_variable</c> idea: 1 marks the real-valued latent weights
/// of a binary layer (what Bop and the case optimizer route differently), 32 everything else. Optimizers update
/// <see cref="Value"/> in place through its span, so the tensor object (and any view of it) stays the same.
/// </remarks>
public sealed class Parameter
{
    /// <summary>Wraps <paramref name="value"/> (made a gradient-requiring leaf) under <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">The tensor was computed by an op or is not contiguous.</exception>
    public Parameter(string name, Tensor value, int precision = 32)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!value.IsLeaf || !value.IsContiguous)
            throw new ArgumentException($"Parameter '{name}' needs a contiguous leaf tensor; call Detach().Contiguous() first.", nameof(value));
        Name = name;
        value.RequiresGrad = true;
        value.Name ??= name;
        Value = value.Keep(); // model state: never returned to a TensorPool scope it may have been made in
        Precision = precision;
    }

    /// <summary>Name within its module, e.g. <c>weight</c>; modules report the full path (<c>features.0.weight</c>).</summary>
    public string Name { get; }

    /// <summary>The values (a contiguous leaf that requires grad).</summary>
    public Tensor Value { get; private set; }

    /// <summary>Bits of the quantity the network sees: 1 for binary latent weights, 32 otherwise.</summary>
    public int Precision { get; set; }

    /// <summary>The accumulated gradient, or null before any backward.</summary>
    public Tensor? Grad => Value.Grad;

    /// <summary>Element count.</summary>
    public int Length => Value.Length;

    /// <summary>Element type.</summary>
    public DType DType => Value.DType;

    /// <summary>Forgets the gradient (see <see cref="Tensor.ZeroGrad"/>: one computed in a <see cref="TensorPool"/> step
    /// scope goes back to the pool).</summary>
    public void ZeroGrad() => Value.ZeroGrad();

    /// <summary>Replaces the values by a copy of <paramref name="values"/> (same shape, converted to this dtype).</summary>
    /// <exception cref="ArgumentException">The shape differs, naming both.</exception>
    public void Load(Tensor values)
    {
        if (!Shapes.Equal(values.Shape, Value.Shape))
            throw new ArgumentException($"Parameter '{Name}': cannot load shape {Shapes.Format(values.Shape)} into {Shapes.Format(Value.Shape)}.");
        Tensor converted = values.To(DType).Contiguous();
        if (DType == DType.Float32) converted.AsSpan<float>().CopyTo(Value.AsSpan<float>());
        else converted.AsSpan<double>().CopyTo(Value.AsSpan<double>());
    }

    /// <summary>Converts the values to <paramref name="dtype"/> (a new leaf; the gradient is dropped).</summary>
    public void ConvertTo(DType dtype)
    {
        if (dtype == DType) return;
        Tensor converted = Value.To(dtype);
        converted.RequiresGrad = true;
        converted.Name = Value.Name;
        Value = converted.Keep();
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Shapes.Format(Value.Shape)} {DType.Name()}{(Precision == 1 ? " (binary latent)" : "")}";
}
