using BinaryGrad.Autograd;
using BinaryGrad.Kernels;
using BinaryGrad.Layers;
using BinaryGrad.Optimizers;
using NUnit.Framework;

namespace BinaryGrad.Tests.Autograd;

[TestFixture, Explicit("diagnostic: prints allocation per step")]
public class TensorPoolDiagnostics
{
    [TestCase("mlp", 1, true), TestCase("mlp", 1, false), TestCase("cnn", 1, true), TestCase("cnn", 1, false), TestCase("mlp", 2, true), TestCase("cnn", 2, true), TestCase("cnn", 2, false)]
    public void AllocationPerStep(string model, int threads, bool scoped)
    {
        int saved = KernelThreads.Count;
        KernelThreads.Count = threads;
        try
        {
            var rng = new Rng(42);
            Module m = model == "mlp" ? Models.Mlp(rng, 784, [512, 512], 10) : Models.SmallCnn(rng, 1, 10, 28);
            var adam = new Adam(m.NamedParameters(), 1e-3);
            Tensor x = Tensor.Normal([128, 1, 28, 28], rng);
            int[] labels = [.. Enumerable.Range(0, 128).Select(i => i % 10)];
            void Step()
            {
                TensorPool.StepScope scope = scoped ? TensorPool.BeginStep() : default;
                Tensor loss = Ops.CrossEntropy(m.Forward(x), labels);
                loss.Item();
                adam.ZeroGrad();
                loss.Backward();
                adam.Step();
                scope.Dispose();
            }
            for (int i = 0; i < 5; i++) Step();
            using var listener = new AllocationListener();
            long thread0 = GC.GetAllocatedBytesForCurrentThread(), total0 = GC.GetTotalAllocatedBytes(true);
            int steps = model == "mlp" ? 50 : 10;
            for (int i = 0; i < steps; i++) Step();
            long thread = GC.GetAllocatedBytesForCurrentThread() - thread0, total = GC.GetTotalAllocatedBytes(true) - total0;
            TestContext.Out.WriteLine($"{model} threads {threads} scoped {scoped}: this thread {thread / steps:N0} B/step, process {total / steps:N0} B/step");
            foreach (var (type, bytes) in listener.ByType.OrderByDescending(e => e.Value).Take(15))
                TestContext.Out.WriteLine($"   {type}: {bytes / steps:N0} B/step (sampled)");
        }
        finally { KernelThreads.Count = saved; }
    }
}

internal sealed class AllocationListener : System.Diagnostics.Tracing.EventListener
{
    public readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> ByType = new();

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null) return;
        int typeIndex = e.PayloadNames!.IndexOf("TypeName"), amountIndex = e.PayloadNames.IndexOf("AllocationAmount64");
        string type = e.Payload[typeIndex]?.ToString() ?? "?";
        long amount = Convert.ToInt64(e.Payload[amountIndex]);
        ByType.AddOrUpdate(type + " @" + e.OSThreadId, amount, (_, v) => v + amount);
    }
}
