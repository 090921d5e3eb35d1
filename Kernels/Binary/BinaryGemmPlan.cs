namespace BinaryGrad.Kernels.Binary;

/// <summary>The right operand B of <see cref="BinaryGemm"/> prepared once (<see cref="BinaryGemm.Plan"/>): its rows
/// interleaved into the current SIMD path's filter lanes. Read-only once made, so threads may share it.</summary>
public sealed class BinaryGemmPlan
{
    internal BinaryGemmPlan(SimdPath path, int rows, int stride, ulong[]? grouped) => (Path, Rows, Stride, Grouped) = (path, rows, stride, grouped);

    /// <summary>The SIMD path it was made on (the lane layout depends on it).</summary>
    public SimdPath Path { get; }

    /// <summary>Rows of B (n).</summary>
    public int Rows { get; }

    /// <summary>Words per row of B (<see cref="BitPack.WordsPerRow"/> of k).</summary>
    public int Stride { get; }

    /// <summary>The grouped rows, or null on the scalar path (which reads B as it is).</summary>
    internal ulong[]? Grouped { get; }

    /// <summary>Whether a call with B of <paramref name="rows"/> × <paramref name="stride"/> words on the current path can use it.</summary>
    internal bool Fits(int rows, int stride) => Grouped is not null && Simd.Path == Path && rows == Rows && stride == Stride;
}
