using BinaryGrad.Autograd;

namespace BinaryGrad.Layers;

/// <summary>The flip ratio of a binary layer: the share of latent weights whose sign (w ≥ 0 → +1, else −1) changed
/// since the last snapshot. Reads the parameter's current value each time, so a dtype conversion or a load that
/// replaces the tensor is followed.</summary>
internal sealed class SignFlipCounter
{
    private readonly Parameter _weights;
    private bool[] _nonNegative;

    public SignFlipCounter(Parameter weights)
    {
        _weights = weights;
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
        double[] w = _weights.Value.ToDoubleArray();
        var s = new bool[w.Length];
        for (int i = 0; i < w.Length; i++) s[i] = w[i] >= 0;
        return s;
    }
}
