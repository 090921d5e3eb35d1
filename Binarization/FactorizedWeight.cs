using System.Numerics;
using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>A weight quantizer that owns its own parametrization of the layer's weights (factors, group logits)
/// instead of reading the layer's latent weight θ.</summary>
/// <remarks>
/// <para>Life cycle: the layer calls <see cref="Initialize"/> with its freshly initialised latent weight (Glorot or
/// Kaiming) <b>before</b> registering the quantizer's <see cref="Quantizer.Parameters"/>, so the parameters have
/// their final shapes when the optimizer is built; the quantizer derives them from θ (SVD / HOSVD, group logits). From
/// then on the forward ignores the values of the tensor passed to <see cref="Quantizer.Apply"/> and its gradient
/// with respect to that tensor is zero: the latent weight is effectively excluded from optimization (a first-order
/// optimizer with a zero gradient leaves it where it is).</para>
/// <para><see cref="Mirror"/>: when set (the layer passes its latent weight), every training forward copies the
/// current real-valued weights (the reconstruction, the soft group weights) into it, so checkpoints, flip ratios and
/// latent-weight statistics describe the weights the network actually uses.</para>
/// </remarks>
public interface IFactorizedWeight
{
    /// <summary>True once <see cref="Initialize"/> has created the parameters.</summary>
    bool IsInitialized { get; }

    /// <summary>Creates the owned parameters from the layer's initial latent weight (shape [O, …]); idempotent calls
    /// with another shape throw.</summary>
    void Initialize(Tensor latent);

    /// <summary>Receives the current real-valued weights on each training forward (null = none).</summary>
    Tensor? Mirror { get; set; }
}

/// <summary>Helpers for <see cref="IFactorizedWeight"/> implementations.</summary>
internal static class FactorizedWeights
{
    /// <summary>Copies <paramref name="values"/> into <paramref name="mirror"/> when its length matches (each value
    /// rounded once to the mirror's dtype: float32 into float32 as is, widened exactly into float64).</summary>
    public static void WriteMirror<T>(Tensor? mirror, T[] values) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (mirror is null || mirror.Length != values.Length || !mirror.IsContiguous) return;
        DTypeDispatch.Run(mirror.DType, new MirrorWrite<T>(mirror, values));
    }

    private readonly struct MirrorWrite<T>(Tensor mirror, T[] values) : IDTypeAction where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public void Run<M>() where M : unmanaged, IBinaryFloatingPointIeee754<M>
        {
            Span<M> target = mirror.AsSpan<M>();
            for (int i = 0; i < values.Length; i++) target[i] = Num.R<M>(Num.D(values[i]));
        }
    }

    /// <summary>The <see cref="Quantizer.Bind"/> of every <see cref="IFactorizedWeight"/>: derive the parametrization
    /// from the layer's latent weight and mirror the real-valued weights into it.</summary>
    public static void Bind(IFactorizedWeight quantizer, Tensor latentWeight)
    {
        ArgumentNullException.ThrowIfNull(latentWeight);
        quantizer.Initialize(latentWeight);
        quantizer.Mirror = latentWeight;
    }

    /// <summary>Throws a readable error unless <paramref name="shape"/> is the shape the quantizer was initialised for.</summary>
    public static void CheckShape(string name, int[]? expected, ReadOnlySpan<int> shape)
    {
        if (expected is null)
            throw new InvalidOperationException($"{name}: not initialised; call Initialize(latentWeight) before the first forward.");
        if (!shape.SequenceEqual(expected))
            throw new ArgumentException($"{name}: initialised for weight shape {Shapes.Format(expected)} but applied to {Shapes.Format(shape)}.");
    }
}
