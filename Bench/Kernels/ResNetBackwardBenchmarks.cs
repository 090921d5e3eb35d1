using BenchmarkDotNet.Attributes;
using BinaryGrad.Kernels;

namespace BinaryGrad.Bench.Kernels;

/// <summary>The backward of ResNet-20's binary 3×3 convolutions (<c>Conv2DKernels.BackwardOfSign</c>: dx and dW of
/// conv(sign x, W) with ±1 filters), batch 128 as in training, per layer shape: where the 1W/1A step's backward time
/// goes. Each layer holds N·C_out·C_in·9·H_out·W_out multiply-adds per product; MAC/s = that / time.
/// Run: <c>dotnet run -c Release --project Bench -- --filter '*ResNetBackwardBenchmarks*'</c>.</summary>
[MemoryDiagnoser, Config(typeof(InProcessShortRunConfig))]
public class ResNetBackwardBenchmarks
{
    /// <summary>A binary layer: C_in → C_out on Size×Size input, stride 1 or 2, 3×3, padding 1.</summary>
    public sealed record Layer(int InChannels, int OutChannels, int Size, int Stride)
    {
        public override string ToString() => $"3x3 {InChannels}->{OutChannels} {Size}x{Size} s{Stride}";
    }

    public static IEnumerable<Layer> Layers => [new(16, 16, 32, 1), new(16, 32, 32, 2), new(32, 32, 16, 1), new(32, 64, 16, 2), new(64, 64, 8, 1)];

    [ParamsSource(nameof(Layers))]
    public Layer Shape { get; set; } = new(16, 16, 8, 1);

    private Conv2DGeometry _g;
    private float[] _x = [], _dy = [], _signs = [], _dx = [], _dw = [];

    [GlobalSetup]
    public void Setup()
    {
        _g = new Conv2DGeometry(128, Shape.InChannels, Shape.Size, Shape.Size, Shape.OutChannels, 3, 3, Shape.Stride, Shape.Stride, 1, 1);
        var random = new Random(1);
        float[] Fill(int length) => Enumerable.Range(0, length).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        (_x, _dy) = (Fill(_g.InputLength), Fill(_g.OutputLength));
        _signs = Enumerable.Range(0, _g.WeightLength).Select(_ => random.Next(2) * 2 - 1f).ToArray();
        (_dx, _dw) = (new float[_g.InputLength], new float[_g.WeightLength]);
    }

    [Benchmark(Baseline = true)]
    public void Both() => Conv2DKernels.BackwardOfSign(_g, _x, _dy, _signs, 1f, _dx, _dw);

    [Benchmark]
    public void InputGradient() => Conv2DKernels.BackwardOfSign(_g, _x, _dy, _signs, 1f, _dx, []);

    [Benchmark]
    public void WeightGradient() => Conv2DKernels.BackwardOfSign(_g, _x, _dy, _signs, 1f, [], _dw);
}
