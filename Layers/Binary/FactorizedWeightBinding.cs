using BinaryGrad.Autograd;
using BinaryGrad.Binarization;

namespace BinaryGrad.Layers;

/// <summary>Connects a weight quantizer that owns its parametrization (<see cref="IFactorizedWeight"/>: decomposed
/// factors, group logits) to a binary layer's latent weight.</summary>
/// <remarks>The layer calls <see cref="Bind"/> in its constructor, before it registers the quantizer's parameters: the
/// quantizer derives its parameters (of their final shapes) from the freshly initialised latent weight, so the
/// optimizer built afterwards sees them. The latent weight becomes a mirror of the real-valued weights the quantizer
/// produces (written on each training forward) and receives a zero gradient, so it does not move under the optimizer
/// except through that mirror.</remarks>
public static class FactorizedWeightBinding
{
    /// <summary>Initialises <paramref name="quantizer"/> from <paramref name="latent"/> when it owns its parametrization;
    /// does nothing otherwise.</summary>
    public static void Bind(Quantizer? quantizer, Parameter latent)
    {
        ArgumentNullException.ThrowIfNull(latent);
        if (quantizer is not IFactorizedWeight factorized) return;
        factorized.Initialize(latent.Value);
        factorized.Mirror = latent.Value;
    }
}
