using BenchmarkDotNet.Attributes;
using BinaryGrad.Kernels;

namespace BinaryGrad.Bench.Kernels;

/// <summary>The float weight gradient of VGG-Small's 3×3 layers (<c>Conv2DKernels.BackwardWeight</c>, batch 32,
/// two threads) by Winograd's F(3×3, 2×2) against the direct output-lanes kernel. Both compute
/// N·C_out·C_in·9·H·W multiply-adds' worth; Winograd spends 16/36 of them plus its transforms.
/// Run: <c>dotnet run -c Release --project Bench -- --filter '*WinogradBenchmarks*'</c>.</summary>
[MemoryDiagnoser, Config(typeof(InProcessShortRunConfig))]
public class WinogradBenchmarks
{
    public static IEnumerable<SignLookupBenchmarks.Layer> Layers =>
        [new(128, 128, 32), new(256, 256, 16), new(512, 512, 8), new(32, 32, 16), new(64, 64, 8), new(1, 32, 28), new(32, 64, 14), new(3, 128, 32)];

    [ParamsSource(nameof(Layers))]
    public SignLookupBenchmarks.Layer Shape { get; set; } = new(128, 128, 8);

    [Params(false, true)]
    public bool Winograd { get; set; }

    private Conv2DGeometry _g;
    private float[] _x = [], _dy = [], _dw = [], _db = [];

    [GlobalSetup]
    public void Setup()
    {
        _g = new Conv2DGeometry(32, Shape.InChannels, Shape.Size, Shape.Size, Shape.OutChannels, 3, 3, padHeight: 1, padWidth: 1);
        var random = new Random(1);
        float[] Fill(int length) => Enumerable.Range(0, length).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        (_x, _dy) = (Fill(_g.InputLength), Fill(_g.OutputLength));
        (_dw, _db) = (new float[_g.WeightLength], []);
        StackedConv3x3.WinogradEnabled = Winograd;
    }

    [GlobalCleanup]
    public void Cleanup() => StackedConv3x3.WinogradEnabled = true;

    [Benchmark]
    public void WeightGradient() => Conv2DKernels.BackwardWeight(_g, _x, _dy, _dw, _db);
}
