using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using BinaryGrad.Autograd;
using BinaryGrad.Kernels;
using BinaryGrad.Layers;
using BinaryGrad.Optimizers;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad bench train [--json]</c>: times full training steps (forward, cross-entropy, backward, Adam
/// step) of the MLP 784-512-512-10 and the small CNN at batch 128 on seeded random MNIST-shaped data, and in the same
/// run the identical PyTorch models (<c>Bench/peers/torch_train.py</c>), and reports images/s, the ratio ours/peer and
/// our managed allocation per step.</summary>
/// <remarks>Timing: warm-up steps, then the median of <see cref="Runs"/> Stopwatch runs of N steps each (N chosen from
/// the warm-up so that one run takes about <see cref="TargetRunSeconds"/>). Each step is what the trainer does:
/// forward, cross-entropy, <c>loss.Item()</c>, zero-grad, backward, Adam step, in a <see cref="TensorPool"/> step scope
/// (so after warm-up the step's tensors reuse pooled storage). Allocation: the process-wide
/// <see cref="GC.GetTotalAllocatedBytes(bool)"/> delta over all timed steps divided by their number, so allocations
/// on kernel worker threads count too. The peer runs with the environment <see cref="BenchGemmConv"/> sets for
/// PyTorch (OPENBLAS_NUM_THREADS = 1, <c>torch.set_num_threads(</c><see cref="KernelThreads.Count"/><c>)</c>,
/// OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed for that command only).</remarks>
public static class BenchTrain
{
    /// <summary>Batch size of every step (as in the PyTorch reference figures).</summary>
    public const int Batch = 128;

    private const int Runs = 5;
    private const int WarmupSteps = 40;
    private const double WarmupSeconds = 8.0;
    private const double TargetRunSeconds = 0.5;

    internal const string MlpName = "mlp 784-512-512-10 batch 128";
    internal const string CnnName = "cnn conv32-conv64 batch 128";

    /// <summary>Runs both models and the peer; writes a table, or with <paramref name="json"/> one JSON object per model
    /// per line: <c>name</c>, <c>ours</c> (images/s), <c>peer</c> (images/s or null when PyTorch is absent),
    /// <c>ratio</c> (ours/peer or null), <c>allocatedBytesPerStep</c>. Returns 0.</summary>
    public static int Run(bool json, TextWriter output)
    {
        var rows = new List<Row>
        {
            Measure(MlpName, rng => Models.Mlp(rng, 784, [512, 512], 10)),
            Measure(CnnName, rng => Models.SmallCnn(rng, 1, 10, 28)),
        };
        Dictionary<string, double> peer = BenchGemmConv.RunPeer("torch_train.py", "torch",
            KernelThreads.Count.ToString(CultureInfo.InvariantCulture), openBlasThreads: 1, valueKey: "images_per_s");
        rows = rows.Select(r => r with { Peer = peer.TryGetValue(r.Name, out double p) ? p : null }).ToList();

        if (json)
        {
            foreach (Row row in rows)
                output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["name"] = row.Name, ["ours"] = Math.Round(row.Ours, 1),
                    ["peer"] = row.Peer is { } p ? Math.Round(p, 1) : null,
                    ["ratio"] = row.Peer is { } q ? Math.Round(row.Ours / q, 3) : null,
                    ["allocatedBytesPerStep"] = row.AllocatedBytesPerStep,
                }));
            return 0;
        }
        output.WriteLine(Simd.IsaLine);
        output.WriteLine($"threads {KernelThreads.Count}, batch {Batch}, median of {Runs} runs after warm-up");
        output.WriteLine($"{"benchmark",-30} {"ours img/s",11} {"peer img/s",11} {"ratio",7} {"alloc B/step",14}");
        foreach (Row row in rows)
            output.WriteLine($"{row.Name,-30} {row.Ours,11:F0} {(row.Peer is { } p ? p.ToString("F0", CultureInfo.InvariantCulture) : "n/a"),11} " +
                             $"{(row.Peer is { } q ? (row.Ours / q).ToString("F2", CultureInfo.InvariantCulture) : "n/a"),7} {row.AllocatedBytesPerStep,14:N0}");
        return 0;
    }

    private sealed record Row(string Name, double Ours, double? Peer, long AllocatedBytesPerStep);

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
    internal static (Tensor X, int[] Labels) RandomBatch(Rng rng)
    {
        Tensor x = Tensor.Normal([Batch, 1, 28, 28], rng);
        var labels = new int[Batch];
        for (int i = 0; i < Batch; i++) labels[i] = rng.NextInt(10);
        return (x, labels);
    }

    private static Row Measure(string name, Func<Rng, Module> build)
    {
        var rng = new Rng(42);
        Module model = build(rng);
        model.Train();
        var optimizer = new Adam(model.NamedParameters(), 1e-3);
        (Tensor x, int[] labels) = RandomBatch(rng);

        // Warm up for at least WarmupSteps steps and WarmupSeconds: tiered compilation promotes the hot loops to
        // optimized code only after ~30 calls plus a background delay, and a few steps would time unoptimized code.
        long warm = 0;
        var warmClock = Stopwatch.StartNew();
        for (int i = 0; i < WarmupSteps || warmClock.Elapsed.TotalSeconds < WarmupSeconds; i++)
        {
            long start = Stopwatch.GetTimestamp();
            Step(model, optimizer, x, labels);
            warm = Stopwatch.GetTimestamp() - start;
        }
        double stepSeconds = Math.Max(1e-6, (double)warm / Stopwatch.Frequency);
        int steps = (int)Math.Clamp(TargetRunSeconds / stepSeconds, 3, 200);

        var times = new double[Runs];
        long allocatedBefore = GC.GetTotalAllocatedBytes(true);
        for (int run = 0; run < Runs; run++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int s = 0; s < steps; s++) Step(model, optimizer, x, labels);
            times[run] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        long allocated = GC.GetTotalAllocatedBytes(true) - allocatedBefore;
        Array.Sort(times);
        return new Row(name, steps * (double)Batch / times[Runs / 2], null, allocated / ((long)Runs * steps));
    }
}
