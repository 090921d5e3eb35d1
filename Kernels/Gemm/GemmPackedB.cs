using System.Runtime.CompilerServices;

namespace BinaryGrad.Kernels;

/// <summary>The B operand of a float GEMM packed once (<see cref="Gemm.PackB"/>) for repeated products with it, e.g. a
/// dense layer's weights at inference: the blocked driver's KC-deep panels of NR-wide slivers for all columns, in a
/// pinned, 64-byte-aligned array. Read-only once made, so threads may share it.</summary>
public sealed class GemmPackedB
{
    private readonly float[] _data;
    private readonly int _offset;

    internal GemmPackedB(SimdPath path, bool transB, int k, int n, int nr, float[] data, int offset)
    {
        (Path, TransB, K, N, _data, _offset) = (path, transB, k, n, data, offset);
        PanelColumns = GemmBlocked<float>.RoundUp(n, nr);
    }

    /// <summary>The SIMD path it was packed for (the sliver width depends on it).</summary>
    public SimdPath Path { get; }

    /// <summary>Whether B was stored transposed (n × k).</summary>
    public bool TransB { get; }

    /// <summary>Rows of op(B).</summary>
    public int K { get; }

    /// <summary>Columns of op(B).</summary>
    public int N { get; }

    /// <summary>Columns per panel row: n rounded up to whole slivers.</summary>
    internal int PanelColumns { get; }

    /// <summary>The first packed element's address (the array is pinned).</summary>
    internal unsafe nint Address => (nint)Unsafe.AsPointer(ref _data[_offset]);

    /// <summary>Whether a product on <paramref name="path"/> with this transpose and shape can read it.</summary>
    internal bool Fits(SimdPath path, bool transB, int k, int n) => path == Path && transB == TransB && k == K && n == N;
}
