using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels;

/// <summary>The row update of a plain i-p-j float64 matrix product (used by the small dense linear algebra of the
/// rotation schemes): a Vector256 body, taken unless <see cref="Simd.Path"/> is <see cref="SimdPath.Scalar"/>, and a
/// scalar tail that is also the specification.</summary>
public static class RowUpdate
{
    /// <summary>row[j] += a·b[j]: a multiply then an add per element (no FMA), so the vector body gives the scalar
    /// loop's results bit for bit and the caller's accumulation order is unchanged.</summary>
    public static void MultiplyAdd(Span<double> row, double a, ReadOnlySpan<double> b)
    {
        if (b.Length < row.Length)
            throw new ArgumentException($"MultiplyAdd: b has {b.Length} elements, expected at least the row's {row.Length}.", nameof(b));
        int j = 0;
        if (Simd.Path != SimdPath.Scalar)
        {
            Vector256<double> scale = Vector256.Create(a);
            ref double r = ref MemoryMarshal.GetReference(row);
            ref double br = ref MemoryMarshal.GetReference(b);
            for (; j <= row.Length - Vector256<double>.Count; j += Vector256<double>.Count)
                (Vector256.LoadUnsafe(ref r, (nuint)j) + scale * Vector256.LoadUnsafe(ref br, (nuint)j)).StoreUnsafe(ref r, (nuint)j);
        }
        for (; j < row.Length; j++) row[j] += a * b[j];
    }
}
