using System.Runtime.Intrinsics;
using BinaryGrad.Kernels;

namespace BinaryGrad.Binarization;

/// <summary>The float32 vector loops of <see cref="StandardizedSign"/>: eight floats widened to two
/// <see cref="Vector256{T}"/> of float64 per step, the same operations as the scalar loops lane by lane, so the results
/// are bit for bit theirs (Tests/Binarization/StandardizedSignVectorTests.cs, on every SIMD path).</summary>
/// <remarks>
/// <para>Why: the scalar loops ran at 10–30 ns per element — each float→double conversion carried a false dependency
/// on the previous iteration's register, and the sign branches mispredicted on half the elements.</para>
/// <para>Vector256 on the Vector512 path too: the sums are four interleaved partial sums (element i to sum i mod 4),
/// which four float64 lanes reproduce exactly; eight lanes would sum in another order. On the scalar path the loops
/// return 0 and the scalar code does everything. Each returns how many leading elements it did (a multiple of 8).</para>
/// </remarks>
public sealed partial class StandardizedSign
{
    private static bool VectorPath => Simd.Path != SimdPath.Scalar;

    /// <summary>y = sign(d), d = x − c·mean, for blocks whose eight |d| all exceed s·1e-300 (so sign(d/s) = sign(d);
    /// a block with a zero, a NaN or a tiny d is left to the scalar loop, which stops at the first such block).</summary>
    private static unsafe int SignVector(float* x, float* y, int n, (double Mean, double Scale) group, bool center)
    {
        if (!VectorPath) return 0;
        Vector256<double> shift = Vector256.Create(center ? group.Mean : 0), tiny = Vector256.Create(group.Scale * 1e-300);
        Vector256<double> one = Vector256.Create(1.0), minusOne = Vector256.Create(-1.0);
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            (Vector256<double> lower, Vector256<double> upper) = Vector256.Widen(Vector256.Load(x + i));
            Vector256<double> dLower = lower - shift, dUpper = upper - shift;
            if (!Vector256.GreaterThanAll(Vector256.Abs(dLower), tiny) || !Vector256.GreaterThanAll(Vector256.Abs(dUpper), tiny)) break;
            Vector256<double> signLower = Vector256.ConditionalSelect(Vector256.LessThan(dLower, Vector256<double>.Zero), minusOne, one);
            Vector256<double> signUpper = Vector256.ConditionalSelect(Vector256.LessThan(dUpper, Vector256<double>.Zero), minusOne, one);
            Vector256.Narrow(signLower, signUpper).Store(y + i);
        }
        return i;
    }

    /// <summary>dz = dy·(2 − 2|z|)₊ and its z-weighted term for four float64 lanes, as the scalar Accumulate computes
    /// them: where |d| &gt; s, dz = dy·0 and the term dz·d; else z = d/s, dz = dy·F'(z) and the term dz·z.</summary>
    private static (Vector256<double> Dz, Vector256<double> Term) SurrogateLanes(Vector256<double> v, Vector256<double> dy,
        Vector256<double> shift, Vector256<double> scale)
    {
        Vector256<double> d = v - shift, z = d / scale, absZ = Vector256.Abs(z);
        Vector256<double> derivative = Vector256.ConditionalSelect(Vector256.LessThanOrEqual(absZ, Vector256.Create(1.0)),
            Vector256.Create(2.0) - Vector256.Create(2.0) * absZ, Vector256<double>.Zero);
        Vector256<double> big = Vector256.GreaterThan(Vector256.Abs(d), scale), zero = dy * Vector256<double>.Zero;
        Vector256<double> dz = Vector256.ConditionalSelect(big, zero, dy * derivative);
        return (dz, Vector256.ConditionalSelect(big, zero * d, dz * z));
    }

    /// <summary>The backward's Σdz and Σdz·z over whole blocks of eight, into the four interleaved partial sums.</summary>
    private static unsafe int SumsVector(float* x, float* dy, int n, (double Mean, double Scale) group, bool center,
        ref double sum0, ref double sum1, ref double sum2, ref double sum3, ref double dot0, ref double dot1, ref double dot2, ref double dot3)
    {
        if (!VectorPath || n < 8) return 0;
        Vector256<double> shift = Vector256.Create(center ? group.Mean : 0), scale = Vector256.Create(group.Scale);
        Vector256<double> sums = Vector256.Create(sum0, sum1, sum2, sum3), dots = Vector256.Create(dot0, dot1, dot2, dot3);
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            (Vector256<double> vLower, Vector256<double> vUpper) = Vector256.Widen(Vector256.Load(x + i));
            (Vector256<double> dyLower, Vector256<double> dyUpper) = Vector256.Widen(Vector256.Load(dy + i));
            (Vector256<double> dz, Vector256<double> term) = SurrogateLanes(vLower, dyLower, shift, scale);
            sums += dz;
            dots += term;
            (dz, term) = SurrogateLanes(vUpper, dyUpper, shift, scale);
            sums += dz;
            dots += term;
        }
        (sum0, sum1, sum2, sum3) = (sums[0], sums[1], sums[2], sums[3]);
        (dot0, dot1, dot2, dot3) = (dots[0], dots[1], dots[2], dots[3]);
        return i;
    }

    /// <summary>dx = (dz − c·mean(dz))/s − k·(v − m) over whole blocks of eight.</summary>
    private static unsafe int GradientVector(float* x, float* dy, float* dx, int n, (double Mean, double Scale) group, bool center, double meanDz, double k)
    {
        if (!VectorPath) return 0;
        Vector256<double> shift = Vector256.Create(center ? group.Mean : 0), scale = Vector256.Create(group.Scale), mean = Vector256.Create(group.Mean);
        Vector256<double> meanDzs = Vector256.Create(meanDz), ks = Vector256.Create(k);
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            (Vector256<double> vLower, Vector256<double> vUpper) = Vector256.Widen(Vector256.Load(x + i));
            (Vector256<double> dyLower, Vector256<double> dyUpper) = Vector256.Widen(Vector256.Load(dy + i));
            Vector256<double> dxLower = (SurrogateLanes(vLower, dyLower, shift, scale).Dz - meanDzs) / scale - ks * (vLower - mean);
            Vector256<double> dxUpper = (SurrogateLanes(vUpper, dyUpper, shift, scale).Dz - meanDzs) / scale - ks * (vUpper - mean);
            Vector256.Narrow(dxLower, dxUpper).Store(dx + i);
        }
        return i;
    }
}
