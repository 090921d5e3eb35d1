using System.CommandLine;
using System.CommandLine.Parsing;
using BinaryGrad.Autograd.Serialization;
using BinaryGrad.Cli.Commands;
using BinaryGrad.Cli.Training;

namespace BinaryGrad.Cli;

/// <summary>The <c>binarygrad</c> command line: one verb per task, each with <c>--help</c>.</summary>
/// <remarks>
/// <para><b>Exit codes.</b> 0 success; 1 a check failed (gradcheck); <see cref="BadInput"/> = 2 bad input — an option,
/// a file (missing, unreadable, malformed, corrupted), an unwritable output, or a resource limit (out of memory, disk
/// full); <see cref="Diverged"/> = 3 the training loss diverged; <see cref="Defect"/> = 70 (<c>EX_SOFTWARE</c> of
/// sysexits.h) an unexpected exception, i.e. a bug in BinaryGrad. Every failure prints one line on stderr,
/// <c>binarygrad VERB: what</c>; <c>--verbose</c> adds the stack trace of a defect.</para>
/// <para><b>The error boundary.</b> Each verb maps the errors it expects itself; whatever escapes a verb is caught
/// here, once, by <see cref="Run"/>: the typed input/I-O/format errors become exit 2, anything else exit 70.</para>
/// </remarks>
public static class Program
{
    /// <summary>Exit code for bad input (unknown names, malformed files, invalid options, unwritable outputs).</summary>
    public const int BadInput = 2;
    /// <summary>Exit code when the training run diverged.</summary>
    public const int Diverged = 3;
    /// <summary>Exit code for a defect: an exception no verb expected.</summary>
    public const int Defect = 70;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Parses and runs <paramref name="args"/>; never throws.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var verbose = new Option<bool>("--verbose") { Description = "On an unexpected error, print its stack trace too.", Recursive = true };
        var root = new RootCommand("BinaryGrad: train and inspect binary neural networks in managed C#, with exact gradients.") { verbose };
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(GradCheckCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(SchemesCommand.Create());
        root.Subcommands.Add(EstimatorsCommand.Create());
        root.Subcommands.Add(GraphCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(InferCommand.Create());
        root.Subcommands.Add(SummaryCommand.Create());
        root.Subcommands.Add(ExplainCommand.Create());
        ParseResult parsed = root.Parse(args);
        string verb = parsed.CommandResult.Command == root ? "binarygrad" : $"binarygrad {parsed.CommandResult.Command.Name}";
        if (parsed.Errors.Count > 0)
        {
            error.WriteLine($"{verb}: {string.Join("; ", parsed.Errors.Select(e => e.Message.TrimEnd('.')))} (run '{verb} --help' for usage).");
            return BadInput;
        }
        if (CommonOptionProblem(parsed) is { } problem)
        {
            error.WriteLine($"{verb}: {problem}");
            return BadInput;
        }
        TextWriter savedOut = Console.Out, savedError = Console.Error;
        try
        {
            if (output != savedOut) Console.SetOut(output);
            if (error != savedError) Console.SetError(error);
            return Boundary(verb, parsed.GetValue(verbose), error,
                () => parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output, Error = error }));
        }
        finally
        {
            Console.SetOut(savedOut);
            Console.SetError(savedError);
        }
    }

    /// <summary>Runs <paramref name="verbAction"/> and maps what escapes it: bad input → 2, divergence → 3, anything
    /// else → <see cref="Defect"/>, each as one line on <paramref name="error"/> (plus the stack trace of a defect
    /// when <paramref name="verbose"/>).</summary>
    internal static int Boundary(string verb, bool verbose, TextWriter error, Func<int> verbAction)
    {
        try
        {
            return verbAction();
        }
        catch (Exception e) when (IsBadInput(e))
        {
            error.WriteLine($"{verb}: {OneLine(e)}");
            return BadInput;
        }
        catch (DivergedException e)
        {
            error.WriteLine($"{verb}: {OneLine(e)}");
            return Diverged;
        }
        catch (Exception e)
        {
            error.WriteLine($"{verb}: internal error (a bug in BinaryGrad, exit {Defect}): {e.GetType().Name}: {OneLine(e)}" +
                (verbose ? "" : " (run with --verbose for the stack trace)"));
            if (verbose) error.WriteLine(e.ToString());
            return Defect;
        }
    }

    /// <summary>Errors caused by the input or the machine rather than by BinaryGrad: exit 2.</summary>
    internal static bool IsBadInput(Exception e) => e is UsageException or Datasets.DatasetException or SafeTensorsException
        or FormatException or IOException or UnauthorizedAccessException or OutOfMemoryException or InsufficientExecutionStackException;

    private static string OneLine(Exception e) => e is OutOfMemoryException
        ? "out of memory; use a smaller --batch-size, --width or model."
        : e.Message.ReplaceLineEndings(" ");

    /// <summary>Range checks shared by every verb that has the option: <c>--threads</c>, <c>--batch-size</c> and
    /// <c>--epochs</c> are at least 1 (0 threads would silently mean 1, a batch of 0 never ends).</summary>
    private static string? CommonOptionProblem(ParseResult parsed)
    {
        foreach (string name in (string[])["--threads", "--batch-size", "--epochs"])
        {
            OptionResult? result = parsed.CommandResult.Children.OfType<OptionResult>().FirstOrDefault(o => o.Option.Name == name);
            if (result is null || result.Implicit) continue;
            if (result.Option is not Option<int>) continue;
            int value;
            try { value = result.GetValueOrDefault<int>(); }
            catch (InvalidOperationException e) { return e.Message; } // a token that is not an int32: the parser's own message
            if (value < 1) return $"{name} must be at least 1, got {value}.";
        }
        return null;
    }
}
