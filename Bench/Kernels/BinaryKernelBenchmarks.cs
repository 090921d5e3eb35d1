using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Bench.Kernels;

/// <summary>Paths worth timing on this machine: the ones the hardware accelerates (software-emulated Vector512 is
/// exact but orders of magnitude slower, so it is left to the tests).</summary>
internal static class AcceleratedPaths
{
    public static IEnumerable<SimdPath> All()
    {
        yield return SimdPath.Scalar;
        if (Simd.Accelerates(SimdPath.Vector256)) yield return SimdPath.Vector256;
        if (Simd.Accelerates(SimdPath.Vector512)) yield return SimdPath.Vector512;
    }
}

/// <summary>The ways of counting <c>Σ popcount(a XOR b)</c> over two 16 KiB operands (L1-resident), one core.
/// <c>dotnet run -c Release --project Bench -- --filter '*PopcountMethods*'</c></summary>
[MedianColumn, MinColumn]
public class PopcountMethodsBenchmarks
{
    private readonly ulong[] _a = new ulong[BinaryBenchShapes.PopcountWords], _b = new ulong[BinaryBenchShapes.PopcountWords];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        for (int i = 0; i < _a.Length; i++) (_a[i], _b[i]) = ((ulong)random.NextInt64(), (ulong)random.NextInt64());
        Console.WriteLine(Simd.IsaLine);
    }

    [Benchmark(Baseline = true)] public long BitOperationsPopCount() => BitCount.MismatchesReference(_a, _b);
    [Benchmark] public long PopcntX64() => BitCount.MismatchesPopcnt(_a, _b);
    [Benchmark] public long Vector256Swar() => BitCount.MismatchesVector256Swar(_a, _b);
    [Benchmark] public long Vector256NibbleLookup() => BitCount.MismatchesVector256Lookup(_a, _b);
    [Benchmark] public long Vector256HarleySeal() => BitCount.MismatchesVector256HarleySeal(_a, _b);

    /// <summary>Meaningful only where Vector512 is accelerated; elsewhere it times the software emulation.</summary>
    [Benchmark] public long Vector512HarleySeal() => BitCount.MismatchesVector512HarleySeal(_a, _b);
}

/// <summary>Binary GEMM 1024 × 1024, K = 4096 bits, int output, per accelerated path and thread count.</summary>
[MedianColumn, MinColumn]
public class BinaryGemmBenchmarks
{
    private ulong[] _a = [], _b = [];
    private int[] _c = [];
    private IDisposable? _path;
    private int _savedThreads;

    public static IEnumerable<SimdPath> Paths() => AcceleratedPaths.All();

    [ParamsSource(nameof(Paths))] public SimdPath Path { get; set; }
    [Params(1, 2)] public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (int m, int n, int k) = BinaryBenchShapes.Gemm;
        _a = RandomPacked(m, k, seed: 1);
        _b = RandomPacked(n, k, seed: 2);
        _c = new int[m * n];
        _path = Simd.Force(Path);
        _savedThreads = KernelThreads.Count;
        KernelThreads.Count = Threads;
        Console.WriteLine(Simd.IsaLine);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _path?.Dispose();
        KernelThreads.Count = _savedThreads;
    }

    [Benchmark]
    public void Multiply()
    {
        (int m, int n, int k) = BinaryBenchShapes.Gemm;
        BinaryGemm.Multiply(_a, _b, _c, m, n, k);
    }

    internal static ulong[] RandomPacked(int rows, int bits, int seed)
    {
        var random = new Random(seed);
        float[] x = new float[rows * bits];
        for (int i = 0; i < x.Length; i++) x[i] = random.NextSingle() - 0.5f;
        ulong[] packed = new ulong[rows * BitPack.WordsPerRow(bits)];
        BitPack.PackRows(x, packed, rows, bits);
        return packed;
    }
}

/// <summary>A binary dense layer 2048 → 2048 at batch 256 with folded batch norm: GEMM with the fused float
/// epilogue, and the same preceded by packing the float activations (the layer as a network runs it).</summary>
[MedianColumn, MinColumn]
public class BinaryDenseLayerBenchmarks
{
    private float[] _input = [], _output = [], _scale = [], _bias = [];
    private ulong[] _packedInput = [], _weights = [];
    private IDisposable? _path;

