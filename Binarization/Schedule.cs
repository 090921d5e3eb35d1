namespace BinaryGrad.Binarization;

/// <summary>Which progress fraction a schedule follows.</summary>
public enum ScheduleClock
{
    /// <summary>t/T over optimizer steps.</summary>
    Step,
    /// <summary>e/E over epochs.</summary>
    Epoch,
}

/// <summary>A scalar hyper-parameter as a function of training progress (temperature, sharpness, percentile).</summary>
public abstract class Schedule
{
    /// <summary>The value at <paramref name="progress"/>.</summary>
    public abstract double ValueAt(TrainingProgress progress);

    /// <summary>The progress fraction in [0, 1] on <paramref name="clock"/>.</summary>
    protected static double Fraction(TrainingProgress progress, ScheduleClock clock) =>
        clock == ScheduleClock.Step ? progress.StepFraction : progress.EpochFraction;

    /// <summary>A constant.</summary>
    public static Schedule Constant(double value) => new ConstantSchedule(value);

    /// <summary>start + (end − start)·f.</summary>
    public static Schedule Linear(double start, double end, ScheduleClock clock = ScheduleClock.Step) => new LinearSchedule(start, end, clock);

    /// <summary>start·(end/start)^f, i.e. log-linear: 10^(log10 start + (log10 end − log10 start)·f) (RBNN's t).</summary>
    public static Schedule Geometric(double start, double end, ScheduleClock clock = ScheduleClock.Step) => new GeometricSchedule(start, end, clock);

    /// <summary>PARQ-style inverse slope (docs/schemes/proximal.md): ρ = 1/s, s = max(ε, ½(1 + cos(π f))); ρ goes 1 → 1/ε.</summary>
    public static Schedule InverseCosineSlope(double epsilon = 1e-6, ScheduleClock clock = ScheduleClock.Step) => new InverseCosineSchedule(epsilon, clock);

    private sealed class ConstantSchedule(double value) : Schedule
    {
        public override double ValueAt(TrainingProgress progress) => value;
        public override string ToString() => $"constant {value}";
    }

    private sealed class LinearSchedule(double start, double end, ScheduleClock clock) : Schedule
    {
        public override double ValueAt(TrainingProgress progress) => start + (end - start) * Fraction(progress, clock);
        public override string ToString() => $"linear {start} → {end} per {clock}";
    }

    private sealed class GeometricSchedule(double start, double end, ScheduleClock clock) : Schedule
    {
        public override double ValueAt(TrainingProgress progress) =>
            Math.Pow(10, Math.Log10(start) + (Math.Log10(end) - Math.Log10(start)) * Fraction(progress, clock));
        public override string ToString() => $"geometric {start} → {end} per {clock}";
    }

    private sealed class InverseCosineSchedule(double epsilon, ScheduleClock clock) : Schedule
    {
        public override double ValueAt(TrainingProgress progress) =>
            1 / Math.Max(epsilon, 0.5 * (1 + Math.Cos(Math.PI * Fraction(progress, clock))));
        public override string ToString() => $"inverse cosine slope (ε = {epsilon}) per {clock}";
    }
}
