namespace BinaryGrad.Optimizers;

/// <summary>A learning rate as a function of the optimizer step (0-based: the rate used by step t).</summary>
public interface ILearningRateSchedule
{
    /// <summary>The learning rate for step <paramref name="step"/> (≥ 0).</summary>
    double At(int step);
}

/// <summary>Schedule helpers.</summary>
public static class LearningRateSchedules
{
    /// <summary>Sets <paramref name="optimizer"/>'s learning rate (every group) to <c>schedule.At(step)</c>; returns it.</summary>
    public static double ApplyTo(this ILearningRateSchedule schedule, Optimizer optimizer, int step)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(optimizer);
        return optimizer.LearningRate = schedule.At(step);
    }
}

/// <summary>Step decay: <c>lr(t) = base·γ^⌊t / stepSize⌋</c> (PyTorch's StepLR, counted in steps or epochs).</summary>
public sealed class StepSchedule(double baseRate, int stepSize, double gamma = 0.1) : ILearningRateSchedule
{
    /// <inheritdoc/>
    public double At(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepSize, 1);
        return baseRate * Math.Pow(gamma, step / stepSize);
    }
}

/// <summary>Linear warm-up then cosine decay: <c>lr(t) = base·(t + 1)/warmup</c> for t &lt; warmup (so step 0 is not
/// wasted at rate 0), then <c>min + (base − min)·(1 + cos(π·q))/2</c> with <c>q = (t − warmup)/(total − warmup)</c>,
/// clamped to 1 (rate <c>min</c> from step <c>total</c> on).</summary>
public sealed class CosineWithWarmup(double baseRate, int warmupSteps, int totalSteps, double minRate = 0) : ILearningRateSchedule
{
    /// <inheritdoc/>
    public double At(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (totalSteps <= warmupSteps) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "CosineWithWarmup: totalSteps must exceed warmupSteps.");
        if (step < warmupSteps) return baseRate * (step + 1) / warmupSteps;
        double progress = Math.Min(1.0, (double)(step - warmupSteps) / (totalSteps - warmupSteps));
        return minRate + (baseRate - minRate) * (1 + Math.Cos(Math.PI * progress)) / 2;
    }
}

/// <summary>Linear interpolation from <c>start</c> at step 0 to <c>end</c> at step <c>totalSteps</c>, then constant:
/// <c>lr(t) = start + (end − start)·min(t/total, 1)</c>.</summary>
public sealed class LinearSchedule(double startRate, double endRate, int totalSteps) : ILearningRateSchedule
{
    /// <inheritdoc/>
    public double At(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        return startRate + (endRate - startRate) * Math.Min(1.0, (double)step / totalSteps);
    }
}
