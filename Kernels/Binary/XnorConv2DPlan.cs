namespace BinaryGrad.Kernels.Binary;

/// <summary>A binary convolution's filters prepared once for repeated forwards of one geometry (any batch) on one SIMD
/// path: <see cref="XnorConv2D.Plan"/>. Read-only once made, so threads may share it.</summary>
public sealed class XnorConv2DPlan
{
    internal XnorConv2DPlan(XnorConv2DShape shape, SimdPath path, int[] tapPrefix, XnorConv2D.DirectTables? tables) =>
        (Shape, Path, TapPrefix, Tables) = (shape, path, tapPrefix, tables);

    /// <summary>The geometry it was made for, with <c>Batch</c> 0.</summary>
    public XnorConv2DShape Shape { get; }

    /// <summary>The SIMD path it was made on (the lane layout of the packed filters depends on it).</summary>
    public SimdPath Path { get; }

    internal int[] TapPrefix { get; }

    /// <summary>The direct path's tables, or null on the scalar path (which needs only <see cref="TapPrefix"/>).</summary>
    internal XnorConv2D.DirectTables? Tables { get; }

    /// <summary>Whether a call with <paramref name="shape"/> on the current path can use this plan.</summary>
    public bool Fits(in XnorConv2DShape shape) => Simd.Path == Path && shape with { Batch = 0 } == Shape;
}
