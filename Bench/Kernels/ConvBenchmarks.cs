using BenchmarkDotNet.Attributes;
using BinaryGrad.Kernels;

namespace BinaryGrad.Bench.Kernels;

/// <summary>The three reference convolution layers (batch 64, NCHW, stride 1), forward and forward+backward
/// (input and weight/bias gradients), on the best path with <see cref="KernelThreads.Count"/> threads.
/// GFLOP/s = 2·N·C_out·H·W·C_in·kH·kW / time for forward, three times that for forward+backward.
/// Run: <c>dotnet run -c Release --project Bench -- --filter '*ConvBenchmarks*'</c>.</summary>
[MemoryDiagnoser, Config(typeof(InProcessShortRunConfig))]
public class ConvBenchmarks
{
    /// <summary>A reference layer: C_in → C_out on Size×Size with a Kernel×Kernel window and Pad padding.</summary>
    public sealed record Layer(int InChannels, int OutChannels, int Size, int Kernel, int Pad)
    {
        public override string ToString() => $"{Kernel}x{Kernel} {InChannels}->{OutChannels} {Size}x{Size}";
    }

    public static IEnumerable<Layer> Layers =>
    [
        new(128, 128, 16, 3, 1),
        new(64, 64, 32, 3, 1),
        new(1, 32, 28, 5, 2),
    ];

    [ParamsSource(nameof(Layers))]
    public Layer Shape { get; set; } = new(1, 1, 1, 1, 0);

    private Conv2DGeometry _g;
    private float[] _x = [], _w = [], _b = [], _y = [], _dy = [], _dx = [], _dw = [], _db = [];

    [GlobalSetup]
    public void Setup()
    {
        _g = new Conv2DGeometry(64, Shape.InChannels, Shape.Size, Shape.Size, Shape.OutChannels, Shape.Kernel, Shape.Kernel,
            padHeight: Shape.Pad, padWidth: Shape.Pad);
        var random = new Random(1);
        float[] Fill(int length) => Enumerable.Range(0, length).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        (_x, _w, _b, _dy) = (Fill(_g.InputLength), Fill(_g.WeightLength), Fill(_g.OutChannels), Fill(_g.OutputLength));
        (_y, _dx, _dw, _db) = (new float[_g.OutputLength], new float[_g.InputLength], new float[_g.WeightLength], new float[_g.OutChannels]);
    }

    [Benchmark(Baseline = true)]
    public void Forward() => Conv2DKernels.Forward(_g, _x, _w, _b, _y);

    [Benchmark]
    public void ForwardBackward()
    {
        Conv2DKernels.Forward(_g, _x, _w, _b, _y);
        Array.Clear(_dx);
        Array.Clear(_dw);
        Array.Clear(_db);
        Conv2DKernels.BackwardInput(_g, _dy, _w, _dx);
        Conv2DKernels.BackwardWeight(_g, _x, _dy, _dw, _db);
    }
}
