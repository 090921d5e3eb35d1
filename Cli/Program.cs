using System.CommandLine;
using BinaryGrad.Cli.Commands;

namespace BinaryGrad.Cli;

/// <summary>The <c>binarygrad</c> command line: one verb per task, each with <c>--help</c>.</summary>
public static class Program
{
    /// <summary>Exit code for bad input (unknown names, malformed files, invalid options).</summary>
    public const int BadInput = 2;

    public static int Main(string[] args)
    {
        var root = new RootCommand("BinaryGrad: train and inspect binary neural networks in managed C#, with exact gradients.");
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
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (System.CommandLine.Parsing.ParseError error in parsed.Errors) Console.Error.WriteLine($"binarygrad: {error.Message}");
            Console.Error.WriteLine("Run 'binarygrad --help' for usage.");
            return BadInput;
        }
        return parsed.Invoke();
    }
}
