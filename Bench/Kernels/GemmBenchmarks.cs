using BenchmarkDotNet.Attributes;
using BinaryGrad.Kernels;

namespace BinaryGrad.Bench.Kernels;

/// <summary>Square SGEMM C = A·B at n = 64 … 2048 on the machine's best path and on forced Vector256, with
/// <see cref="KernelThreads.Count"/> threads. GFLOP/s = 2·n³ / time. The memory diagnoser shows that steady-state
/// calls allocate only the fork/join bookkeeping (packing buffers are per thread and reused).
/// Run: <c>dotnet run -c Release --project Bench -- --filter '*GemmBenchmarks*'</c>.</summary>
[MemoryDiagnoser, Config(typeof(InProcessShortRunConfig))]
public class GemmBenchmarks
{
    private float[] _a = [], _b = [], _c = [];

    [Params(64, 128, 256, 512, 1024, 2048)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(N);
        _a = Enumerable.Range(0, N * N).Select(_ => (float)random.NextDouble()).ToArray();
        _b = Enumerable.Range(0, N * N).Select(_ => (float)random.NextDouble()).ToArray();
        _c = new float[N * N];
    }

    [Benchmark(Baseline = true)]
    public void BestPath() => Gemm.Multiply(false, false, N, N, N, 1f, _a, N, _b, N, 0f, _c, N);

    [Benchmark]
    public void Vector256Path()
    {
        using (Simd.Force(SimdPath.Vector256)) Gemm.Multiply(false, false, N, N, N, 1f, _a, N, _b, N, 0f, _c, N);
    }

    [Benchmark]
    public void BestPathTransposedB() => Gemm.Multiply(false, true, N, N, N, 1f, _a, N, _b, N, 0f, _c, N);
}

/// <summary>Every path against the triple-loop <c>Gemm.Reference</c> (the baseline) on sizes where the reference
/// finishes quickly: the direct path (64), and the blocked driver (128, 256) on Scalar, Vector256 and best.</summary>
[Config(typeof(InProcessShortRunConfig))]
public class GemmPathBenchmarks
{
    private float[] _a = [], _b = [], _c = [];

    [Params(64, 128, 256)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(N);
        _a = Enumerable.Range(0, N * N).Select(_ => (float)random.NextDouble()).ToArray();
        _b = Enumerable.Range(0, N * N).Select(_ => (float)random.NextDouble()).ToArray();
        _c = new float[N * N];
    }

    [Benchmark(Baseline = true)]
    public void Reference() => Gemm.Reference(false, false, N, N, N, 1f, _a, N, _b, N, 0f, _c, N);

    [Benchmark]
    public void Scalar() => Run(SimdPath.Scalar);

    [Benchmark]
    public void Vector256() => Run(SimdPath.Vector256);

    [Benchmark]
    public void Best() => Run(Simd.Best);

    private void Run(SimdPath path)
    {
        using (Simd.Force(path)) Gemm.Multiply(false, false, N, N, N, 1f, _a, N, _b, N, 0f, _c, N);
    }
}

/// <summary>Where the direct (unpacked) path stops paying: direct versus blocked driver, one thread, best path,
/// around the cut-over size <c>Gemm.DirectPathMaxWork</c>.</summary>
[Config(typeof(InProcessShortRunConfig))]
public class GemmDirectPathBenchmarks
{
    private float[] _a = [], _b = [], _c = [];

    [Params(8, 16, 24, 32, 48, 64)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(N);
        _a = Enumerable.Range(0, N * N).Select(_ => (float)random.NextDouble()).ToArray();
        _b = Enumerable.Range(0, N * N).Select(_ => (float)random.NextDouble()).ToArray();
        _c = new float[N * N];
    }

    [Benchmark(Baseline = true)]
    public void Direct() => Gemm.MultiplyDirect(Simd.Best, false, false, N, N, N, 1f, _a, N, _b, N, 0f, _c, N);

    [Benchmark]
    public void Blocked() => Gemm.MultiplyBlocked(Simd.Best, 1, false, false, N, N, N, 1f, _a, N, _b, N, 0f, _c, N);
}
