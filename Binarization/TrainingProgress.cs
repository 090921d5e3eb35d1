namespace BinaryGrad.Binarization;

/// <summary>Where a scheme may be used: on activations, on (latent) weights, or on both.</summary>
[Flags]
public enum QuantizerKind
{
    /// <summary>Quantizes layer inputs (activations).</summary>
    Activation = 1,
    /// <summary>Quantizes latent weights θ into the weights the layer uses.</summary>
    Weight = 2,
    /// <summary>Usable on either.</summary>
    Both = Activation | Weight,
}

/// <summary>Where training is, for schemes whose state follows a schedule (temperature, sharpness, annealing).</summary>
/// <param name="Epoch">Completed epochs (0-based current epoch).</param>
/// <param name="Step">Optimizer steps taken so far.</param>
/// <param name="TotalEpochs">Planned epochs (0 = unknown).</param>
/// <param name="TotalSteps">Planned optimizer steps (0 = unknown).</param>
public readonly record struct TrainingProgress(int Epoch, long Step, int TotalEpochs, long TotalSteps)
{
    /// <summary>e/E clamped to [0, 1] (0 when the total is unknown).</summary>
    public double EpochFraction => TotalEpochs > 0 ? Math.Clamp((double)Epoch / TotalEpochs, 0, 1) : 0;

    /// <summary>t/T clamped to [0, 1] (0 when the total is unknown).</summary>
    public double StepFraction => TotalSteps > 0 ? Math.Clamp((double)Step / TotalSteps, 0, 1) : 0;
}
