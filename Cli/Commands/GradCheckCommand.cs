using System.CommandLine;
using System.Text.Json;
using BinaryGrad.Autograd;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad gradcheck [--op NAME] [--json]</c>: central finite differences in float64 against every
/// registered backward. Exit code 1 if any check fails.</summary>
public static class GradCheckCommand
{
    public static Command Create()
    {
        var op = new Option<string?>("--op") { Description = "Check only this op (all its cases, e.g. 'matmul'), or one case ('add/broadcast')." };
        var json = new Option<bool>("--json") { Description = "One JSON object per line: op, maxAbsErr, maxRelErr, passed." };
        var command = new Command("gradcheck", "Check every op's backward against float64 finite differences.") { op, json };
        command.SetAction(result => Run(result.GetValue(op), result.GetValue(json), Console.Out, Console.Error));
        return command;
    }

    public static int Run(string? opName, bool json, TextWriter output, TextWriter error)
    {
        IReadOnlyList<GradCheckCase> cases = GradCheckCatalog.All;
        if (opName is not null)
        {
            cases = [.. cases.Where(c => c.Name == opName || c.Op == opName)];
            if (cases.Count == 0)
            {
                error.WriteLine($"binarygrad gradcheck: unknown op '{opName}'. Registered: {string.Join(", ", GradCheckCatalog.All.Select(c => c.Op).Distinct())}.");
                return Program.BadInput;
            }
        }
        if (!json) output.WriteLine($"{"op",-34} {"max abs error",14} {"max rel error",14}  result");
        int failures = 0;
        foreach (GradCheckCase c in cases)
        {
            GradCheckResult r;
            try { r = c.Run(); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or GradCheckException)
            {
                failures++;
                if (json) output.WriteLine(JsonSerializer.Serialize(new { op = c.Name, maxAbsErr = (double?)null, maxRelErr = (double?)null, passed = false, error = e.Message }));
                else output.WriteLine($"{c.Name,-34} {"-",14} {"-",14}  ERROR: {e.Message}");
                continue;
            }
            if (!r.Passed) failures++;
            if (json)
                output.WriteLine(JsonSerializer.Serialize(new { op = c.Name, maxAbsErr = Finite(r.MaxAbsError), maxRelErr = Finite(r.MaxRelError), passed = r.Passed }));
            else
                output.WriteLine($"{c.Name,-34} {r.MaxAbsError,14:E3} {r.MaxRelError,14:E3}  {(r.Passed ? "pass" : "FAIL")}");
        }
        if (!json) output.WriteLine($"{cases.Count - failures} passed, {failures} failed (float64 central differences, relative tolerance 1e-6).");
        return failures == 0 ? 0 : 1;
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
