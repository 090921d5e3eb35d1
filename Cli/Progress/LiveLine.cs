using System.Globalization;
using System.Text;

namespace BinaryGrad.Cli.Progress;

/// <summary>One status line redrawn in place on an interactive terminal: a label, a bar, the percentage and a tail of
/// figures (loss, accuracy, images/s, ETA). Only built for a console stream that is a terminal
/// (<see cref="ForConsole"/>); redirected output gets plain lines from the caller instead, because scripts read them.</summary>
/// <remarks>
/// <para>Each draw is <c>\r</c>, the text, then <c>ESC[K</c> (erase to the end of the line), so a shorter line leaves
/// no stale characters. The visible text is kept one column narrower than the terminal: a line that wraps can no longer
/// be redrawn with <c>\r</c> and would scroll the screen instead. The width is read at every draw, so resizing the
/// window works.</para>
/// <para>The bar has eighth-cell resolution (U+2588 … U+258F): a 24-cell bar moves every 0.5 %, which keeps a long
/// CIFAR-10 epoch visibly alive. Colour (green bar, dim rest) follows the <c>NO_COLOR</c> convention
/// (https://no-color.org); <c>TERM=dumb</c> gets no live line at all.</para>
/// </remarks>
internal sealed class LiveLine
{
    private const string EraseToEnd = "\u001b[K";
    private const string Green = "\u001b[32m", Dim = "\u001b[2m", Reset = "\u001b[0m";
    private const int MaxBarCells = 24, MinBarCells = 8;
    private static readonly char[] Eighths = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

    private readonly TextWriter _writer;
    private readonly Func<int> _columns;
    private readonly bool _color;

    internal LiveLine(TextWriter writer, Func<int> columns, bool color)
    {
        _writer = writer;
        _columns = columns;
        _color = color;
    }

    /// <summary>True between a draw and the next <see cref="Clear"/>: the cursor sits at the end of a status line.</summary>
    public bool IsOpen { get; private set; }

    /// <summary>A live line on <paramref name="writer"/> when it is the process's stdout or stderr and that stream is a
    /// terminal (not redirected, <c>TERM</c> not <c>dumb</c>); otherwise null.</summary>
    public static LiveLine? ForConsole(TextWriter writer)
    {
        bool terminal = ReferenceEquals(writer, Console.Out) ? !Console.IsOutputRedirected
            : ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected;
        if (!terminal || Environment.GetEnvironmentVariable("TERM") == "dumb") return null;
        return new LiveLine(writer, TerminalColumns, string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")));
    }

    private static int TerminalColumns()
    {
        try
        {
            int columns = Console.WindowWidth;
            return columns > 0 ? columns : 80;
        }
        catch (IOException)
        {
            return 80;
        }
    }

    /// <summary>Draws <c>label bar pct% figures</c> over the current line. <paramref name="fraction"/> is clamped to
    /// [0, 1]; the bar shrinks (down to 8 cells) and then the figures are cut at the end to fit the terminal.</summary>
    public void Draw(string label, double fraction, string figures)
    {
        fraction = double.IsNaN(fraction) ? 0 : Math.Clamp(fraction, 0, 1);
        int columns = Math.Max(_columns() - 1, 20);
        string percent = (fraction * 100).ToString("F0", CultureInfo.InvariantCulture).PadLeft(3) + "%";
        int fixedWidth = label.Length + 1 + 1 + percent.Length + 1; // label, space, bar, space, percent, space
        int cells = Math.Clamp(columns - fixedWidth - figures.Length, MinBarCells, MaxBarCells);
        string tail = figures;
        int room = columns - fixedWidth - cells;
        if (tail.Length > room) tail = room > 1 ? tail[..(room - 1)] + "…" : "";
        string head = label;
        if (head.Length + 1 + cells > columns) head = head[..Math.Max(0, columns - cells - 1)];
        (string filled, string empty) = Bar(fraction, cells);
        var text = new StringBuilder(columns + 32);
        text.Append('\r').Append(head).Append(' ');
        if (_color) text.Append(Green).Append(filled).Append(Reset).Append(Dim).Append(empty).Append(Reset);
        else text.Append(filled).Append(empty);
        text.Append(' ').Append(percent);
        if (tail.Length > 0) text.Append(' ').Append(tail);
        text.Append(EraseToEnd);
        _writer.Write(text.ToString());
        _writer.Flush();
        IsOpen = true;
    }

    /// <summary>Erases the status line and leaves the cursor at its start, so the next line printed replaces it.</summary>
    public void Clear()
    {
        if (!IsOpen) return;
        _writer.Write("\r" + EraseToEnd);
        _writer.Flush();
        IsOpen = false;
    }

    /// <summary>The bar for <paramref name="fraction"/> in <paramref name="cells"/> cells: the filled part (full blocks
    /// then one partial block of ⌊8·remainder⌋ eighths) and the empty part (light shade), together exactly
    /// <paramref name="cells"/> characters.</summary>
    internal static (string Filled, string Empty) Bar(double fraction, int cells)
    {
        int eighths = (int)Math.Floor(Math.Clamp(fraction, 0, 1) * cells * 8);
        int full = eighths / 8, partial = eighths % 8;
        string filled = new string('█', full) + (partial > 0 ? Eighths[partial].ToString() : "");
        return (filled, new string('░', cells - filled.Length));
    }

    /// <summary>Seconds as <c>m:ss</c>, or <c>h:mm:ss</c> from an hour on; <c>--:--</c> when unknown.</summary>
    internal static string Clock(double seconds)
    {
        if (double.IsNaN(seconds) || double.IsInfinity(seconds) || seconds < 0) return "--:--";
        long s = (long)Math.Round(seconds);
        return s >= 3600
            ? string.Create(CultureInfo.InvariantCulture, $"{s / 3600}:{s / 60 % 60:00}:{s % 60:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{s / 60}:{s % 60:00}");
    }
}
