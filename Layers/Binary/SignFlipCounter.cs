using BinaryGrad.Autograd;
using BinaryGrad.Binarization;

namespace BinaryGrad.Layers;

/// <summary>The flip ratio of a binary layer: the share of binary weights whose sign (w ≥ 0 → +1, else −1) changed
/// since the last snapshot — the latent weights' signs, or, for a weight quantizer whose binary value is not the
/// latent sign (<see cref="Quantizer.BinaryIsLatentSign"/> false: SiMaN), the signs of its evaluation output. Reads
/// the parameter's current value each time, so a dtype conversion or a load that replaces the tensor is followed.</summary>
internal sealed class SignFlipCounter
{
    private readonly Parameter _weights;
    private readonly Quantizer? _rankQuantizer;
    private bool[] _nonNegative;

    public SignFlipCounter(Parameter weights, Quantizer? weightQuantizer = null)
    {
        _weights = weights;
        _rankQuantizer = weightQuantizer is { BinaryIsLatentSign: false } ? weightQuantizer : null;
        _nonNegative = Signs();
    }

    /// <summary>Changed signs / all signs since the previous call (or since construction or <see cref="Reset"/>),
    /// then takes the current signs as the new snapshot.</summary>
    public double RatioSinceLastCall()
    {
        bool[] now = Signs();
        int flips = 0;
        for (int i = 0; i < now.Length; i++) if (now[i] != _nonNegative[i]) flips++;
        _nonNegative = now;
        return now.Length == 0 ? 0 : (double)flips / now.Length;
    }

    /// <summary>Takes the current signs as the snapshot without counting. Called after a state load: a resumed run
    /// then reports the same flips as an uninterrupted one, and a run started from another's weights does not count
    /// their differences from this layer's random initialisation as flips.</summary>
    public void Reset() => _nonNegative = Signs();

    private bool[] Signs()
    {
        double[] w = _rankQuantizer is null ? _weights.Value.ToDoubleArray() : BinaryWeights(_rankQuantizer);
        var s = new bool[w.Length];
        for (int i = 0; i < w.Length; i++) s[i] = w[i] >= 0;
        return s;
    }

    /// <summary>The quantizer's evaluation output on the current latent weights (its training flag restored).</summary>
    private double[] BinaryWeights(Quantizer quantizer)
    {
        bool training = quantizer.Training;
        quantizer.Training = false;
        try
        {
            using (GradMode.NoGrad()) return quantizer.Apply(_weights.Value).ToDoubleArray();
        }
        finally { quantizer.Training = training; }
    }
}
