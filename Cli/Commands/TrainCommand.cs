using System.CommandLine;
using System.Globalization;
using BinaryGrad.Cli.Training;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad train</c>: trains a model on a real data set (default: the MLP on MNIST).</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var dataset = new Option<string>("--dataset") { Description = "mnist, fashion-mnist, cifar10 or digits.", DefaultValueFactory = _ => "mnist" };
        var model = new Option<string>("--model") { Description = $"Model: {string.Join(", ", ModelFactory.Names)}.", DefaultValueFactory = _ => "mlp" };
        var optimizer = new Option<string>("--optimizer") { Description = $"Optimizer: {string.Join(", ", OptimizerFactory.Names)}.", DefaultValueFactory = _ => "adam" };
        var lr = new Option<double?>("--lr") { Description = "Learning rate (default: SGD 0.05; Adam/AdamW 3e-3 for the float CNN, else 1e-3).", CustomParser = ParseNumber };
        var weightDecay = new Option<double?>("--weight-decay") { Description = "L2 weight decay on every parameter: added to the gradient by sgd and adam, decoupled in adamw (default: adamw 0.01, else 0).", CustomParser = ParseNumber };
        var latentWeightDecay = new Option<double?>("--latent-weight-decay") { Description = "Weight decay of the binary layers' latent weights (default: as --weight-decay; SiMaN's and RBNN's CIFAR recipes use 0).", CustomParser = ParseNumber };
        var warmup = new Option<int>("--warmup-epochs") { Description = "Epochs of linear learning-rate warm-up before the cosine decay (default 0).", DefaultValueFactory = _ => 0 };
        var epochs = new Option<int>("--epochs") { Description = "Epochs to train.", DefaultValueFactory = _ => 3 };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per batch.", DefaultValueFactory = _ => 128 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of every random choice (init, shuffling, sampling).", DefaultValueFactory = _ => 1UL };
        var threads = new Option<int>("--threads") { Description = "Kernel threads (default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var workSplit = new Option<int?>("--work-split") { Description = "Split every kernel's work as this many threads would, running on --threads of them: results equal a --threads N run's bit for bit (default: as --threads).", CustomParser = ParseWholeNumber };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Write a checkpoint (safetensors) here after every epoch." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run saved in --checkpoint." };
        var initFrom = new Option<string?>("--init-from") { Description = "Start from this checkpoint's model weights with a fresh optimizer, schedule and epoch count (a second stage, e.g. fine-tuning with --augment); same model, width, data set and scheme." };
        var json = new Option<string?>("--json") { Description = "Append one JSON object per epoch to this file." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Data directory (else $BINARYGRAD_DATA, else a per-user cache)." };
        var schedule = new Option<string>("--schedule") { Description = "Learning-rate schedule: cosine (default), constant, step.", DefaultValueFactory = _ => "cosine" };
        var augment = new Option<string>("--augment") { Description = "Training augmentation: none, or crop-flip (random crop of the 4-pixel zero-padded image and horizontal flip; the CIFAR-10 recipe).", DefaultValueFactory = _ => "none" };
        var plot = new Option<string?>("--plot") { Description = "Write training curves (loss, accuracy, flip ratio per epoch) as SVG into this directory." };
        var width = new Option<int>("--width") { Description = "Hidden width of the binary MLP (with --scheme).", DefaultValueFactory = _ => 1024 };
        var scheme = new Option<string>("--scheme") { Description = "Binarization scheme ('binarygrad schemes' lists them); none = float model.", DefaultValueFactory = _ => SchemeChoice.FloatModel };
        var schemeArgs = new Option<string[]>("--scheme-arg") { Description = "Override a scheme hyper-parameter: key=value (repeatable).", AllowMultipleArgumentsPerToken = false };
        var command = new Command("train", "Train a model on a real data set, evaluating on the test set after every epoch.")
        {
            dataset, model, optimizer, lr, weightDecay, latentWeightDecay, epochs, warmup, batchSize, seed, threads, workSplit, checkpoint, resume, initFrom, json, dataDir, scheme, schemeArgs, schedule, augment, plot, width,
        };
        command.SetAction(r =>
        {
            Dictionary<string, double> arguments;
            Binarization.SchemeInfo? resolvedScheme;
            try
            {
                arguments = ParseSchemeArguments(r.GetValue(schemeArgs) ?? []);
                resolvedScheme = SchemeChoice.ForModel(r.GetValue(scheme)!);
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine($"binarygrad train: {e.Message}");
                return Program.BadInput;
            }
            return Run(new TrainOptions
        {
            Scheme = resolvedScheme, SchemeArguments = arguments, Schedule = r.GetValue(schedule)!, Augment = r.GetValue(augment)!, PlotDirectory = r.GetValue(plot), Width = r.GetValue(width),
            Dataset = r.GetValue(dataset)!, Model = r.GetValue(model)!, Optimizer = r.GetValue(optimizer)!, LearningRate = r.GetValue(lr), WeightDecay = r.GetValue(weightDecay), LatentWeightDecay = r.GetValue(latentWeightDecay), WarmupEpochs = r.GetValue(warmup),
            Epochs = r.GetValue(epochs), BatchSize = r.GetValue(batchSize), Seed = r.GetValue(seed), Threads = r.GetValue(threads), WorkSplit = r.GetValue(workSplit),
            CheckpointPath = r.GetValue(checkpoint), Resume = r.GetValue(resume), InitFrom = r.GetValue(initFrom), JsonPath = r.GetValue(json), DataDirectory = r.GetValue(dataDir),
        });
        });
        return command;
    }

    /// <summary>A number in invariant notation (<c>0.001</c>, <c>1e-3</c>). The default parser accepts thousands
    /// separators, so <c>--lr 0,001</c> would silently be 1; here a comma is an error naming the option.</summary>
    internal static double? ParseNumber(System.CommandLine.Parsing.ArgumentResult result) =>
        ParseToken<double>(result, token => double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) ? value : (double?)null,
            "a number", "write it with a decimal point, e.g. 0.001 or 1e-3");

    /// <summary>A whole number for an optional count (<c>--work-split</c>): the default parser's error would name the
    /// CLR type <c>Nullable`1[Int32]</c>; this one names the option and what it takes.</summary>
    internal static int? ParseWholeNumber(System.CommandLine.Parsing.ArgumentResult result) =>
        ParseToken<int>(result, token => int.TryParse(token, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value : (int?)null,
            "a whole number", "write it as digits, e.g. 2");

    /// <summary>The option's single token through <paramref name="parse"/>; when it gives null, an error
    /// "'TOKEN' is not WHAT for --OPTION; HINT." naming the option.</summary>
    private static T? ParseToken<T>(System.CommandLine.Parsing.ArgumentResult result, Func<string, T?> parse, string what, string hint) where T : struct
    {
        string token = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        if (parse(token) is T value) return value;
        string option = (result.Parent as System.CommandLine.Parsing.OptionResult)?.Option.Name ?? "this option";
        result.AddError($"'{token}' is not {what} for {option}; {hint}.");
        return null;
    }

    /// <summary>Parses <c>key=value</c> pairs; the scheme itself checks keys and ranges.</summary>
    public static Dictionary<string, double> ParseSchemeArguments(IEnumerable<string> pairs)
    {
        var result = new Dictionary<string, double>();
        foreach (string pair in pairs)
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0 || !double.TryParse(pair[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
                throw new UsageException($"--scheme-arg '{pair}' is not of the form key=number (e.g. beta=5).");
            result[pair[..eq]] = value;
        }
        return result;
    }

    public static int Run(TrainOptions options)
    {
        try
        {
            new Trainer(options, Console.Out).Run();
            return 0;
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"binarygrad train: {e.Message}");
            return Program.BadInput;
        }
        catch (DivergedException e)
        {
            Console.Error.WriteLine($"binarygrad train: {e.Message}");
            return Program.Diverged;
        }
    }
}

