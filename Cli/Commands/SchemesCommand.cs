using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using BinaryGrad.Binarization;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad schemes [--json]</c>: every registered binarization scheme with its one-line description,
/// provenance (as methods.md tags it) and hyper-parameters with defaults and ranges.</summary>
public static class SchemesCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "One JSON object per scheme: name, description, provenance, section, hyperParameters." };
        var command = new Command("schemes", "List the binarization schemes, their provenance and hyper-parameters.") { json };
        command.SetAction(r => Run(r.GetValue(json), Console.Out));
        return command;
    }

    public static int Run(bool json, TextWriter output)
    {
        foreach (SchemeInfo s in SchemeRegistry.All)
        {
            if (json)
            {
                output.WriteLine(JsonSerializer.Serialize(new
                {
                    name = s.Name, description = s.Description, provenance = s.ProvenanceTag, section = s.Section,
                    hyperParameters = s.HyperParameters.Select(h => new { name = h.Name, @default = h.Default, min = Finite(h.Min), max = Finite(h.Max), description = h.Description }),
                }));
                continue;
            }
            output.WriteLine($"{s.Name,-26} {s.ProvenanceTag,-22} {s.Section,-14} {s.Description}");
            foreach (HyperParameter h in s.HyperParameters)
                output.WriteLine($"{"",28}--scheme-arg {h.Name}={h.Default.ToString(CultureInfo.InvariantCulture)}  {h.Range}: {h.Description}");
        }
        return 0;
    }

    /// <summary>JSON has no infinity: an unbounded range end is written as null.</summary>
    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
