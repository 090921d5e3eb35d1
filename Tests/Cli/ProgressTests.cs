using System.Globalization;
using System.Text.RegularExpressions;
using BinaryGrad.Cli.Progress;
using BinaryGrad.Cli.Training;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

/// <summary>The live progress bar (terminal) and the plain progress lines (redirected output) of train, compare and bench.</summary>
[TestFixture]
public class ProgressTests
{
    private static readonly Regex Escape = new("\u001b\\[[0-9;]*[A-Za-z]");

    /// <summary>What a terminal would show of one draw: the text after the last carriage return, escapes removed.</summary>
    private static string Visible(string written) => Escape.Replace(written[(written.LastIndexOf('\r') + 1)..], "");

    [TestCase(0.0, 10, 0, "")]
    [TestCase(0.5, 10, 5, "")]
    [TestCase(0.55, 10, 5, "▌")]     // 0.55·10 = 5.5 cells: 5 full, then 4/8 of a cell
    [TestCase(0.0125, 10, 0, "▏")]   // 0.125 cell = 1/8
    [TestCase(0.99, 4, 3, "▉")]      // 3.96 cells: 3 full, then ⌊0.96·8⌋ = 7/8
    [TestCase(1.0, 7, 7, "")]
    [TestCase(1.7, 7, 7, "")]        // clamped
    public void Bar_HasFullBlocksThenOnePartialEighth_AndIsExactlyCellsWide(double fraction, int cells, int full, string partial)
    {
        (string filled, string empty) = LiveLine.Bar(fraction, cells);
        Assert.That(filled, Is.EqualTo(new string('█', full) + partial));
        Assert.That(filled.Length + empty.Length, Is.EqualTo(cells));
        Assert.That(empty, Is.EqualTo(new string('░', empty.Length)));
    }

    [TestCase(0, "0:00")]
    [TestCase(59.4, "0:59")]
    [TestCase(61, "1:01")]
    [TestCase(3599, "59:59")]
    [TestCase(3600 + 2 * 60 + 3, "1:02:03")]
    [TestCase(double.NaN, "--:--")]
    [TestCase(-1, "--:--")]
    public void Clock_FormatsMinutesAndHours(double seconds, string expected) => Assert.That(LiveLine.Clock(seconds), Is.EqualTo(expected));

    [Test]
    public void LiveBar_RedrawsInPlace_FitsTheTerminal_AndShowsLossAccuracyThroughputAndEta()
    {
        var written = new StringWriter();
        var live = new LiveLine(written, () => 100, color: false);
        double now = 10;
        var progress = new ProgressReporter(written, "epoch 2/5", total: 4, enabled: true, live, () => now, context: "bnn (1/2)");
        progress.Update(1, 0.5, 0.25, 1234.4);
        string text = written.ToString();
        Assert.That(text, Does.StartWith("\r").And.EndWith("\u001b[K"), "each draw returns to the line start and erases the rest");
        Assert.That(text, Does.Not.Contain("\n"), "a live bar never scrolls");
        string shown = Visible(text);
        Assert.That(shown.Length, Is.LessThanOrEqualTo(99), "one column short of the terminal, so the line never wraps");
        // 10 s for 1 of 4 batches → 30 s left
        Assert.That(shown, Does.StartWith("bnn (1/2) · epoch 2/5 ").And.Contain(" 25%").And.Contain("1/4 · loss 0.5000 · acc ")
            .And.Contain("1234 img/s · ETA 0:30"));
        Assert.That(shown, Does.Contain(25.0.ToString("F1", CultureInfo.CurrentCulture)), "accuracy 25 %");
    }

    [Test]
    public void LiveBar_OnANarrowTerminal_ShrinksTheBarThenCutsTheFigures()
    {
        var written = new StringWriter();
        var live = new LiveLine(written, () => 50, color: true);
        live.Draw("epoch 1/160", 0.5, "98/391 · loss 0.7017 · acc 75.5 % · 528 img/s · ETA 1:11");
        string shown = Visible(written.ToString());
        Assert.That(shown.Length, Is.EqualTo(49));
        Assert.That(shown, Does.StartWith("epoch 1/160 " + new string('█', 4) + new string('░', 4) + "  50% 98/391").And.EndWith("…"));
        Assert.That(written.ToString(), Does.Contain("\u001b[32m"), "the filled part is green when colour is allowed");
    }