/// <summary><c>binarygrad eval --checkpoint PATH</c>: re-evaluates a saved model on its data set's test split.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint written by 'binarygrad train'.", Required = true };
        var dataDir = new Option<string?>("--data-dir") { Description = "Data directory (else $BINARYGRAD_DATA, else a per-user cache)." };
        var recalibrate = new Option<int>("--recalibrate-bn")
        {
            Description = "First re-estimate the batch norms' running statistics from this many training images (no augmentation, the rest of the network in evaluation mode).",
        };
        var command = new Command("eval", "Evaluate a checkpoint on the test set.") { checkpoint, dataDir, recalibrate };
        command.SetAction(r =>
        {
            try
            {
                if (r.GetResult(recalibrate) is not null) Trainer.CheckRecalibrationImages(r.GetValue(recalibrate));
                Checkpoint state = Checkpoint.Load(r.GetValue(checkpoint)!);
                var options = new TrainOptions { Model = state.ModelName, Dataset = state.DatasetName, Scheme = SchemeChoice.ForModel(state.SchemeName), SchemeArguments = state.SchemeArguments, Width = state.Width, DataDirectory = r.GetValue(dataDir) };
                var store = new Datasets.DatasetStore(options.DataDirectory, log: Console.Out);
                Datasets.ImageDataset test = store.Load(options.Dataset, Datasets.DatasetSplit.Test);
                Layers.Module model = ModelFactory.Create(options, test, new Autograd.Rng(0));
                model.LoadStateDict(state.ModelState, strict: true);
                if (r.GetResult(recalibrate) is not null && r.GetValue(recalibrate) is var images)
                {
                    int used = Trainer.RecalibrateBatchNorm(model, store.Load(options.Dataset, Datasets.DatasetSplit.Train), Datasets.Normalization.For(options.Dataset), images);
                    Console.WriteLine($"Batch-norm running statistics re-estimated from the first {used.ToString("N0", CultureInfo.InvariantCulture)} training images.");
                }
                double accuracy = Trainer.Evaluate(model, test, Datasets.Normalization.For(options.Dataset), 256);
                Console.WriteLine($"{options.Model} on {test.Name}: test accuracy {accuracy.ToString("P2", CultureInfo.InvariantCulture)} ({test.Count} images).");
                return 0;
            }
            catch (Exception e) when (e is UsageException or Datasets.DatasetException or ArgumentException)
            {
                Console.Error.WriteLine($"binarygrad eval: {e.Message}");
                return Program.BadInput;
            }
        });
        return command;
    }
}
