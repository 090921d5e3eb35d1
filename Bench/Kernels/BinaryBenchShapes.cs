using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Bench.Kernels;

/// <summary>The shapes the binary-kernel benchmarks measure, in one place so that reports and reruns agree.</summary>
/// <remarks>Work is counted in binary multiply-accumulates (one ±1 product and its addition = 1 "binary op"; GOPS =
/// 1e9 of them per second), the unit of XNOR-popcount papers. A convolution counts every tap of every window,
/// padded ones included (the float convolution does the same multiplies by zero).</remarks>
public static class BinaryBenchShapes
{
    /// <summary>Words per operand of the popcount comparison: 2048 words = 16 KiB, so both operands stay in L1.</summary>
    public const int PopcountWords = 2048;

    /// <summary>Binary GEMM: C[1024 × 1024] from A [1024 × 4096 bits] and B [1024 × 4096 bits].</summary>
    public static readonly (int M, int N, int K) Gemm = (1024, 1024, 4096);

    /// <summary>A binary dense layer 2048 → 2048 at batch 256: A = activations [256 × 2048 bits], B = weights
    /// [2048 outputs × 2048 bits], fused folded batch norm.</summary>
    public static readonly (int Batch, int Inputs, int Outputs) DenseLayer = (256, 2048, 2048);

    /// <summary>3×3 convolutions, batch 64, stride 1, padding 1: 128 → 128 channels on 16×16, 256 → 256 on 8×8.</summary>
    public static readonly XnorConv2DShape[] Convolutions =
    [
        new(Batch: 64, InChannels: 128, Height: 16, Width: 16, OutChannels: 128, KernelHeight: 3, KernelWidth: 3, Stride: 1, Padding: 1),
        new(Batch: 64, InChannels: 256, Height: 8, Width: 8, OutChannels: 256, KernelHeight: 3, KernelWidth: 3, Stride: 1, Padding: 1),
    ];

    /// <summary>Binary MACs of a GEMM: M·N·K.</summary>
    public static double GemmOps(int m, int n, int k) => (double)m * n * k;

    /// <summary>Binary MACs of a convolution: Batch·OutChannels·OutHeight·OutWidth·InChannels·KernelHeight·KernelWidth.</summary>
    public static double ConvOps(XnorConv2DShape s) =>
        (double)s.Batch * s.OutChannels * s.OutHeight * s.OutWidth * s.InChannels * s.KernelHeight * s.KernelWidth;

    /// <summary>Short label for a convolution shape, used as a benchmark parameter name.</summary>
    public static string Label(XnorConv2DShape s) =>
        $"{s.InChannels}->{s.OutChannels} {s.Height}x{s.Width} k{s.KernelHeight} N{s.Batch}";
}