    [Test]
    public void LiveBar_IsThrottled_ButTheLastBatchIsAlwaysDrawn_AndFinishReplacesIt()
    {
        var written = new StringWriter();
        double now = 0;
        var progress = new ProgressReporter(written, "epoch 1/1", total: 3, enabled: true, new LiveLine(written, () => 120, false), () => now);
        progress.Update(1, 1, 0, 10);
        now = 0.05;
        progress.Update(2, 1, 0, 10); // within 0.1 s of the last draw: skipped
        progress.Update(3, 1, 0, 10); // the last batch: drawn regardless
        Assert.That(Regex.Matches(written.ToString(), "\r[^\u001b]").Count, Is.EqualTo(2));
        progress.Finish("loss 1.0000, test acc 10.00 %");
        Assert.That(written.ToString(), Does.EndWith("\r\u001b[Kepoch 1/1: loss 1.0000, test acc 10.00 %" + Environment.NewLine));
    }

    [Test]
    public void Redirected_WritesPlainLinesAtEachQuarter_InTheFormatScriptsRead()
    {
        var written = new StringWriter();
        double now = 0;
        var progress = new ProgressReporter(written, "epoch 1/3", total: 8, enabled: true, live: null, () => now, context: "not shown");
        for (int done = 1; done <= 8; done++)
        {
            now = done * 2.0;
            progress.Update(done, 0.25, 0.5, 100);
        }
        string[] lines = written.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(4), "batches 2, 4, 6, 8 of 8");
        string accuracy = 0.5.ToString("P1", CultureInfo.CurrentCulture);
        // at batch 2, 4 s elapsed → 4/2·6 = 12 s left
        Assert.That(lines[0], Is.EqualTo($"epoch 1/3: 2/8 loss 0.2500 acc {accuracy} 100 img/s ETA 12s"));
        Assert.That(lines[3], Is.EqualTo($"epoch 1/3: 8/8 loss 0.2500 acc {accuracy} 100 img/s ETA 0s"));
        Assert.That(written.ToString(), Does.Not.Contain("\r").And.Not.Contain("\u001b"));
    }

    [Test]
    public void Redirected_AlsoWritesALineAMinute_OnALongEpoch()
    {
        var written = new StringWriter();
        double now = 0;
        var progress = new ProgressReporter(written, "epoch 1/1", total: 1000, enabled: true, live: null, () => now);
        now = 61;
        progress.Update(1, 1, 0, 1);
        now = 62;
        progress.Update(2, 1, 0, 1);
        Assert.That(written.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(1));
    }

    [Test]
    public void Disabled_WritesNothing()
    {
        var written = new StringWriter();
        var progress = new ProgressReporter(written, "epoch 1/1", 2, enabled: false, new LiveLine(written, () => 80, false), () => 1);
        progress.Update(1, 1, 1, 1);
        progress.Status("testing");
        progress.Finish("done");
        progress.Dispose();
        Assert.That(written.ToString(), Is.Empty);
    }

    [Test]
    public void StageProgress_ShowsStageElapsedAndEta_AndClearsBeforeRows()
    {
        var written = new StringWriter();
        double now = 0;
        using var stages = new StageProgress(new LiveLine(written, () => 120, false), "bench train", totalStages: 4, () => now);
        stages.Show("resnet20 bnn batch 128: warm-up");
        Assert.That(Visible(written.ToString()), Does.Contain("  0% 0/4 · resnet20 bnn batch 128: warm-up · 0:00 elapsed · ETA --:--"));
        now = 20;
        stages.Complete();
        stages.Show("timed run 1/5");
        // one stage in 20 s → 3 left ≈ 60 s
        Assert.That(Visible(written.ToString()), Does.Contain(" 25% 1/4 · timed run 1/5 · 0:20 elapsed · ETA 1:00"));
        stages.Clear();
        Assert.That(written.ToString(), Does.EndWith("\r\u001b[K"));
    }

    [Test]
    public void ForConsole_IsNullForWritersThatAreNotTheConsole() =>
        Assert.That(LiveLine.ForConsole(new StringWriter()), Is.Null);
}
