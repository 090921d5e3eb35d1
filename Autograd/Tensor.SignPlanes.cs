using System.Runtime.InteropServices;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Autograd;

public sealed partial class Tensor
{
    /// <summary>The signs of this tensor's values packed plane by plane ([N][C][<see cref="BitPack.WordsPerPlane"/>(H·W)]
    /// words, bit = value ≥ 0), kept in a float64 tensor of that many elements by the op that wrote the values, in the
    /// same pass; null when no op did.</summary>
    /// <remarks>Set once, by the op that created this tensor, right after writing it (the fused batch norm + shortcut +
    /// Hardtanh of a Bi-Real unit); read by the next binary convolution (<see cref="Function.SignPlanesOf"/>). Ops never
    /// write their outputs after returning them, and a caller's writable access to this tensor (<see cref="AsSpan{T}"/>,
    /// the indexer's setter) drops the planes, so they stay the values' signs; a view or copy of this tensor has none
    /// (writing an op's output through a view is as unsupported as it is for the gradients that ops compute from
    /// their saved outputs). The planes are pooled like any step tensor and read only while still live.</remarks>
    internal Tensor? SignPlanes { get; set; }
}

public abstract partial class Function
{
    /// <summary>The sign planes the op that produced <paramref name="x"/> kept beside it (<see cref="Tensor.SignPlanes"/>),
    /// or an empty span when there are none, they went back to the pool, or they do not cover x's [N, C, H, W]: a
    /// binary convolution then forms its input words from them (<see cref="BitPack.ChannelsLastFromPlanes"/>) instead of
    /// reading the float values.</summary>
    protected static ReadOnlySpan<ulong> SignPlanesOf(Tensor x)
    {
        if (x.SignPlanes is not { IsLive: true } planes || x.Rank != 4) return default;
        long words = (long)x.Shape[0] * x.Shape[1] * BitPack.WordsPerPlane(x.Shape[2] * x.Shape[3]);
        return planes.Length == words ? MemoryMarshal.Cast<double, ulong>(planes.Elements<double>()) : default;
    }
}
