using System.CommandLine;
using BinaryGrad.Cli.Explain;
using BinaryGrad.Cli.Training;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad explain --out FILE.html</c>: one self-contained HTML page that steps through a backward pass
/// as the engine ran it, for an expression (<c>--expr "tanh(x @ w) * y" --shape x=2x3 …</c>) or one training step of a
/// model (<c>--model mlp --scheme bnn --dataset digits</c>). See docs/explain.md for the grammar and the page.</summary>
public static class ExplainCommand
{
    /// <summary>Default images per batch of the model step: enough for batch statistics, few enough to read.</summary>
    public const int DefaultBatch = 4;

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "The .html file to write.", Required = true };
        var expr = new Option<string?>("--expr") { Description = "An expression, e.g. \"tanh(x @ w) * y\": + - * / @, unary -, ( ), and " + string.Join(", ", Expression.Functions) + " (docs/explain.md)." };
        var shape = new Option<string[]>("--shape") { Description = "Shape of an input of --expr: NAME=DIMS, e.g. x=2x3 (repeatable; a scalar is NAME=1).", AllowMultipleArgumentsPerToken = false };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random inputs (expression) or of the model's initialisation.", DefaultValueFactory = _ => 1UL };
        var scheme = new Option<string?>("--scheme") { Description = "Binarization scheme: the model's (default none), or the quantizer that plays sign in --expr (default: exact sign)." };
        var model = new Option<string?>("--model") { Description = $"Explain one training step of this model instead of --expr: {string.Join(", ", ModelFactory.Names)}." };
        var dataset = new Option<string>("--dataset") { Description = "Data set of the training step (digits ships with BinaryGrad; others are downloaded as for train).", DefaultValueFactory = _ => "digits" };
        var width = new Option<int>("--width") { Description = "Hidden width of the binary MLP.", DefaultValueFactory = _ => 16 };
        var batchSize = new Option<int>("--batch-size") { Description = "Images in the training step.", DefaultValueFactory = _ => DefaultBatch };
        var dataDir = new Option<string?>("--data-dir") { Description = "Data directory (else $BINARYGRAD_DATA, else a per-user cache)." };
        var command = new Command("explain", "Write an HTML page that steps through a backward pass: every node's values, local derivative, upstream and accumulated gradient.")
        {
            output, expr, shape, seed, scheme, model, dataset, width, batchSize, dataDir,
        };
        command.SetAction(r => Run(new ExplainRequest(r.GetValue(output)!, r.GetValue(expr), r.GetValue(shape) ?? [], r.GetValue(seed), r.GetValue(scheme),
            r.GetValue(model), r.GetValue(dataset)!, r.GetValue(width), r.GetValue(batchSize), r.GetValue(dataDir)), Console.Out, Console.Error));
        return command;
    }

    /// <summary>The options of one invocation.</summary>
    public sealed record ExplainRequest(string Out, string? Expr, string[] Shapes, ulong Seed, string? Scheme, string? Model,
        string Dataset = "digits", int Width = 16, int BatchSize = DefaultBatch, string? DataDirectory = null);

    public static int Run(ExplainRequest request, TextWriter output, TextWriter error)
    {
        try
        {
            OutputPaths.CheckFile(request.Out, "--out");
            ExplainSubject subject = Build(request);
            Autograd.Serialization.AtomicFile.WriteAllText(request.Out, ExplainPage.Render(subject, OpFormulas.Default()));
            output.WriteLine($"wrote {request.Out}: {subject.Recording.Nodes.Count} nodes, {subject.Recording.Steps.Count} backward steps (open it in a browser; ← → step through the backward pass)");
            return 0;
        }
        catch (UsageException e)
        {
            error.WriteLine($"binarygrad explain: {e.Message}");
            return Program.BadInput;
        }
    }

    /// <summary>Runs what <paramref name="request"/> names and records it.</summary>
    public static ExplainSubject Build(ExplainRequest request)
    {
        if ((request.Expr is null) == (request.Model is null))
            throw new UsageException("give exactly one of --expr \"EXPRESSION\" (with --shape NAME=DIMS for each input) or --model NAME (one training step).");
        if (request.Model is { } modelName)
        {
            if (request.Shapes.Length > 0) throw new UsageException("--shape belongs to --expr; a --model step takes its shapes from the data set.");
            var options = new TrainOptions
            {
                Model = modelName, Scheme = SchemeChoice.ForModel(request.Scheme ?? SchemeChoice.FloatModel), Dataset = request.Dataset, Width = request.Width,
                BatchSize = request.BatchSize, Seed = request.Seed, DataDirectory = request.DataDirectory, ShowProgress = false,
            };
            if (options.Problems().FirstOrDefault() is { } problem) throw new UsageException(problem);
            if (request.BatchSize < 2) throw new UsageException($"--batch-size must be at least 2 (batch norm needs two images), got {request.BatchSize}.");
            if (request.Width * 64L * request.BatchSize > 1 << 22)
                throw new UsageException($"--width {request.Width} with --batch-size {request.BatchSize} makes a page too large to read; explain is for small models (e.g. --width 16).");
            return ExplainSubject.FromModel(options, request.BatchSize);
        }
        var shapes = new Dictionary<string, int[]>();
        foreach (string spec in request.Shapes)
        {
            (string name, int[] dims) = ParseShape(spec);
            if (!shapes.TryAdd(name, dims)) throw new UsageException($"--shape {spec}: '{name}' was already given a shape.");
        }
        // in an expression "none" is the float baseline scheme like any other (it has no quantizer to play sign)
        return ExplainSubject.FromExpression(request.Expr!, shapes, request.Seed, request.Scheme is { } schemeName ? SchemeChoice.Registered(schemeName) : null);
    }

    /// <summary><c>NAME=D1xD2…</c> (dimensions 1 to 64, at most 4096 elements).</summary>
    internal static (string Name, int[] Dims) ParseShape(string spec)
    {
        int eq = spec.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == spec.Length - 1) throw new UsageException($"--shape '{spec}': expected NAME=DIMS, e.g. x=2x3.");
        string name = spec[..eq].Trim();
        string[] parts = spec[(eq + 1)..].Split('x', 'X', '×');
        var dims = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i].Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out dims[i]) || dims[i] is < 1 or > 64)
                throw new UsageException($"--shape '{spec}': dimension {i + 1} is '{parts[i]}'; expected a whole number from 1 to 64 (dimensions separated by x, e.g. 2x3).");
        if (dims.Aggregate(1L, (a, d) => a * d) > 4096) throw new UsageException($"--shape '{spec}': {dims.Aggregate(1L, (a, d) => a * d)} elements; explain is for small tensors (at most 4096).");
        return (name, dims);
    }
}
