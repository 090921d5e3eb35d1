using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using BinaryGrad.Autograd;
using BinaryGrad.Cli.Progress;
using BinaryGrad.Cli.Training;
using BinaryGrad.Kernels;
using BinaryGrad.Layers;
using BinaryGrad.Optimizers;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad bench train [--model M [--scheme S]] [--profile] [--json]</c>: times full training steps
/// (forward, cross-entropy, backward, Adam step) at batch 128 on seeded random data — by default the float MLP
/// 784-512-512-10 and the small CNN on MNIST shapes; with <c>--model</c> the model <c>train</c> builds for that
/// <c>--model</c>/<c>--scheme</c> (MNIST shapes for mlp/cnn, CIFAR-10 shapes for the others) — and in the same run the
/// identical PyTorch models (<c>Bench/peers/torch_train.py</c>) at their best thread/BLAS configuration, and reports
/// images/s, the ratio ours/peer, our managed allocation per step and the process's peak working set.</summary>
/// <remarks>Timing: warm-up steps, then rounds of <see cref="Runs"/> Stopwatch runs of N steps each (N chosen from the
/// warm-up so that one run takes about <see cref="TargetRunSeconds"/>); a round's figure is the median of its runs.
/// With the peer there is one round of ours before each of the peer's <see cref="PeerConfigurations"/>, and each side's
/// fastest round counts: the peer's fastest configuration is its best one (OpenBLAS's own threads can fight PyTorch's
/// OpenMP threads, and which build and thread count wins depends on the model and the machine), and taking ours the
/// same way over the same stretch of time keeps a slow phase of a shared machine from landing on one side only.
/// Each step is what the trainer does: forward, cross-entropy, <c>loss.Item()</c>, zero-grad, backward, Adam step, in
/// a <see cref="TensorPool"/> step scope (so after warm-up the step's tensors reuse pooled storage). Allocation: the
/// process-wide <see cref="GC.GetTotalAllocatedBytes(bool)"/> delta over all timed steps divided by their number, so
/// allocations on kernel worker threads count too. GC pause: the <see cref="GC.GetTotalPauseDuration"/> delta over the
/// same timed runs as a share of their wall time. The peer runs with <c>torch.set_num_threads(</c><see cref="KernelThreads.Count"/><c>)</c>,
/// OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed for that command only.</remarks>
public static class BenchTrain
{
    /// <summary>Batch size of every step (as in the PyTorch reference figures).</summary>
    public const int Batch = 128;

    private const int Runs = 5;
    private const int WarmupSteps = 40;
    private const double WarmupSeconds = 8.0;
    private const double TargetRunSeconds = 1.0;

    internal const string MlpName = "mlp 784-512-512-10 batch 128";
    internal const string CnnName = "cnn conv32-conv64 batch 128";

    /// <summary>The models <c>--model</c> accepts (those <c>train</c> builds).</summary>
    public static IReadOnlyList<string> ModelNames => ModelFactory.Names;

    /// <summary>The peer's thread/BLAS configurations: OpenBLAS threads and whether the OpenMP OpenBLAS build is loaded.</summary>
    internal static readonly (string Name, int OpenBlasThreads, bool OpenMp)[] PeerConfigurations =
    [
        ("OPENBLAS_NUM_THREADS=1, OpenMP OpenBLAS", 1, true),
        ("OPENBLAS_NUM_THREADS=2, OpenMP OpenBLAS", 2, true),
        ("OPENBLAS_NUM_THREADS=1, pthread OpenBLAS", 1, false),
    ];

