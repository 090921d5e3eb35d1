namespace BinaryGrad.Cli.Training;

/// <summary>When a training run counts as diverged (exit code 3; the last good checkpoint is kept).</summary>
/// <remarks>
/// <para>Let R = max(L₀, ln C): the loss of the first step of this invocation, but at least the cross-entropy of a
/// uniform guess over the C classes (so a resumed run, whose first loss is already small, does not get a hair
/// trigger). The run diverged when</para>
/// <list type="number">
/// <item>a step's loss is NaN or ±∞; or</item>
/// <item>the loss stays above k·R (k = <see cref="Factor"/> = 10) for <see cref="SustainedSteps"/> = 10 consecutive
/// steps — a single spike is not divergence; or</item>
/// <item>an epoch's mean training loss is above k·R (short epochs, e.g. the digits set's 12 batches, may end before
/// ten steps accumulate).</item>
/// </list>
/// <para>With C = 10, k·R ≥ 23: a model that predicts no better than chance has loss ln 10 ≈ 2.3, so 23 means
/// confidently wrong on average, which no converging run reaches after its first step.</para>
/// </remarks>
public sealed class DivergenceRule
{
    public const double Factor = 10;
    public const int SustainedSteps = 10;

    private double _reference = double.NaN;
    private int _above;

    /// <summary>The reference R, after the first step.</summary>
    public double Reference => _reference;

    /// <summary>Records one step's loss; returns why the run diverged, or null.</summary>
    public string? Step(double loss, int classes)
    {
        if (!double.IsFinite(loss)) return $"the loss became {loss}";
        if (double.IsNaN(_reference)) _reference = Math.Max(loss, Math.Log(Math.Max(classes, 2)));
        _above = loss > Factor * _reference ? _above + 1 : 0;
        return _above >= SustainedSteps
            ? $"the loss stayed above {Factor}× its starting value {_reference:G4} for {SustainedSteps} steps (now {loss:G4})"
            : null;
    }

    /// <summary>Checks an epoch's mean loss; returns why the run diverged, or null.</summary>
    public string? Epoch(double meanLoss) =>
        !double.IsFinite(meanLoss) ? $"the epoch's mean loss is {meanLoss}"
        : !double.IsNaN(_reference) && meanLoss > Factor * _reference ? $"the epoch's mean loss {meanLoss:G4} is above {Factor}× its starting value {_reference:G4}"
        : null;
}
