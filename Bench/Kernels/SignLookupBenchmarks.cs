using BenchmarkDotNet.Attributes;
using BinaryGrad.Kernels;

namespace BinaryGrad.Bench.Kernels;

/// <summary>The backward of a binary convolution (<see cref="Conv2DKernels.BackwardOfSign"/>: dx and dW of conv(sign x, W))
/// on VGG-Small's binary layers, batch 32, by table look-up (filters ±1) against the multiply-add kernels (the same filters
/// times 2: not ±1, so the look-up declines and the stacked multiply-adds run the same products). Both products hold
/// 2·N·C_out·C_in·9·H·W multiply-adds; MAC/s = that / time.
/// Run: <c>dotnet run -c Release --project Bench -- --filter '*SignLookupBenchmarks*'</c>.</summary>
[MemoryDiagnoser, Config(typeof(InProcessShortRunConfig))]
public class SignLookupBenchmarks
{
    /// <summary>A VGG-Small binary layer: C_in → C_out on Size×Size, 3×3, padding 1.</summary>
    public sealed record Layer(int InChannels, int OutChannels, int Size)
    {
        public override string ToString() => $"3x3 {InChannels}->{OutChannels} {Size}x{Size}";
    }

    public static IEnumerable<Layer> Layers => [new(128, 128, 32), new(256, 256, 16), new(512, 512, 8)];

    [ParamsSource(nameof(Layers))]
    public Layer Shape { get; set; } = new(128, 128, 8);

    private Conv2DGeometry _g;
    private float[] _x = [], _dy = [], _signs = [], _doubled = [], _dx = [], _dw = [];

    [GlobalSetup]
    public void Setup()
    {
        _g = new Conv2DGeometry(32, Shape.InChannels, Shape.Size, Shape.Size, Shape.OutChannels, 3, 3, padHeight: 1, padWidth: 1);
        var random = new Random(1);
        float[] Fill(int length) => Enumerable.Range(0, length).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        (_x, _dy) = (Fill(_g.InputLength), Fill(_g.OutputLength));
        _signs = Enumerable.Range(0, _g.WeightLength).Select(_ => random.Next(2) * 2 - 1f).ToArray();
        _doubled = _signs.Select(v => 2 * v).ToArray();
        (_dx, _dw) = (new float[_g.InputLength], new float[_g.WeightLength]);
    }

    [Benchmark(Baseline = true)]
    public void MultiplyAdd() => Conv2DKernels.BackwardOfSign(_g, _x, _dy, _doubled, 1f, _dx, _dw);

    [Benchmark]
    public void Lookup() => Conv2DKernels.BackwardOfSign(_g, _x, _dy, _signs, 1f, _dx, _dw);

    /// <summary>The look-up input gradient alone (half the multiply-adds).</summary>
    [Benchmark]
    public void LookupInputGradient() => Conv2DKernels.BackwardOfSign(_g, _x, _dy, _signs, 1f, _dx, []);

    /// <summary>The look-up weight gradient alone (half the multiply-adds).</summary>
    [Benchmark]
    public void LookupWeightGradient() => Conv2DKernels.BackwardOfSign(_g, _x, _dy, _signs, 1f, [], _dw);
}

/// <summary>The look-up loop alone, one thread: 16 tables built from 64 rows of 32 floats, then 252 rows of sign
/// patterns each adding one entry per table, over 1 024 groups (4 096 × 32 float operand, 252 × 4 096 ±1 operand):
/// 252·4 096·32 multiply-adds' worth per call. Compare its MAC/s with the FMA peak that <c>binarygrad bench</c> prints
/// (GFLOP/s / 2). Run: <c>dotnet run -c Release --project Bench -- --filter '*SignLookupLoopBenchmarks*'</c>.</summary>
[Config(typeof(InProcessShortRunConfig))]
public unsafe class SignLookupLoopBenchmarks
{
    private const int Rows = 252, Groups = 1024;
    private float[] _rows = [], _tables = [], _output = [];
    private byte[] _patterns = [];

    [Params(SimdPath.Vector256, SimdPath.Vector512)]
    public SimdPath Path { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _rows = Enumerable.Range(0, 4 * Groups * SignLookup.Width).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        _patterns = Enumerable.Range(0, Rows * Groups).Select(_ => (byte)random.Next(16)).ToArray();
        _tables = new float[SignLookup.BlockGroups * SignLookup.TableLength + 16];
        _output = new float[Rows * SignLookup.Width + 16];
    }

    [Benchmark]
    public void BuildAndLookUp()
    {
        fixed (float* f = _rows, t = _tables, o = _output)
        fixed (byte* p = _patterns)
        {
            float* tables = (float*)(((nint)t + 63) & ~(nint)63), output = (float*)(((nint)o + 63) & ~(nint)63);
            for (int block = 0; block < Groups; block += SignLookup.BlockGroups)
            {
                for (int i = 0; i < SignLookup.BlockGroups; i++)
                {
                    float* four = f + 4 * (block + i) * SignLookup.Width;
                    SignLookup.Build(Path, four, four + 32, four + 64, four + 96, tables + i * SignLookup.TableLength);
                }
                SignLookup.Accumulate(Path, tables, SignLookup.BlockGroups, p + block, Groups, output, SignLookup.Width, Rows, fromZero: block == 0);
            }
        }
    }
}