    /// <summary>Runs the benchmark and the peer; writes a table, or with <paramref name="json"/> one JSON object per model
    /// per line: <c>name</c>, <c>model</c>, <c>scheme</c>, <c>ours</c> (images/s), <c>peer</c> (images/s or null when
    /// PyTorch is absent or has no such model), <c>ratio</c> (ours/peer or null), <c>peerConfig</c> (the fastest peer
    /// configuration), <c>allocatedBytesPerStep</c>, <c>gcPausePercent</c> (the share of the timed steps' wall time the
    /// garbage collector paused the process: what the remaining per-step allocation costs), <c>peakWorkingSetBytes</c>. With <paramref name="profile"/> the
    /// table is followed by the time per op of one profiled run. Returns 0, or 2 for an unknown model or scheme.</summary>
    public static int Run(bool json, TextWriter output, string? model = null, string? scheme = null, bool profile = false, TextWriter? error = null, bool peer = true)
    {
        error ??= Console.Error;
        List<Job> jobs;
        try { jobs = Jobs(model, scheme); }
        catch (UsageException e)
        {
            error.WriteLine($"binarygrad bench train: {e.Message}");
            return Program.BadInput;
        }
        int peerCalls = peer ? PeerConfigurations.Length * jobs.Where(j => j.PeerArguments is not null).Select(j => j.PeerArguments).Distinct().Count() : 0;
        int rounds = peer ? PeerConfigurations.Length : 1;
        using var progress = StageProgress.OnConsole("bench train", jobs.Count * (2 + rounds * Runs + (profile ? 1 : 0)) + peerCalls);
        var timers = jobs.Select(job => new Timer(job, progress)).ToList();
        // Rounds of ours interleaved with the peer's configurations, the fastest of each side counting: both sides get
        // the same statistic (best of three medians) over the same stretch of time, so a slow phase of the shared
        // machine (2× swings within minutes on the 2-core VMs) hits both instead of whichever ran during it.
        for (int round = 0; round < rounds; round++)
        {
            foreach (Timer timer in timers) timer.TimeRound();
            if (!peer) continue;
            (string config, int threads, bool openMp) = PeerConfigurations[round];
            var seen = new HashSet<string>();
            foreach (Timer timer in timers.Where(t => t.Job.PeerArguments is not null))
            {
                string arguments = KernelThreads.Count.ToString(CultureInfo.InvariantCulture) + timer.Job.PeerArguments;
                if (!seen.Add(arguments)) continue; // the default run measures both float models in one peer call
                progress.Show($"PyTorch{timer.Job.PeerArguments}, {config}");
                Dictionary<string, double> measured = BenchGemmConv.RunPeer("torch_train.py", "torch", arguments, threads, "images_per_s", openMp);
                progress.Complete();
                foreach (Timer t in timers) t.OfferPeer(measured, config);
            }
        }
        var rows = timers.Select(t => t.Result(profile)).ToList();
        progress.Clear();

        if (json)
        {
            foreach (Row row in rows) output.WriteLine(JsonSerializer.Serialize(JsonFields(row)));
            return 0;
        }
        output.WriteLine(Simd.IsaLine);
        output.WriteLine(BenchGemmConv.PeakLine()); // the float backward's ceiling on this machine
        output.WriteLine(peer
            ? $"threads {KernelThreads.Count}, batch {Batch}; ours: the fastest of {PeerConfigurations.Length} rounds, each the median of {Runs} runs after warm-up, " +
              $"interleaved with the peer's rounds: PyTorch at {PeerConfigurations.Length} thread/BLAS configurations, the fastest counting"
            : $"threads {KernelThreads.Count}, batch {Batch}, median of {Runs} runs after warm-up; no peer");
        output.WriteLine($"{"benchmark",-36} {"ours img/s",11} {"peer img/s",11} {"ratio",7} {"alloc B/step",13} {"GC pause",9} {"peak WS MB",11}  peer configuration");
        foreach (Row row in rows)
            output.WriteLine($"{row.Name,-36} {row.Ours,11:F1} {(row.Peer is { } p ? p.ToString("F1", CultureInfo.InvariantCulture) : "n/a"),11} " +
                             $"{(row.Peer is { } q ? (row.Ours / q).ToString("F2", CultureInfo.InvariantCulture) : "n/a"),7} {row.AllocatedBytesPerStep,13:N0} " +
                             $"{row.GcPausePercent.ToString("F2", CultureInfo.InvariantCulture) + " %",9} " +
                             $"{row.PeakWorkingSetBytes / 1e6,11:F0}  {row.PeerConfig ?? "n/a"}");
        foreach (Row row in rows.Where(r => r.Profile is not null))
        {
            output.WriteLine();
            output.WriteLine($"where the time goes in {row.Name} (one profiled run of {row.Profile!.Steps} steps, {row.Profile.StepSeconds * 1e3:F1} ms per step):");
            double accounted = 0;
            foreach ((string op, double seconds, long calls, long bytes) in row.Profile.Ops)
            {
                accounted += seconds;
                output.WriteLine($"  {op,-34} {seconds / row.Profile.Steps * 1e3,9:F2} ms/step {100 * seconds / (row.Profile.StepSeconds * row.Profile.Steps),6:F1} %  " +
                                 $"({calls / row.Profile.Steps} calls/step, {bytes / row.Profile.Steps / 1e6:F2} MB allocated/step)");
            }
            double rest = row.Profile.StepSeconds * row.Profile.Steps - accounted;
            output.WriteLine($"  {"other (optimizer, graph, gradient sums)",-34} {rest / row.Profile.Steps * 1e3,9:F2} ms/step {100 * rest / (row.Profile.StepSeconds * row.Profile.Steps),6:F1} %");
        }
        return 0;
    }

