using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using BinaryGrad.Binarization;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad schemes [--json]</c>: every registered binarization scheme with its one-line description,
/// provenance, family, paper and hyper-parameters with defaults and ranges. <c>--markdown</c> prints the table that
/// docs/schemes.md embeds; <c>--markdown --family NAME</c> the table that docs/schemes/NAME.md embeds.</summary>
/// <remarks>Schemes too poorly sourced to implement are listed by the text and Markdown views as "not registered"
/// (with the reason), so nobody mistakes their absence for an oversight; the JSON view lists registered schemes only.</remarks>
public static class SchemesCommand
{
    /// <summary>Known methods deliberately not registered, with the paper as far as it is known and why.</summary>
    public static IReadOnlyList<(string Title, string Paper, string Why)> NotRegistered { get; } =
    [
        ("Training binary neural networks without floating point precision", "arXiv preprint, author and id unconfirmed",
         "only the abstract could be retrieved (two topology + training-strategy solutions that cut training time and memory); " +
         "no formulas, code or numbers — nothing is registered under this name. See docs/schemes.md."),
    ];

    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "One JSON object per scheme: name, description, provenance, family, paper, section (a legacy reference number), hyperParameters (∞ written as null)." };
        var markdown = new Option<bool>("--markdown") { Description = "A Markdown table of the schemes (as in docs/schemes.md)." };
        var family = new Option<string?>("--family") { Description = "With --markdown: the table of one family's page, docs/schemes/<family>.md." };
        var command = new Command("schemes", "List the binarization schemes, their provenance, family, paper and hyper-parameters.") { json, markdown, family };
        command.SetAction(r =>
        {
            if (!r.GetValue(markdown)) return Run(r.GetValue(json), Console.Out);
            string? f = r.GetValue(family);
            if (f is null) return RunMarkdown(Console.Out);
            if (!SchemeFamilies.All.Contains(f))
            {
                Console.Error.WriteLine($"Unknown family '{f}'. Valid: {string.Join(", ", SchemeFamilies.All)}.");
                return 2;
            }
            return RunFamilyMarkdown(f, Console.Out);
        });
        return command;
    }

    /// <summary>The Markdown table: name, provenance, family (linking its page), description, hyper-parameters.</summary>
    public static int RunMarkdown(TextWriter output)
    {
        output.WriteLine("| scheme | provenance | family | description | hyper-parameters (default, range) |");
        output.WriteLine("|---|---|---|---|---|");
        foreach (SchemeInfo s in SchemeRegistry.All)
        {
            output.WriteLine($"| `{s.Name}` | {s.ProvenanceTag} | [{s.Family}](schemes/{s.Family}.md) | {Cell(s.Description)} | {Cell(HyperParameterList(s))} |");
        }
        foreach ((string title, _, string why) in NotRegistered)
            output.WriteLine($"| *not registered:* {title} | — | — | {Cell(why)} | — |");
        return 0;
    }

    /// <summary>The table a family page embeds: each member's provenance, paper and hyper-parameters, in registration order.</summary>
    public static int RunFamilyMarkdown(string family, TextWriter output)
    {
        output.WriteLine("| scheme | provenance | paper | hyper-parameters (default, range) |");
        output.WriteLine("|---|---|---|---|");
        foreach (SchemeInfo s in SchemeRegistry.All.Where(s => s.Family == family))
            output.WriteLine($"| `{s.Name}` | {s.ProvenanceTag} | {Cell(s.Paper.Length == 0 ? "—" : s.Paper)} | {Cell(HyperParameterList(s))} |");
        return 0;
    }

    private static string HyperParameterList(SchemeInfo s) =>
        s.HyperParameters.Count == 0 ? "—" : string.Join("; ", s.HyperParameters.Select(h =>
            $"`{h.Name}`={h.Default.ToString(CultureInfo.InvariantCulture)} {h.Range}"));

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    public static int Run(bool json, TextWriter output)
    {
        foreach (SchemeInfo s in SchemeRegistry.All)
        {
            if (json)
            {
                output.WriteLine(JsonSerializer.Serialize(new
                {
                    name = s.Name, description = s.Description, provenance = s.ProvenanceTag, family = s.Family, paper = s.Paper,
                    section = s.Section, // legacy reference number, kept for existing scripts
                    hyperParameters = s.HyperParameters.Select(h => new { name = h.Name, @default = Finite(h.Default), min = Finite(h.Min), max = Finite(h.Max), description = h.Description }),
                }));
                continue;
            }
            output.WriteLine($"{s.Name,-26} {s.ProvenanceTag,-22} {s.Family,-16} {s.Description}");
            foreach (HyperParameter h in s.HyperParameters)
                output.WriteLine($"{"",28}--scheme-arg {h.Name}={h.Default.ToString(CultureInfo.InvariantCulture)}  {h.Range}: {h.Description}");
        }
        if (!json)
            foreach ((string title, string paper, string why) in NotRegistered)
                output.WriteLine($"{"(not registered)",-26} {"",-22} {"",-16} \"{title}\" ({paper}): {why}");
        return 0;
    }

    /// <summary>JSON has no infinity: an unbounded range end, or an infinite default (an unclipped STE), is written as null.</summary>
    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
