using System.Diagnostics;

namespace BinaryGrad.Cli.Progress;

/// <summary>Progress through the stages of a long benchmark (warm-up, timed runs, each peer configuration) as a live
/// line on stderr when stderr is a terminal, and nothing otherwise: the table or the JSON lines on stdout stay exactly
/// what scripts read. ETA = elapsed / stages done · stages left, a rough figure since stages differ in length.</summary>
internal sealed class StageProgress : IDisposable
{
    private readonly LiveLine? _live;
    private readonly string _label;
    private readonly int _total;
    private readonly Func<double> _seconds;
    private int _done;

    internal StageProgress(LiveLine? live, string label, int totalStages, Func<double> seconds)
    {
        _live = live;
        _label = label;
        _total = Math.Max(totalStages, 1);
        _seconds = seconds;
    }

    /// <summary>Stages on the console's stderr, timed from now.</summary>
    public static StageProgress OnConsole(string label, int totalStages)
    {
        var clock = Stopwatch.StartNew();
        return new StageProgress(LiveLine.ForConsole(Console.Error), label, totalStages, () => clock.Elapsed.TotalSeconds);
    }

    /// <summary>Stages completed so far.</summary>
    public int Done => _done;

    /// <summary>Shows the stage now running: <c>{label} bar pct done/total · {stage} · m:ss elapsed · ETA m:ss</c>.</summary>
    public void Show(string stage)
    {
        if (_live is null) return;
        double elapsed = _seconds();
        double eta = _done == 0 ? double.NaN : elapsed / _done * (_total - _done);
        _live.Draw(_label, (double)_done / _total, $"{_done}/{_total} · {stage} · {LiveLine.Clock(elapsed)} elapsed · ETA {LiveLine.Clock(eta)}");
    }

    /// <summary>Marks one stage done.</summary>
    public void Complete() => _done = Math.Min(_done + 1, _total);

    /// <summary>Erases the line before the caller writes a result row to the same terminal; the next
    /// <see cref="Show"/> draws it again.</summary>
    public void Clear() => _live?.Clear();

    /// <inheritdoc/>
    public void Dispose() => Clear();
}
