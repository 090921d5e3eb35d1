using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;
using BinaryGrad.Cli.Progress;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad bench kernels [--json]</c>: the XNOR-popcount kernels against our float kernels on the same
/// layer, and PyTorch float32 when it is installed, on four BNN shapes.</summary>
/// <remarks>
/// Shapes: binary GEMM 1024×1024 with K = 4096 bits; 3×3 convolution 128→128 on 16×16 and 256→256 on 8×8 (batch 64,
/// padding 1); a BNN MLP layer 2048→2048 at batch 256. The binary time is the kernel on packed operands with integer
/// output (weights are packed once per weight change; <c>packMs</c> reports packing the float input separately).
/// The float time is <see cref="Gemm.Multiply(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/>
/// or <see cref="Conv2DKernels.Forward(in Conv2DGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>
/// on the same shape. GOPS = binary MACs per second / 10⁹ (one MAC = one ±1 multiply-accumulate = one bit of
/// XNOR-popcount). Times are medians after two warm-up calls; ours and the peer alternate shape by shape so both
/// see the same machine load.
/// </remarks>
public static class BenchKernelsCommand
{
    private const string PeerScript = "torch_binary_shapes.py";

    private sealed record Shape(string Name, bool IsConv, int M, int N, int K, int Batch, int Channels, int OutChannels, int Size)
    {
        public long Macs => IsConv ? (long)Batch * OutChannels * Size * Size * Channels * 9 : (long)M * N * K;
    }

    private static readonly Shape[] Shapes =
    [
        new("gemm_1024x1024_k4096", false, 1024, 1024, 4096, 0, 0, 0, 0),
        new("conv3x3_128_16x16", true, 0, 0, 0, 64, 128, 128, 16),
        new("conv3x3_256_8x8", true, 0, 0, 0, 64, 256, 256, 8),
        new("mlp_2048x2048_b256", false, 256, 2048, 2048, 0, 0, 0, 0),
    ];

    /// <summary>Runs every shape and prints a table (or one JSON object per shape with <paramref name="json"/>).</summary>
    public static int Run(bool json, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!json) output.WriteLine(Simd.IsaLine);
        if (!json) output.WriteLine($"{"shape",-22} {"binary ms",10} {"GOPS",8} {"pack ms",8} {"float ms",10} {"torch ms",10} {"vs float",9} {"vs torch",9}");
        using var progress = StageProgress.OnConsole("bench kernels", 2 * Shapes.Length);
        for (int index = 0; index < Shapes.Length; index++)
        {
            Shape s = Shapes[index];
            progress.Show($"{s.Name}: binary, pack and float kernels");
            (double binary, double pack, double floatMs) = s.IsConv ? Conv(s) : Dense(s);
            progress.Complete();
            progress.Show($"{s.Name}: PyTorch");
            Dictionary<string, double> peer = BenchGemmConv.RunPeer(PeerScript, "torch",
                $"{KernelThreads.Count.ToString(CultureInfo.InvariantCulture)} {index.ToString(CultureInfo.InvariantCulture)}", openBlasThreads: 1, valueKey: "ms");
            progress.Complete();
            progress.Clear();
            double? torch = peer.TryGetValue(s.Name, out double t) ? t : null;
            double gops = s.Macs / (binary / 1e3) / 1e9;
            if (json)
                output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["name"] = s.Name, ["binaryMs"] = Math.Round(binary, 3), ["binaryGops"] = Math.Round(gops, 1), ["packMs"] = Math.Round(pack, 3),
                    ["floatMs"] = Math.Round(floatMs, 3), ["torchMs"] = torch is { } tm ? Math.Round(tm, 3) : null,
                    ["speedup"] = Math.Round(floatMs / binary, 2), ["speedupVsTorch"] = torch is { } tv ? Math.Round(tv / binary, 2) : null,
                    ["isa"] = Simd.IsaLine,
                }));
            else
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{s.Name,-22} {binary,10:F2} {gops,8:F0} {pack,8:F2} {floatMs,10:F2} {(torch is { } a ? a.ToString("F2", CultureInfo.InvariantCulture) : "n/a"),10} {floatMs / binary,8:F1}× {(torch is { } b ? (b / binary).ToString("F1", CultureInfo.InvariantCulture) + "×" : "n/a"),9}"));
        }
        return 0;
    }

    private static (double Binary, double Pack, double Float) Dense(Shape s)
    {
        var random = new Random(s.K);
        float[] a = RandomArray(random, s.M * s.K), b = RandomArray(random, s.N * s.K), c = new float[s.M * s.N];
        int stride = BitPack.WordsPerRow(s.K);
        ulong[] pa = new ulong[(long)s.M * stride], pb = new ulong[(long)s.N * stride];
        BitPack.PackRows(b, pb, s.N, s.K);
        int[] dots = new int[s.M * s.N];
        double pack = MedianMs(() => BitPack.PackRows(a, pa, s.M, s.K), s.Macs / 64.0);
        double binary = MedianMs(() => BinaryGemm.Multiply(pa, pb, dots, s.M, s.N, s.K), s.Macs / 32.0);
        double floatMs = MedianMs(() => Gemm.Multiply(false, true, s.M, s.N, s.K, 1f, a, s.K, b, s.K, 0f, c, s.N), 2.0 * s.Macs);
        return (binary, pack, floatMs);
    }

    private static (double Binary, double Pack, double Float) Conv(Shape s)
    {
        var random = new Random(s.Channels);
        var g = new Conv2DGeometry(s.Batch, s.Channels, s.Size, s.Size, s.OutChannels, 3, 3, 1, 1, 1, 1);
        float[] x = RandomArray(random, g.InputLength), w = RandomArray(random, g.WeightLength), y = new float[g.OutputLength];
        var shape = new XnorConv2DShape(s.Batch, s.Channels, s.Size, s.Size, s.OutChannels, 3, 3, 1, 1);
        ulong[] px = new ulong[shape.InputWords], pw = new ulong[(long)s.OutChannels * shape.WeightWordsPerFilter];
        XnorConv2D.PackWeights(w, pw, shape);
        int[] dots = new int[shape.OutputCount];
        double pack = MedianMs(() => BitPack.PackChannelsLast(x, px, s.Batch, s.Channels, s.Size, s.Size), s.Macs / 64.0);
        double binary = MedianMs(() => XnorConv2D.Forward(px, pw, dots, shape), s.Macs / 32.0);
        double floatMs = MedianMs(() => Conv2DKernels.Forward(g, x, w, default, y), 2.0 * s.Macs);
        return (binary, pack, floatMs);
    }

    /// <summary>Median milliseconds of <paramref name="body"/> (see <see cref="BenchGemmConv.MedianSeconds"/>).</summary>
    private static double MedianMs(Action body, double work) => 1000 * BenchGemmConv.MedianSeconds(body, work);

    private static float[] RandomArray(Random random, int length) => BenchGemmConv.RandomArray(random, length);
}
