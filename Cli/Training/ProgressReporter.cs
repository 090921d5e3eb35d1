using System.Diagnostics;
using BinaryGrad.Cli.Progress;

namespace BinaryGrad.Cli.Training;

/// <summary>Progress of one training epoch: on a terminal a live bar (<see cref="LiveLine"/>) with loss, accuracy,
/// images/s and ETA, redrawn at most ten times a second; when the output is redirected (CI logs, scripts) a few plain
/// lines per epoch in the fixed format <c>{label}: {done}/{total} loss L acc A N img/s ETA Ss</c> — one at each quarter
/// of the epoch and at least one a minute, so a long epoch (a CIFAR-10 VGG-Small epoch takes tens of minutes) shows it
/// is alive. Scripts read those lines, so their format does not change.</summary>
public sealed class ProgressReporter : IDisposable
{
    private readonly TextWriter _out;
    private readonly string _label, _liveLabel;
    private readonly int _total;
    private readonly bool _enabled;
    private readonly LiveLine? _live;
    private readonly Func<double> _seconds;
    private double _lastDrawSeconds = double.NegativeInfinity;
    private int _nextPlainQuarter = 1;
    private double _lastPlainSeconds;
    private const double PlainLineEverySeconds = 60, RedrawEverySeconds = 0.1;

    /// <summary>Reports to <paramref name="output"/>; a live bar when it is the console and a terminal.</summary>
    /// <param name="output">Where lines go.</param>
    /// <param name="label">Prefix of every line, e.g. <c>epoch 3/160</c>.</param>
    /// <param name="total">Batches in the epoch.</param>
    /// <param name="enabled">False: report nothing.</param>
    /// <param name="context">Shown before the label on the live bar only (e.g. <c>compare</c>'s scheme and run
    /// number), so the plain lines keep their format.</param>
    public ProgressReporter(TextWriter output, string label, int total, bool enabled, string? context = null)
        : this(output, label, total, enabled, enabled ? LiveLine.ForConsole(output) : null, Stopwatch.StartNew(), context)
    {
    }

    private ProgressReporter(TextWriter output, string label, int total, bool enabled, LiveLine? live, Stopwatch clock, string? context)
        : this(output, label, total, enabled, live, () => clock.Elapsed.TotalSeconds, context)
    {
    }

    /// <summary>For tests: an explicit live line (or null for plain lines) and clock in seconds.</summary>
    internal ProgressReporter(TextWriter output, string label, int total, bool enabled, LiveLine? live, Func<double> seconds, string? context = null)
    {
        _out = output;
        _label = label;
        _liveLabel = string.IsNullOrEmpty(context) ? label : $"{context} · {label}";
        _total = Math.Max(total, 1);
        _enabled = enabled;
        _live = enabled ? live : null;
        _seconds = seconds;
    }

    /// <summary>After batch <paramref name="done"/> of the epoch: running loss and accuracy of the epoch so far, and its
    /// throughput. ETA = elapsed / done · (total − done).</summary>
    public void Update(int done, double loss, double accuracy, double imagesPerSecond)
    {
        if (!_enabled) return;
        double seconds = _seconds();
        double eta = done == 0 ? 0 : seconds / done * (_total - done);
        if (_live is not null)
        {
            if (seconds - _lastDrawSeconds < RedrawEverySeconds && done < _total) return;
            _lastDrawSeconds = seconds;
            _live.Draw(_liveLabel, (double)done / _total,
                $"{done}/{_total} · loss {loss:F4} · acc {accuracy:P1} · {imagesPerSecond:F0} img/s · ETA {LiveLine.Clock(eta)}");
        }
        else if (done * 4 >= _nextPlainQuarter * _total || seconds - _lastPlainSeconds >= PlainLineEverySeconds)
        {
            while (done * 4 >= _nextPlainQuarter * _total) _nextPlainQuarter++;
            _lastPlainSeconds = seconds;
            _out.WriteLine($"{_label}: {done}/{_total} loss {loss:F4} acc {accuracy:P1} {imagesPerSecond:F0} img/s ETA {eta:F0}s");
        }
    }

    /// <summary>A phase after the batches (the test-set evaluation): shown on the live bar only.</summary>
    public void Status(string what)
    {
        if (_live is null) return;
        _live.Draw(_liveLabel, 1, what);
        _lastDrawSeconds = _seconds();
    }

    /// <summary>Replaces the bar (if any) with the epoch's summary line <c>{label}: {summary}</c>.</summary>
    public void Finish(string summary)
    {
        if (!_enabled) return;
        _live?.Clear();
        _out.WriteLine($"{_label}: {summary}");
    }

    /// <summary>Erases a bar left open by an epoch that stopped early (divergence, an error), so the one-line error
    /// that follows starts on a clean line.</summary>
    public void Dispose() => _live?.Clear();
}