    public static IEnumerable<SimdPath> Paths() => AcceleratedPaths.All();

    [ParamsSource(nameof(Paths))] public SimdPath Path { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (int batch, int inputs, int outputs) = BinaryBenchShapes.DenseLayer;
        var random = new Random(3);
        _input = Enumerable.Range(0, batch * inputs).Select(_ => random.NextSingle() - 0.5f).ToArray();
        _packedInput = new ulong[batch * BitPack.WordsPerRow(inputs)];
        BitPack.PackRows(_input, _packedInput, batch, inputs);
        _weights = BinaryGemmBenchmarks.RandomPacked(outputs, inputs, seed: 4);
        _scale = Enumerable.Range(0, outputs).Select(_ => random.NextSingle() + 0.5f).ToArray();
        _bias = Enumerable.Range(0, outputs).Select(_ => random.NextSingle() - 0.5f).ToArray();
        _output = new float[batch * outputs];
        _path = Simd.Force(Path);
        Console.WriteLine(Simd.IsaLine);
    }

    [GlobalCleanup] public void Cleanup() => _path?.Dispose();

    [Benchmark]
    public void FusedGemm()
    {
        (int batch, int inputs, int outputs) = BinaryBenchShapes.DenseLayer;
        BinaryGemm.Multiply(_packedInput, _weights, _output, batch, outputs, inputs, _scale, _bias);
    }

    [Benchmark]
    public void PackThenFusedGemm()
    {
        (int batch, int inputs, int outputs) = BinaryBenchShapes.DenseLayer;
        BitPack.PackRows(_input, _packedInput, batch, inputs);
        BinaryGemm.Multiply(_packedInput, _weights, _output, batch, outputs, inputs, _scale, _bias);
    }
}

/// <summary>Binary 3×3 convolutions (batch 64, padding 1) with fused folded batch norm: float NCHW output, and
/// packed-sign channels-last output (the next binary layer's input).</summary>
[MedianColumn, MinColumn]
public class XnorConv2DBenchmarks
{
    private ulong[] _input = [], _weights = [], _packedOutput = [];
    private float[] _output = [], _scale = [], _bias = [];
    private XnorConv2DShape _shape;
    private IDisposable? _path;

    public static IEnumerable<string> Shapes() => BinaryBenchShapes.Convolutions.Select(BinaryBenchShapes.Label);

    [ParamsSource(nameof(Shapes))] public string Shape { get; set; } = "";
    public static IEnumerable<SimdPath> Paths() => AcceleratedPaths.All();

    [ParamsSource(nameof(Paths))] public SimdPath Path { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _shape = BinaryBenchShapes.Convolutions.Single(s => BinaryBenchShapes.Label(s) == Shape);
        XnorConv2DShape s = _shape;
        var random = new Random(5);
        float[] x = Enumerable.Range(0, s.Batch * s.InChannels * s.Height * s.Width).Select(_ => random.NextSingle() - 0.5f).ToArray();
        float[] w = Enumerable.Range(0, s.OutChannels * s.InChannels * s.KernelHeight * s.KernelWidth).Select(_ => random.NextSingle() - 0.5f).ToArray();
        _input = new ulong[s.InputWords];
        BitPack.PackChannelsLast(x, _input, s.Batch, s.InChannels, s.Height, s.Width);
        _weights = new ulong[s.OutChannels * s.WeightWordsPerFilter];
        XnorConv2D.PackWeights(w, _weights, s);
        _scale = Enumerable.Range(0, s.OutChannels).Select(_ => random.NextSingle() + 0.5f).ToArray();
        _bias = Enumerable.Range(0, s.OutChannels).Select(_ => random.NextSingle() - 0.5f).ToArray();
        _output = new float[s.OutputCount];
        _packedOutput = new ulong[s.PackedOutputWords];
        _path = Simd.Force(Path);
        Console.WriteLine(Simd.IsaLine);
    }

    [GlobalCleanup] public void Cleanup() => _path?.Dispose();

    [Benchmark] public void FusedBatchNormFloat() => XnorConv2D.Forward(_input, _weights, _output, _shape, _scale, _bias);

    [Benchmark] public void FusedBatchNormPackedSign() => XnorConv2D.ForwardPackedSign(_input, _weights, _packedOutput, _shape, _scale, _bias);
}
