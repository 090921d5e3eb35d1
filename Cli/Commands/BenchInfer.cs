using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using BinaryGrad.Autograd;
using BinaryGrad.Cli.Training;
using BinaryGrad.Kernels;
using BinaryGrad.Layers;
using BinaryGrad.Layers.Inference;
using BinaryGrad.Cli.Progress;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad bench infer [--model mlp|cnn|vgg-small|resnet20|…] [--bgm FILE] [--batch N] [--json]</c>: the
/// throughput of a bit-packed <c>.bgm</c> model against PyTorch's float model of the same architecture, in one run.</summary>
/// <remarks>
/// <para><b>Ours.</b> The 1W/1A network <c>train --model M --scheme bnn</c> builds, freshly initialised (seed 42), its
/// batch-norm statistics set to seeded random values (so the folded thresholds are as varied as a trained model's,
/// negative scales included), exported, saved to a temporary <c>.bgm</c> and loaded back; or, with <c>--bgm</c>, a
/// model exported from a trained checkpoint. It classifies seeded N(0, 1) images through
/// <see cref="InferenceModel.Predict(ReadOnlySpan{float}, Span{int})"/> into a reused buffer.</para>
/// <para><b>Peer.</b> <c>Bench/peers/torch_infer.py</c>: the same architecture with float layers in place of the
/// binary ones (the float model one would deploy instead), eval mode under <c>torch.inference_mode()</c>, at the
/// fastest of <see cref="BenchTrain.PeerConfigurations"/>.</para>
/// <para><b>Timing.</b> Warm-up of at least <see cref="WarmupSeconds"/>, then the median of <see cref="Runs"/> runs
/// of about <see cref="TargetRunSeconds"/> each, at the batch and at batch 1 (latency). The breakdown into real,
/// binary and other layers (<see cref="InferenceTiming"/>) comes from one extra timed run, so its small overhead
/// does not touch the throughput figures.</para>
/// </remarks>
public static class BenchInfer
{
    public const int DefaultBatch = 128;
    private const int Runs = 7;
    private const double WarmupSeconds = 1.5;
    private const double TargetRunSeconds = 0.5;

    /// <summary>Scales the warm-up and run lengths (tests shorten them; the figures need 1).</summary>
    internal static double TimeScale { get; set; } = 1;

    /// <summary>The models timed when no <c>--model</c> is given.</summary>
    public static readonly string[] DefaultModels = ["mlp", "cnn", "vgg-small", "resnet20"];

    /// <summary>Runs the benchmark; writes a table, or with <paramref name="json"/> one JSON object per model per line:
    /// <c>name</c>, <c>model</c>, <c>batch</c>, <c>ours</c> and <c>peer</c> (images/s at the batch), <c>ratio</c>
    /// (ours/peer), <c>latencyMs</c> and <c>peerLatencyMs</c> (batch 1), <c>latencyRatio</c> (peer/ours: above 1 is
    /// faster), <c>peerConfig</c>, <c>realMs</c>, <c>binaryMs</c>, <c>otherMs</c> (per batch),
    /// <c>allocatedBytesPerBatch</c>, <c>threads</c>. Returns 0, or 2 after one line for bad input.</summary>
    public static int Run(bool json, TextWriter output, TextWriter error, string? model, string? bgmPath, int batch, bool peer = true)
    {
        List<(string Model, InferenceModel Net)> jobs;
        try
        {
            if (batch < 1) throw new UsageException($"--batch must be at least 1, got {batch}.");
            jobs = Jobs(model, bgmPath);
        }
        catch (Exception e) when (e is UsageException or FormatException or ArgumentException)
        {
            error.WriteLine($"binarygrad bench infer: {e.Message}");
            return Program.BadInput;
        }
        if (!json)
        {
            output.WriteLine(Simd.IsaLine);
            output.WriteLine($"threads {KernelThreads.Count}, batch {batch}, median of {Runs} runs after warm-up; peer: PyTorch float model, eval mode, fastest of {BenchTrain.PeerConfigurations.Length} thread/BLAS configurations");
            output.WriteLine($"{"model",-12} {"ours img/s",11} {"peer img/s",11} {"ratio",7} {"ours ms@1",10} {"peer ms@1",10} {"real ms",8} {"binary ms",10} {"other ms",9} {"alloc B/batch",14}  peer configuration");
        }
        int peerCalls = peer ? BenchTrain.PeerConfigurations.Length * jobs.Count(j => j.Model != "custom") : 0;
        using var progress = StageProgress.OnConsole("bench infer", jobs.Count + peerCalls);
        foreach ((string name, InferenceModel net) in jobs)
        {
            progress.Show($"{name}: ours at batch {batch} and 1");
            Row row = Measure(name, net, batch);
            progress.Complete();
            if (peer && name != "custom")
                foreach ((string config, int threads, bool openMp) in BenchTrain.PeerConfigurations)
                {
                    string arguments = string.Create(CultureInfo.InvariantCulture, $"{KernelThreads.Count} {name} {batch}");
                    progress.Show($"{name}: PyTorch, {config}");
                    Dictionary<string, double> measured = BenchGemmConv.RunPeer("torch_infer.py", "torch", arguments, threads, "images_per_s", openMp);
                    progress.Complete();
                    if (measured.TryGetValue($"{name} batch {batch}", out double imagesPerSecond) && imagesPerSecond > (row.Peer ?? 0))
                        row = row with { Peer = imagesPerSecond, PeerConfig = config };
                    if (measured.TryGetValue($"{name} batch 1", out double q) && 1e3 / q < (row.PeerLatencyMs ?? double.MaxValue)) row = row with { PeerLatencyMs = 1e3 / q };
                }
            progress.Clear();
            Write(row, json, output);
        }
        return 0;
    }

