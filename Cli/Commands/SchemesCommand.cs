using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using BinaryGrad.Binarization;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad schemes [--json]</c>: every registered binarization scheme with its one-line description,
/// provenance (as methods.md tags it) and hyper-parameters with defaults and ranges. <c>--markdown</c> prints the
/// table that docs/schemes.md embeds.</summary>
/// <remarks>Schemes too poorly sourced to implement are listed by the text and Markdown views as "not registered"
/// (with the reason), so nobody mistakes their absence for an oversight; the JSON view lists registered schemes only.</remarks>
public static class SchemesCommand
{
    /// <summary>Known methods deliberately not registered, with why (methods.md §6, Part II §5).</summary>
    public static IReadOnlyList<(string Title, string Section, string Why)> NotRegistered { get; } =
    [
        ("Training binary neural networks without floating point precision", "§6, Part II §5",
         "only the abstract could be retrieved (two topology + training-strategy solutions that cut training time and memory); " +
         "no formulas, code or numbers — nothing is registered under this name. See docs/schemes.md."),
    ];

    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "One JSON object per scheme: name, description, provenance, section, hyperParameters (∞ written as null)." };
        var markdown = new Option<bool>("--markdown") { Description = "A Markdown table of the schemes (as in docs/schemes.md)." };
        var command = new Command("schemes", "List the binarization schemes, their provenance and hyper-parameters.") { json, markdown };
        command.SetAction(r => r.GetValue(markdown) ? RunMarkdown(Console.Out) : Run(r.GetValue(json), Console.Out));
        return command;
    }

    /// <summary>The Markdown table: name, provenance, methods.md section, description, hyper-parameters.</summary>
    public static int RunMarkdown(TextWriter output)
    {
        output.WriteLine("| scheme | provenance | methods.md | description | hyper-parameters (default, range) |");
        output.WriteLine("|---|---|---|---|---|");
        foreach (SchemeInfo s in SchemeRegistry.All)
        {
            string hps = s.HyperParameters.Count == 0 ? "—" : string.Join("; ", s.HyperParameters.Select(h =>
                $"`{h.Name}`={h.Default.ToString(CultureInfo.InvariantCulture)} {h.Range}"));
            output.WriteLine($"| `{s.Name}` | {s.ProvenanceTag} | {s.Section} | {Cell(s.Description)} | {Cell(hps)} |");
        }
        foreach ((string title, string section, string why) in NotRegistered)
            output.WriteLine($"| *not registered:* {title} | — | {section} | {Cell(why)} | — |");
        return 0;
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    public static int Run(bool json, TextWriter output)
    {
        foreach (SchemeInfo s in SchemeRegistry.All)
        {
            if (json)
            {
                output.WriteLine(JsonSerializer.Serialize(new
                {
                    name = s.Name, description = s.Description, provenance = s.ProvenanceTag, section = s.Section,
                    hyperParameters = s.HyperParameters.Select(h => new { name = h.Name, @default = Finite(h.Default), min = Finite(h.Min), max = Finite(h.Max), description = h.Description }),
                }));
                continue;
            }
            output.WriteLine($"{s.Name,-26} {s.ProvenanceTag,-22} {s.Section,-14} {s.Description}");
            foreach (HyperParameter h in s.HyperParameters)
                output.WriteLine($"{"",28}--scheme-arg {h.Name}={h.Default.ToString(CultureInfo.InvariantCulture)}  {h.Range}: {h.Description}");
        }
        if (!json)
            foreach ((string title, string section, string why) in NotRegistered)
                output.WriteLine($"{"(not registered)",-26} {"",-22} {section,-14} \"{title}\": {why}");
        return 0;
    }

    /// <summary>JSON has no infinity: an unbounded range end, or an infinite default (an unclipped STE), is written as null.</summary>
    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
