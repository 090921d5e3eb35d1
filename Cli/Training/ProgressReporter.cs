using System.Diagnostics;

namespace BinaryGrad.Cli.Training;

/// <summary>A live progress bar on a terminal (batches, loss, accuracy, images/s, ETA), degrading to a few plain
/// lines per epoch when the output is redirected (CI logs), so logs stay readable: one at each quarter of the epoch,
/// and at least one a minute, so a long epoch (a CIFAR-10 VGG-Small epoch takes tens of minutes) shows it is alive.</summary>
public sealed class ProgressReporter : IDisposable
{
    private readonly TextWriter _out;
    private readonly string _label;
    private readonly int _total;
    private readonly bool _enabled, _interactive;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDrawMs = -1000;
    private int _nextPlainQuarter = 1;
    private long _lastPlainMs;
    private bool _barOpen;
    private const long PlainLineEveryMs = 60_000;

    public ProgressReporter(TextWriter output, string label, int total, bool enabled)
    {
        _out = output;
        _label = label;
        _total = Math.Max(total, 1);
        _enabled = enabled;
        _interactive = enabled && ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
    }

    public void Update(int done, double loss, double accuracy, double imagesPerSecond)
    {
        if (!_enabled) return;
        double seconds = _clock.Elapsed.TotalSeconds;
        double eta = done == 0 ? 0 : seconds / done * (_total - done);
        string figures = $"{done}/{_total} loss {loss:F4} acc {accuracy:P1} {imagesPerSecond:F0} img/s ETA {eta:F0}s";
        if (_interactive)
        {
            if (_clock.ElapsedMilliseconds - _lastDrawMs < 100 && done < _total) return;
            _lastDrawMs = _clock.ElapsedMilliseconds;
            const int width = 24;
            int filled = (int)((long)width * done / _total);
            _out.Write($"\r{_label} [{new string('#', filled)}{new string('.', width - filled)}] {figures}   ");
            _barOpen = true;
        }
        else if (done * 4 >= _nextPlainQuarter * _total || _clock.ElapsedMilliseconds - _lastPlainMs >= PlainLineEveryMs)
        {
            while (done * 4 >= _nextPlainQuarter * _total) _nextPlainQuarter++;
            _lastPlainMs = _clock.ElapsedMilliseconds;
            _out.WriteLine($"{_label}: {figures}");
        }
    }

    public void Finish(string summary)
    {
        if (!_enabled) return;
        if (_interactive) _out.Write("\r" + new string(' ', 100) + "\r");
        _out.WriteLine($"{_label}: {summary}");
        _barOpen = false;
    }

    /// <summary>Ends a bar left open by an epoch that stopped early (divergence, an error), so the one-line error that
    /// follows on stderr starts on its own line.</summary>
    public void Dispose()
    {
        if (_barOpen) _out.WriteLine();
        _barOpen = false;
    }
}
