namespace BinaryGrad.Layers.Inference;

/// <summary>Where an inference forward spends its time, in three parts: the <b>real</b> layers (float convolutions and
/// dense layers, and binary-weight layers over a real input such as the BNN MLP's first layer), the <b>binary</b>
/// layers (XNOR-popcount on sign inputs, with their fused batch-norm / sign / packing epilogues), and everything
/// <b>other</b> (stand-alone batch norms, pooling, activations, flattening, residual adds, shortcuts).</summary>
public sealed class InferenceTiming
{
    public long RealTicks { get; private set; }
    public long BinaryTicks { get; private set; }
    public long OtherTicks { get; private set; }

    /// <summary>The part <paramref name="layer"/> belongs to.</summary>
    public static string PartOf(InferenceLayer layer) => layer switch
    {
        BinaryConvLayer { InputSign: true } or BinaryDenseLayer { InputSign: true } => "binary",
        ConvLayer or DenseLayer or BinaryConvLayer or BinaryDenseLayer => "real",
        _ => "other",
    };

    /// <summary>Ticks per layer type (the type name without "Layer", binary convolutions also by in→out channels and
    /// stride; fused steps under their binary layer).</summary>
    public Dictionary<string, long> ByKind { get; } = [];

    /// <summary>Adds <paramref name="other"/>'s ticks divided by <paramref name="divisor"/> (the mean of threads that
    /// ran side by side).</summary>
    internal void Add(InferenceTiming other, int divisor)
    {
        RealTicks += other.RealTicks / divisor;
        BinaryTicks += other.BinaryTicks / divisor;
        OtherTicks += other.OtherTicks / divisor;
        foreach ((string kind, long ticks) in other.ByKind) ByKind[kind] = ByKind.GetValueOrDefault(kind) + ticks / divisor;
    }

    internal void Add(InferenceLayer layer, long ticks)
    {
        string kind = layer switch
        {
            BinaryConvLayer b => $"BinaryConv {b.InChannels}→{b.OutChannels}/{b.Stride}",
            _ => layer.GetType().Name.Replace("Layer", "", StringComparison.Ordinal),
        };
        ByKind[kind] = ByKind.GetValueOrDefault(kind) + ticks;
        switch (PartOf(layer))
        {
            case "binary": BinaryTicks += ticks; break;
            case "real": RealTicks += ticks; break;
            default: OtherTicks += ticks; break;
        }
    }
}
