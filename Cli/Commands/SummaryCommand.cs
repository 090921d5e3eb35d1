using System.CommandLine;
using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Cli.Training;
using BinaryGrad.Datasets;
using BinaryGrad.Layers;
using BinaryGrad.Layers.Inference;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad summary --model M --scheme S [--dataset mnist]</c>: per-layer parameters, bits per weight,
/// memory (float32 vs bit-packed), 32-bit and binary MACs and activation memory, with totals and the compression
/// ratio (<see cref="ModelSummary"/>).</summary>
public static class SummaryCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = $"Model: {string.Join(", ", ModelFactory.Names)}.", DefaultValueFactory = _ => "mlp" };
        var scheme = new Option<string>("--scheme") { Description = "Binarization scheme; none = float model.", DefaultValueFactory = _ => SchemeChoice.FloatModel };
        var dataset = new Option<string>("--dataset") { Description = "Data set whose image shape and classes the model takes.", DefaultValueFactory = _ => "mnist" };
        var command = new Command("summary", "Per-layer parameters, memory, MACs and activation memory of a model.") { model, scheme, dataset };
        command.SetAction(r => Run(r.GetValue(model)!, r.GetValue(scheme)!, r.GetValue(dataset)!, Console.Out, Console.Error));
        return command;
    }

    /// <summary>Prints the summary; returns 0, or <see cref="Program.BadInput"/> after a one-line error.</summary>
    public static int Run(string model, string scheme, string dataset, TextWriter output, TextWriter error)
    {
        try
        {
            ModelSummary summary = Summarize(model, scheme, dataset);
            output.WriteLine($"{model} (scheme {scheme}) on {dataset}:");
            output.WriteLine(summary.Format());
            return 0;
        }
        catch (Exception e) when (e is UsageException or ArgumentException or DatasetException)
        {
            error.WriteLine($"binarygrad summary: {e.Message}");
            return Program.BadInput;
        }
    }

    /// <summary>Builds the model as <c>train</c> would and summarizes it for one image of the data set.</summary>
    public static ModelSummary Summarize(string model, string scheme, string dataset)
    {
        ImageDataset shape = ExportCommand.DatasetShape(dataset);
        SchemeInfo? resolved = SchemeChoice.ForModel(scheme);
        Module built = ModelFactory.Create(new TrainOptions { Model = model, Scheme = resolved, Dataset = dataset }, shape, new Rng(0));
        return ModelSummary.Of(built, [shape.Channels, shape.Height, shape.Width]);
    }
}
