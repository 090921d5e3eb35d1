using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BinaryGrad.Kernels;

namespace BinaryGrad.Binarization;

/// <summary>The float32 vector loops of <see cref="StandardizedSign"/>: eight floats widened to two
/// <see cref="Vector256{T}"/> of float64 per step, the same operations as the scalar loops lane by lane, so the results
/// are bit for bit theirs (Tests/Binarization/StandardizedSignVectorTests.cs, on every SIMD path).</summary>
/// <remarks>
/// <para>Why: the scalar loops ran at 10–30 ns per element — each float→double conversion carried a false dependency
/// on the previous iteration's register, and the sign branches mispredicted on half the elements.</para>
/// <para>The sums are four interleaved partial sums (element i to sum i mod 4), which four float64 lanes reproduce
/// exactly; eight lanes would sum in another order. So on the Vector512 path the backward computes dz and its terms
/// eight lanes at a time but adds them to the sums as two Vector256 halves, in order; the element-wise passes (the
/// signs' Vector256 loop aside) run eight lanes. On the scalar path the loops return 0 and the scalar code does
/// everything. Each returns how many leading elements it did (a multiple of 8).</para>
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // a call returns the pair through memory: 2.5 % of a SiMaN step
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

    /// <summary>The backward's Σdz and Σdz·z over whole blocks of eight, into the four interleaved partial sums, and
    /// dz kept in <paramref name="kept"/>. On the Vector512 path sixteen elements go per step: dz and the terms of
    /// eight lanes at a time, added to the four sums as the Vector256 loop adds them (lower four, then upper four).</summary>
    private static unsafe int SumsVector(float* x, float* dy, double* kept, int n, (double Mean, double Scale) group, bool center,
        ref double sum0, ref double sum1, ref double sum2, ref double sum3, ref double dot0, ref double dot1, ref double dot2, ref double dot3)
    {
        if (!VectorPath || n < 8) return 0;
        Vector256<double> sums = Vector256.Create(sum0, sum1, sum2, sum3), dots = Vector256.Create(dot0, dot1, dot2, dot3);
        int i = 0;
        if (Simd.Path == SimdPath.Vector512)
        {
            Vector512<double> shift = Vector512.Create(center ? group.Mean : 0), scale = Vector512.Create(group.Scale);
            for (; i + 16 <= n; i += 16)
            {
                (Vector512<double> vLower, Vector512<double> vUpper) = Vector512.Widen(Vector512.Load(x + i));
                (Vector512<double> dyLower, Vector512<double> dyUpper) = Vector512.Widen(Vector512.Load(dy + i));
                (Vector512<double> dz, Vector512<double> term) = SurrogateLanes(vLower, dyLower, shift, scale);
                dz.Store(kept + i);
                sums += dz.GetLower();
                dots += term.GetLower();
                sums += dz.GetUpper();
                dots += term.GetUpper();
                (dz, term) = SurrogateLanes(vUpper, dyUpper, shift, scale);
                dz.Store(kept + i + 8);
                sums += dz.GetLower();
                dots += term.GetLower();
                sums += dz.GetUpper();
                dots += term.GetUpper();
            }
        }
        Vector256<double> shift256 = Vector256.Create(center ? group.Mean : 0), scale256 = Vector256.Create(group.Scale);
        for (; i + 8 <= n; i += 8)
        {
            (Vector256<double> vLower, Vector256<double> vUpper) = Vector256.Widen(Vector256.Load(x + i));
            (Vector256<double> dyLower, Vector256<double> dyUpper) = Vector256.Widen(Vector256.Load(dy + i));
            (Vector256<double> dz, Vector256<double> term) = SurrogateLanes(vLower, dyLower, shift256, scale256);
            dz.Store(kept + i);
            sums += dz;
            dots += term;
            (dz, term) = SurrogateLanes(vUpper, dyUpper, shift256, scale256);
            dz.Store(kept + i + 4);
            sums += dz;
            dots += term;
        }
        (sum0, sum1, sum2, sum3) = (sums[0], sums[1], sums[2], sums[3]);
        (dot0, dot1, dot2, dot3) = (dots[0], dots[1], dots[2], dots[3]);
        return i;
    }

    /// <summary><see cref="SurrogateLanes(Vector256{double}, Vector256{double}, Vector256{double}, Vector256{double})"/>
    /// on eight lanes: the same operations lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // a call returns the pair through memory: 2.5 % of a SiMaN step
    private static (Vector512<double> Dz, Vector512<double> Term) SurrogateLanes(Vector512<double> v, Vector512<double> dy,
        Vector512<double> shift, Vector512<double> scale)
    {
        Vector512<double> d = v - shift, z = d / scale, absZ = Vector512.Abs(z);
        Vector512<double> derivative = Vector512.ConditionalSelect(Vector512.LessThanOrEqual(absZ, Vector512.Create(1.0)),
            Vector512.Create(2.0) - Vector512.Create(2.0) * absZ, Vector512<double>.Zero);
        Vector512<double> big = Vector512.GreaterThan(Vector512.Abs(d), scale), zero = dy * Vector512<double>.Zero;
        Vector512<double> dz = Vector512.ConditionalSelect(big, zero, dy * derivative);
        return (dz, Vector512.ConditionalSelect(big, zero * d, dz * z));
    }

    /// <summary>dx = (dz − c·mean(dz))/s − k·(v − m) over whole blocks of eight from the kept dz (lane-wise, so any width
    /// gives the scalar loop's values; eight float64 lanes on the Vector512 path).</summary>
    private static unsafe int GradientVector(float* x, double* kept, float* dx, int n, (double Mean, double Scale) group, double meanDz, double k)
    {
        if (!VectorPath) return 0;
        int i = 0;
        if (Simd.Path == SimdPath.Vector512)
        {
            Vector512<double> scale = Vector512.Create(group.Scale), mean = Vector512.Create(group.Mean), meanDzs = Vector512.Create(meanDz), ks = Vector512.Create(k);
            for (; i + 16 <= n; i += 16)
            {
                (Vector512<double> vLower, Vector512<double> vUpper) = Vector512.Widen(Vector512.Load(x + i));
                Vector512<double> dxLower = (Vector512.Load(kept + i) - meanDzs) / scale - ks * (vLower - mean);
                Vector512<double> dxUpper = (Vector512.Load(kept + i + 8) - meanDzs) / scale - ks * (vUpper - mean);
                Vector512.Narrow(dxLower, dxUpper).Store(dx + i);
            }
        }
        Vector256<double> scale256 = Vector256.Create(group.Scale), mean256 = Vector256.Create(group.Mean), meanDz256 = Vector256.Create(meanDz), k256 = Vector256.Create(k);
        for (; i + 8 <= n; i += 8)
        {
            (Vector256<double> vLower, Vector256<double> vUpper) = Vector256.Widen(Vector256.Load(x + i));
            Vector256<double> dxLower = (Vector256.Load(kept + i) - meanDz256) / scale256 - k256 * (vLower - mean256);
            Vector256<double> dxUpper = (Vector256.Load(kept + i + 4) - meanDz256) / scale256 - k256 * (vUpper - mean256);
            Vector256.Narrow(dxLower, dxUpper).Store(dx + i);
        }
        return i;
    }
}