    /// <summary>One model to time: how to build it, its input shape, and the peer's arguments after the thread count
    /// (empty: the default float pair; null: the peer has no such model).</summary>
    private sealed record Job(string Name, string Model, string Scheme, Func<Rng, Module> Build, int[] InputShape, string? PeerArguments);

    internal sealed record Row(string Name, string Model, string Scheme, double Ours, double? Peer, string? PeerConfig, long AllocatedBytesPerStep,
                               double GcPausePercent, long PeakWorkingSetBytes, ProfileResult? Profile);

    /// <summary>One row of <c>--json</c> output (the field names are a contract: scripts read them).</summary>
    internal static Dictionary<string, object?> JsonFields(Row row) => new()
    {
        ["name"] = row.Name, ["model"] = row.Model, ["scheme"] = row.Scheme, ["ours"] = Math.Round(row.Ours, 1),
        ["peer"] = row.Peer is { } p ? Math.Round(p, 1) : null,
        ["ratio"] = row.Peer is { } q ? Math.Round(row.Ours / q, 3) : null,
        ["peerConfig"] = row.PeerConfig,
        ["allocatedBytesPerStep"] = row.AllocatedBytesPerStep,
        ["gcPausePercent"] = Math.Round(row.GcPausePercent, 3),
        ["peakWorkingSetBytes"] = row.PeakWorkingSetBytes,
    };

    internal sealed record ProfileResult(int Steps, double StepSeconds, IReadOnlyList<(string Op, double Seconds, long Calls, long AllocatedBytes)> Ops);

    private static List<Job> Jobs(string? model, string? scheme)
    {
        if (model is null)
        {
            if (scheme is not null and not SchemeChoice.FloatModel) throw new UsageException("--scheme needs --model (the default run times the float MLP and CNN).");
            return
            [
                new Job(MlpName, "mlp", SchemeChoice.FloatModel, rng => Models.Mlp(rng, 784, [512, 512], 10), [Batch, 1, 28, 28], ""),
                new Job(CnnName, "cnn", SchemeChoice.FloatModel, rng => Models.SmallCnn(rng, 1, 10, 28), [Batch, 1, 28, 28], ""),
            ];
        }
        if (!ModelFactory.Names.Contains(model))
            throw new UsageException(ModelFactory.Unknown(model));
        // VGG-Small and the ResNets default to BNN (1W/1A); mlp and cnn default to their float versions
        scheme ??= model is "mlp" or "cnn" ? SchemeChoice.FloatModel : "bnn";
        Binarization.SchemeInfo? resolved = SchemeChoice.ForModel(scheme);
        string dataset = model is "mlp" or "cnn" ? "mnist" : "cifar10";
        Datasets.ImageDataset shape = ExportCommand.DatasetShape(dataset);
        var options = new TrainOptions { Model = model, Scheme = resolved, Dataset = dataset };
        ModelFactory.Create(options, shape, new Rng(0)); // refuses e.g. resnet18 on a shape it cannot take before anything is timed
        string name = model is "mlp" && resolved is null ? MlpName : model is "cnn" && resolved is null ? CnnName : $"{model} {scheme} batch {Batch}";
        // the peer script mirrors the float models and the sign/STE schemes (bnn: 1W/1A, binaryconnect: 1W/32A)
        string? peerArguments = scheme is SchemeChoice.FloatModel or "bnn" or "binaryconnect" ? $" {model} {scheme}" : null;
        return [new Job(name, model, scheme, rng => ModelFactory.Create(options, shape, rng), [Batch, shape.Channels, shape.Height, shape.Width], peerArguments)];
    }

    /// <summary>One training step as the trainer runs it, inside a <see cref="TensorPool"/> step scope; returns the loss.</summary>
    internal static double Step(Module model, Optimizer optimizer, Tensor x, int[] labels)
    {
        using TensorPool.StepScope step = TensorPool.BeginStep();
        Tensor logits = model.Forward(x);
        Tensor loss = Ops.CrossEntropy(logits, labels);
        double value = loss.Item();
        optimizer.ZeroGrad();
        loss.Backward();
        optimizer.Step();
        return value;
    }

    /// <summary>Seeded random MNIST-shaped data: inputs N(0, 1) of shape [128, 1, 28, 28], labels uniform in 0..9.</summary>
    internal static (Tensor X, int[] Labels) RandomBatch(Rng rng) => RandomBatch(rng, [Batch, 1, 28, 28]);

    private static (Tensor X, int[] Labels) RandomBatch(Rng rng, int[] shape)
    {
        Tensor x = Tensor.Normal(shape, rng);
        var labels = new int[shape[0]];
        for (int i = 0; i < labels.Length; i++) labels[i] = rng.NextInt(10);
        return (x, labels);
    }

