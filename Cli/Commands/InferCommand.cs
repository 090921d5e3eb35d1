using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using BinaryGrad.Datasets;
using BinaryGrad.Layers.Inference;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad infer --model M.bgm [--dataset D] [--data-dir DIR]</c>: runs a bit-packed inference model
/// over a data set's test split (by default the one the model was trained on, which the file records) and prints
/// accuracy, throughput and model size.</summary>
public static class InferCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Inference model written by 'binarygrad export' (.bgm).", Required = true };
        var dataset = new Option<string?>("--dataset") { Description = "mnist, fashion-mnist, cifar10 or digits. [default: the data set the model was trained on]" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Data directory (else $BINARYGRAD_DATA, else a per-user cache)." };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per forward.", DefaultValueFactory = _ => 256 };
        var command = new Command("infer", "Run a .bgm inference model on a test set: accuracy, images/s, size.") { model, dataset, dataDir, batchSize };
        command.SetAction(r => Run(r.GetValue(model)!, r.GetValue(dataset), r.GetValue(dataDir), r.GetValue(batchSize), Console.Out, Console.Error));
        return command;
    }

    /// <summary>Loads the model and the data and runs; returns 0, or <see cref="Program.BadInput"/> after a one-line error.
    /// A null <paramref name="dataset"/> is the model's own (<see cref="InferenceModel.Dataset"/>).</summary>
    public static int Run(string modelPath, string? dataset, string? dataDirectory, int batchSize, TextWriter output, TextWriter error)
    {
        try
        {
            if (batchSize < 1) throw new ArgumentException($"--batch-size must be at least 1, got {batchSize}.");
            InferenceModel model = InferenceModel.Load(modelPath);
            dataset ??= model.Dataset;
            ImageDataset test = new DatasetStore(dataDirectory).Load(dataset, DatasetSplit.Test);
            (double accuracy, double seconds) = Evaluate(model, test, Normalization.For(dataset), batchSize, modelPath);
            long size = new FileInfo(modelPath).Length;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{modelPath} on {test.Name}: accuracy {accuracy:P2} ({test.Count} images), {test.Count / seconds:F0} images/s, model {size:N0} bytes ({model.ParameterBytes:N0} bytes of weights)."));
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException or UnauthorizedAccessException or DatasetException)
        {
            error.WriteLine($"binarygrad infer: {e.Message}");
            return Program.BadInput;
        }
    }

    /// <summary>Accuracy and wall seconds of <paramref name="model"/> over <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException">The images are not the model's input size.</exception>
    public static (double Accuracy, double Seconds) Evaluate(InferenceModel model, ImageDataset data, Normalization normalization, int batchSize, string modelName = "model")
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (data.Channels != model.Channels || data.Height != model.Height || data.Width != model.Width)
            throw new ArgumentException($"{modelName} expects {model.Channels}×{model.Height}×{model.Width} images; {data.Name} has {data.Channels}×{data.Height}×{data.Width}.");
        long correct = 0;
        var clock = Stopwatch.StartNew();
        foreach (Batch batch in DataLoader.ForEvaluation(data, batchSize, normalization).Epoch())
        {
            int[] predicted = model.Predict(batch.ImageSpan.ToArray(), batch.Count);
            for (int i = 0; i < batch.Count; i++) if (predicted[i] == batch.LabelSpan[i]) correct++;
        }
        return (data.Count == 0 ? 0 : (double)correct / data.Count, clock.Elapsed.TotalSeconds);
    }
}