    private sealed record Row(string Name, string Model, int Batch, double Ours, double LatencyMs, double RealMs, double BinaryMs, double OtherMs,
                              long AllocatedBytesPerBatch, double? Peer = null, string? PeerConfig = null, double? PeerLatencyMs = null);

    private static void Write(Row row, bool json, TextWriter output)
    {
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["name"] = row.Name, ["model"] = row.Model, ["batch"] = row.Batch, ["ours"] = Math.Round(row.Ours, 1),
                ["peer"] = row.Peer is { } p ? Math.Round(p, 1) : null,
                ["ratio"] = row.Peer is { } q ? Math.Round(row.Ours / q, 3) : null,
                ["latencyMs"] = Math.Round(row.LatencyMs, 4),
                ["peerLatencyMs"] = row.PeerLatencyMs is { } l ? Math.Round(l, 4) : null,
                ["latencyRatio"] = row.PeerLatencyMs is { } m ? Math.Round(m / row.LatencyMs, 3) : null,
                ["peerConfig"] = row.PeerConfig,
                ["realMs"] = Math.Round(row.RealMs, 3), ["binaryMs"] = Math.Round(row.BinaryMs, 3), ["otherMs"] = Math.Round(row.OtherMs, 3),
                ["allocatedBytesPerBatch"] = row.AllocatedBytesPerBatch,
                ["threads"] = KernelThreads.Count,
            }));
            return;
        }
        static string F(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "n/a";
        output.WriteLine($"{row.Model,-12} {row.Ours,11:F0} {F(row.Peer, "F0"),11} {F(row.Peer is { } peer ? row.Ours / peer : null, "F2"),7} {row.LatencyMs,10:F3} " +
                         $"{F(row.PeerLatencyMs, "F3"),10} {row.RealMs,8:F2} {row.BinaryMs,10:F2} {row.OtherMs,9:F2} {row.AllocatedBytesPerBatch,14:N0}  {row.PeerConfig ?? "n/a"}");
    }

    private static List<(string, InferenceModel)> Jobs(string? model, string? bgmPath)
    {
        if (bgmPath is not null)
        {
            InferenceModel loaded = InferenceModel.Load(bgmPath);
            if (model is not null && !ModelFactory.Names.Contains(model))
                throw new UsageException(ModelFactory.Unknown(model));
            return [(model ?? "custom", loaded)]; // the peer needs --model to know the architecture
        }
        string[] names = model is null ? DefaultModels : [model];
        foreach (string name in names)
            if (!ModelFactory.Names.Contains(name))
                throw new UsageException(ModelFactory.Unknown(name));
        return [.. names.Select(name => (name, Fresh(name)))];
    }

    /// <summary>The freshly initialised 1W/1A model, with seeded random batch-norm statistics, through a .bgm file.</summary>
    internal static InferenceModel Fresh(string name)
    {
        string dataset = name is "mlp" or "cnn" ? "mnist" : "cifar10";
        Datasets.ImageDataset shape = ExportCommand.DatasetShape(dataset);
        var options = new TrainOptions { Model = name, Scheme = SchemeChoice.Registered("bnn"), Dataset = dataset };
        var rng = new Rng(42);
        Module net = ModelFactory.Create(options, shape, rng);
        RandomizeBatchNorms(net, rng);
        InferenceModel exported = InferenceModel.FromModule(net, shape.Channels, shape.Height, shape.Width, shape.ClassCount, dataset);
        string path = Path.Combine(Path.GetTempPath(), $"binarygrad-bench-{name}-{Environment.ProcessId}.bgm");
        try
        {
            exported.Save(path);
            return InferenceModel.Load(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Running mean uniform in ±3, variance in [0.5, 2), γ in [−0.5, 1.5) (a quarter negative), β in [−1, 1):
    /// varied thresholds, negative scales included, as in a trained network.</summary>
    internal static void RandomizeBatchNorms(Module net, Rng rng)
    {
        foreach (BatchNormBase bn in Modules(net).OfType<BatchNormBase>())
        {
            Span<float> mean = bn.RunningMean.AsSpan<float>(), variance = bn.RunningVar.AsSpan<float>();
            Span<float> gamma = bn.Weight is null ? default : bn.Weight.Value.AsSpan<float>(), beta = bn.Bias is null ? default : bn.Bias.Value.AsSpan<float>();
            for (int c = 0; c < mean.Length; c++)
            {
                mean[c] = (float)rng.Uniform(-3, 3);
                variance[c] = (float)rng.Uniform(0.5, 2);
                if (!gamma.IsEmpty) gamma[c] = (float)rng.Uniform(-0.5, 1.5);
                if (!beta.IsEmpty) beta[c] = (float)rng.Uniform(-1, 1);
            }
        }
    }

    private static IEnumerable<Module> Modules(Module m) => new[] { m }.Concat(m.NamedChildren().SelectMany(c => Modules(c.Value)));

    private static Row Measure(string name, InferenceModel net, int batch)
    {
        var rng = new Rng(7);
        int image = net.Channels * net.Height * net.Width;
        float[] images = new float[batch * image];
        for (int i = 0; i < images.Length; i++) images[i] = (float)rng.Normal();
        int[] predictions = new int[batch];

        double Seconds(int n)
        {
            ReadOnlySpan<float> x = images.AsSpan(0, n * image);
            var warm = Stopwatch.StartNew();
            double last = 0;
            while (warm.Elapsed.TotalSeconds < WarmupSeconds * TimeScale)
            {
                long t = Stopwatch.GetTimestamp();
                net.Predict(x, predictions.AsSpan(0, n));
                last = Stopwatch.GetElapsedTime(t).TotalSeconds;
            }
            int calls = (int)Math.Clamp(TargetRunSeconds * TimeScale / Math.Max(last, 1e-7), 1, 100_000);
            var times = new double[Runs];
            for (int run = 0; run < Runs; run++)
            {
                long t = Stopwatch.GetTimestamp();
                for (int c = 0; c < calls; c++) net.Predict(x, predictions.AsSpan(0, n));
                times[run] = Stopwatch.GetElapsedTime(t).TotalSeconds / calls;
            }
            Array.Sort(times);
            return times[Runs / 2];
        }

        double perBatch = Seconds(batch);
        long allocatedBefore = GC.GetTotalAllocatedBytes(true);
        const int allocationCalls = 5;
        for (int c = 0; c < allocationCalls; c++) net.Predict(images, predictions);
        long allocated = (GC.GetTotalAllocatedBytes(true) - allocatedBefore) / allocationCalls;
        double latency = Seconds(1);

        net.Predict(images, predictions); // back to the full batch's buffers
        var timing = new InferenceTiming();
        int timedCalls = (int)Math.Clamp(TargetRunSeconds * TimeScale / perBatch, 1, 10_000);
        for (int c = 0; c < timedCalls; c++) net.Predict(images, predictions, timing);
        double Ms(long ticks) => ticks * 1e3 / Stopwatch.Frequency / timedCalls;
        if (Environment.GetEnvironmentVariable("BINARYGRAD_INFER_PROFILE") == "1")
            foreach ((string kind, long ticks) in timing.ByKind.OrderByDescending(k => k.Value)) Console.Error.WriteLine($"  {name} {kind,-20} {Ms(ticks),8:F2} ms/batch");
        return new Row(name, name, batch, batch / perBatch, latency * 1e3, Ms(timing.RealTicks), Ms(timing.BinaryTicks), Ms(timing.OtherTicks), allocated);
    }
}