    /// <summary>One model's training step, built and warmed up once, timed in rounds (<see cref="TimeRound"/>); the
    /// peer's figures are offered to it as they come, the fastest kept.</summary>
    private sealed class Timer
    {
        private readonly StageProgress _progress;
        private readonly Module _model;
        private readonly Optimizer _optimizer;
        private readonly Tensor _x;
        private readonly int[] _labels;
        private readonly int _steps;
        private double _best;
        private long _allocated, _timedSteps;
        private TimeSpan _gcPause;
        private double _timedSeconds;
        private double? _peer;
        private string? _peerConfig;

        public Job Job { get; }

        public Timer(Job job, StageProgress progress)
        {
            (Job, _progress) = (job, progress);
            progress.Show($"{job.Name}: building");
            var rng = new Rng(42);
            _model = job.Build(rng);
            progress.Complete();
            _model.Train();
            _optimizer = new Adam(_model.NamedParameters(), 1e-3);
            (_x, _labels) = RandomBatch(rng, job.InputShape);

            // Warm up for at least WarmupSteps steps and WarmupSeconds: tiered compilation promotes the hot loops to
            // optimized code only after ~30 calls plus a background delay, and a few steps would time unoptimized code.
            // A slow model (seconds per step) stops after WarmupSeconds and at least 3 steps.
            long warm = 0;
            progress.Show($"{job.Name}: warm-up");
            var warmClock = Stopwatch.StartNew();
            for (int i = 0; (i < WarmupSteps && warmClock.Elapsed.TotalSeconds < 4 * WarmupSeconds) || i < 3 || warmClock.Elapsed.TotalSeconds < WarmupSeconds; i++)
            {
                long start = Stopwatch.GetTimestamp();
                Step(_model, _optimizer, _x, _labels);
                warm = Stopwatch.GetTimestamp() - start;
            }
            double stepSeconds = Math.Max(1e-6, (double)warm / Stopwatch.Frequency);
            _steps = (int)Math.Clamp(TargetRunSeconds / stepSeconds, 2, 200);
            progress.Complete();
        }

        /// <summary>One round: the median of <see cref="Runs"/> Stopwatch runs of the chosen number of steps; the
        /// fastest round's images/s is kept. Allocation counts over every timed step.</summary>
        public void TimeRound()
        {
            var times = new double[Runs];
            long allocatedBefore = GC.GetTotalAllocatedBytes(true);
            TimeSpan pauseBefore = GC.GetTotalPauseDuration();
            for (int run = 0; run < Runs; run++)
            {
                _progress.Show(run == 0 ? $"{Job.Name}: timed run 1/{Runs}" : $"{Job.Name}: timed run {run + 1}/{Runs}, {_steps * (double)Batch / times[run - 1]:F0} img/s");
                long start = Stopwatch.GetTimestamp();
                for (int s = 0; s < _steps; s++) Step(_model, _optimizer, _x, _labels);
                times[run] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                _progress.Complete();
            }
            _allocated += GC.GetTotalAllocatedBytes(true) - allocatedBefore;
            _gcPause += GC.GetTotalPauseDuration() - pauseBefore;
            _timedSteps += (long)Runs * _steps;
            _timedSeconds += times.Sum();
            Array.Sort(times);
            _best = Math.Max(_best, _steps * (double)Batch / times[Runs / 2]);
        }

        /// <summary>Keeps the peer's figure for this model from one configuration's run if it is the fastest yet.</summary>
        public void OfferPeer(Dictionary<string, double> measured, string config)
        {
            if (measured.TryGetValue(Job.Name, out double p) && p > (_peer ?? 0)) (_peer, _peerConfig) = (p, config);
        }

        /// <summary>The row, after a profiled run of the same number of steps when <paramref name="profile"/>.</summary>
        public Row Result(bool profile)
        {
            ProfileResult? profiled = null;
            if (profile)
            {
                _progress.Show($"{Job.Name}: profiled run");
                OpProfiler.Reset();
                OpProfiler.Enabled = true;
                long start = Stopwatch.GetTimestamp();
                for (int s = 0; s < _steps; s++) Step(_model, _optimizer, _x, _labels);
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                OpProfiler.Enabled = false;
                profiled = new ProfileResult(_steps, seconds / _steps, OpProfiler.Totals());
                _progress.Complete();
            }
            using var process = Process.GetCurrentProcess();
            return new Row(Job.Name, Job.Model, Job.Scheme, _best, _peer, _peerConfig, _allocated / Math.Max(1, _timedSteps),
                           _timedSeconds > 0 ? 100 * _gcPause.TotalSeconds / _timedSeconds : 0, process.PeakWorkingSet64, profiled);
        }
    }
}
