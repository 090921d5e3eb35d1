using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using BinaryGrad.Cli.Training;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad compare --schemes a,b,c --epochs N</c>: trains each scheme with the same seed, model, data
/// and budget, and prints one table (scheme, test accuracy, flip ratio, wall time, images/s), also written as
/// Markdown and JSON.</summary>
public static class CompareCommand
{
    /// <summary>One row of the comparison.</summary>
    public sealed record Row(string Scheme, double TestAcc, double? FlipRatio, double WallSeconds, double ImagesPerSec);

    public static Command Create()
    {
        var schemes = new Option<string>("--schemes") { Description = "Comma-separated scheme names, e.g. bnn,approxsign,swishsign.", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "Epochs per scheme.", DefaultValueFactory = _ => 1 };
        var dataset = new Option<string>("--dataset") { Description = "Data set (as for train).", DefaultValueFactory = _ => "mnist" };
        var model = new Option<string>("--model") { Description = "Model (as for train).", DefaultValueFactory = _ => "mlp" };
        var seed = new Option<ulong>("--seed") { Description = "Seed shared by every run.", DefaultValueFactory = _ => 1UL };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per batch.", DefaultValueFactory = _ => 128 };
        var outPrefix = new Option<string>("--out") { Description = "Write PREFIX.md and PREFIX.json.", DefaultValueFactory = _ => "compare" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Data directory (as for train)." };
        var command = new Command("compare", "Train several schemes under the same budget and tabulate them.") { schemes, epochs, dataset, model, seed, batchSize, outPrefix, dataDir };
        command.SetAction(r =>
        {
            var baseOptions = new TrainOptions
            {
                Dataset = r.GetValue(dataset)!, Model = r.GetValue(model)!, Epochs = r.GetValue(epochs), Seed = r.GetValue(seed),
                BatchSize = r.GetValue(batchSize), DataDirectory = r.GetValue(dataDir),
            };
            string[] names = [.. r.GetValue(schemes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            try
            {
                string prefix = r.GetValue(outPrefix)!;
                OutputPaths.CheckFile(prefix + ".md", "--out");
                OutputPaths.CheckFile(prefix + ".json", "--out");
                IReadOnlyList<Row> rows = Run(baseOptions, names, Console.Out);
                Autograd.Serialization.AtomicFile.WriteAllText(prefix + ".md", Markdown(rows, baseOptions));
                Autograd.Serialization.AtomicFile.WriteAllText(prefix + ".json", JsonSerializer.Serialize(rows.Select(x => new
                {
                    scheme = x.Scheme, testAcc = x.TestAcc, flipRatio = x.FlipRatio, wallSeconds = x.WallSeconds, imagesPerSec = x.ImagesPerSec,
                }), new JsonSerializerOptions { WriteIndented = true }));
                Console.WriteLine(Markdown(rows, baseOptions));
                Console.WriteLine($"wrote {prefix}.md and {prefix}.json");
                return 0;
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine($"binarygrad compare: {e.Message}");
                return Program.BadInput;
            }
            catch (DivergedException e)
            {
                Console.Error.WriteLine($"binarygrad compare: {e.Message}");
                return Program.Diverged;
            }
        });
        return command;
    }

    /// <summary>Trains every scheme in turn with <paramref name="baseOptions"/> (only the scheme differs).</summary>
    public static IReadOnlyList<Row> Run(TrainOptions baseOptions, IReadOnlyList<string> schemes, TextWriter log, Datasets.ImageDataset? train = null, Datasets.ImageDataset? test = null)
    {
        if (schemes.Count == 0) throw new UsageException("--schemes needs at least one scheme name.");
        // every name is resolved before the first run, so a typo in the last one does not cost the earlier runs
        Binarization.SchemeInfo?[] resolved = [.. schemes.Select(SchemeChoice.ForModel)];
        var rows = new List<Row>();
        for (int run = 0; run < schemes.Count; run++)
        {
            string scheme = schemes[run];
            var trainer = new Trainer(baseOptions with { Scheme = resolved[run], ProgressContext = $"{scheme} ({run + 1}/{schemes.Count})" }, log);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            trainer.Run(train, test);
            EpochReport last = trainer.Reports[^1];
            rows.Add(new Row(scheme, last.TestAcc, last.FlipRatio, clock.Elapsed.TotalSeconds, trainer.Reports.Average(x => x.ImagesPerSec)));
        }
        return rows;
    }

    public static string Markdown(IReadOnlyList<Row> rows, TrainOptions options)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"{options.Model} on {options.Dataset}, {options.Epochs} epoch(s), batch {options.BatchSize}, seed {options.Seed}");
        sb.AppendLine();
        sb.AppendLine("| scheme | test accuracy | flip ratio | wall time (s) | images/s |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (Row r in rows)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Scheme} | {r.TestAcc:P2} | {(r.FlipRatio is double f ? f.ToString("P3", CultureInfo.InvariantCulture) : "—")} | {r.WallSeconds:F1} | {r.ImagesPerSec:F0} |"));
        return sb.ToString();
    }
}
