using System.CommandLine;
using System.Globalization;
using BinaryGrad.Autograd;
using BinaryGrad.Cli.Training;
using BinaryGrad.Datasets;
using BinaryGrad.Layers;
using BinaryGrad.Layers.Inference;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad export --checkpoint C --out M.bgm</c>: writes a training checkpoint's model as a bit-packed
/// inference model (<see cref="InferenceModel"/>'s <c>.bgm</c> format) and reports the sizes.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint written by 'binarygrad train'.", Required = true };
        var output = new Option<string>("--out") { Description = "Inference model to write (.bgm).", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace --out even if it exists and is not a .bgm model." };
        var recalibrate = new Option<int>("--recalibrate-bn")
        {
            Description = "First re-estimate the batch norms' running statistics from this many training images (no augmentation, the rest of the network in evaluation mode).",
        };
        var dataDir = new Option<string?>("--data-dir") { Description = "Data directory for --recalibrate-bn (else $BINARYGRAD_DATA, else a per-user cache)." };
        var command = new Command("export", "Export a checkpoint as a bit-packed inference model (.bgm).") { checkpoint, output, force, recalibrate, dataDir };
        command.SetAction(r => Run(r.GetValue(checkpoint)!, r.GetValue(output)!, Console.Out, Console.Error, r.GetValue(force),
            r.GetResult(recalibrate) is null ? null : r.GetValue(recalibrate), r.GetValue(dataDir)));
        return command;
    }

    /// <summary>Exports; returns 0, or <see cref="Program.BadInput"/> after a one-line error.</summary>
    /// <remarks>The output is checked before the checkpoint is read: never the checkpoint itself, and an existing file
    /// is replaced only if it is a .bgm model (its magic bytes), unless <paramref name="force"/>.</remarks>
    public static int Run(string checkpointPath, string outputPath, TextWriter output, TextWriter error, bool force = false,
                          int? recalibrateImages = null, string? dataDirectory = null)
    {
        try
        {
            if (recalibrateImages is int count) Trainer.CheckRecalibrationImages(count);
            OutputPaths.CheckFile(outputPath, "--out", checkpointPath);
            if (!force && File.Exists(outputPath) && !StartsWithBgmMagic(outputPath))
                throw new UsageException($"--out {outputPath}: exists and is not a .bgm model; refusing to replace it (add --force to replace it anyway).");
            Checkpoint state = Checkpoint.Load(checkpointPath);
            ImageDataset shape = DatasetShape(state.DatasetName);
            var options = new TrainOptions { Model = state.ModelName, Dataset = state.DatasetName, Scheme = SchemeChoice.ForModel(state.SchemeName), SchemeArguments = state.SchemeArguments, Width = state.Width };
            Module model = ModelFactory.Create(options, shape, new Rng(0));
            model.LoadStateDict(state.ModelState, strict: true);
            if (recalibrateImages is int images)
            {
                var store = new DatasetStore(dataDirectory, log: output);
                int used = Trainer.RecalibrateBatchNorm(model, store.Load(state.DatasetName, DatasetSplit.Train), Normalization.For(state.DatasetName), images);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Batch-norm running statistics re-estimated from the first {used:N0} training images."));
            }
            InferenceModel inference = InferenceModel.FromModule(model, shape.Channels, shape.Height, shape.Width, shape.ClassCount, state.DatasetName);
            inference.Save(outputPath);
            long bgm = new FileInfo(outputPath).Length, ckpt = new FileInfo(checkpointPath).Length, float32 = model.ParameterCount * 4;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Exported {state.ModelName} (scheme {state.SchemeName}, {state.DatasetName}) to {outputPath}: {inference.Layers.Count} layers, {bgm:N0} bytes; " +
                $"float32 parameters {float32:N0} bytes ({(double)float32 / bgm:F1}× larger), checkpoint {ckpt:N0} bytes ({(double)ckpt / bgm:F1}× larger, includes optimizer state)."));
            return 0;
        }
        catch (Exception e) when (e is UsageException or ArgumentException or NotSupportedException or FormatException or IOException or UnauthorizedAccessException or DatasetException or OutOfMemoryException)
        {
            error.WriteLine($"binarygrad export: {e.Message}");
            return Program.BadInput;
        }
    }

    private static bool StartsWithBgmMagic(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            Span<byte> head = stackalloc byte[InferenceModel.Magic.Length];
            return stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.SequenceEqual(InferenceModel.Magic);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>An empty data set with <paramref name="name"/>'s image shape and classes (what the model builders
    /// need), without reading any data.</summary>
    internal static ImageDataset DatasetShape(string name)
    {
        DatasetInfo info = DatasetCatalog.Get(name);
        (int c, int h, int w) = info.Key switch
        {
            "cifar10" => (3, 32, 32),
            "digits" => (1, Digits.Side, Digits.Side),
            _ => (1, 28, 28),
        };
        return new ImageDataset(info.Key, c, h, w, [], [], info.ClassNames);
    }
}
