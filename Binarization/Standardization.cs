using System.Numerics;
using System.Runtime.Intrinsics;
using BinaryGrad.Kernels;

namespace BinaryGrad.Binarization;

/// <summary>Per-group standardisation z = (v − c·mean)/s with s = sqrt(Var + ε), Var the unbiased (n − 1) variance —
/// torch's <c>var</c>/<c>std</c> default, which the SiMaN, BiPer and RBNN reference code use — and its exact backward.
/// Written once for float32 and float64 inputs: every value is widened to float64, so z and the statistics are the
/// same for a float32 tensor and its float64 copy.</summary>
internal static class Standardization
{
    /// <summary>Elements a thread takes at least when the groups are spread over <see cref="KernelThreads"/>.</summary>
    private const int ElementsPerRange = 1 << 14;

    /// <summary>Groups per range of <see cref="KernelThreads.For{TBody}"/> for groups of <paramref name="n"/> elements.</summary>
    internal static int GroupGrain(int n) => Math.Max(1, ElementsPerRange / Math.Max(1, n));

    /// <summary>z of one element: <c>(v − c·mean)/s</c>. Every caller computes z through this one expression, so a z
    /// recomputed in a backward is bit for bit the z of the forward.</summary>
    public static double Z(double v, double mean, double scale, bool center) => (v - (center ? mean : 0)) / scale;

    /// <summary><see cref="BinaryMath.Sign"/> of <see cref="Z"/> without the division where it cannot matter: s &gt; 0,
    /// so z has the sign of d = v − c·mean unless d/s underflows to zero, which needs |d| ≤ s·1e-300 (there, and for
    /// NaN, z is computed).</summary>
    public static double SignOfZ(double v, double mean, double scale, bool center)
    {
        double d = v - (center ? mean : 0);
        return BinaryMath.Sign(Math.Abs(d) > scale * 1e-300 ? d : d / scale);
    }

    /// <summary>Per-group (mean, s) of the <paramref name="groups"/> contiguous runs of <paramref name="v"/>; the groups
    /// are spread over the kernel threads, each summed in index order by one thread (the same result for any count).</summary>
    public static unsafe (double Mean, double Scale)[] Statistics<T>(ReadOnlySpan<T> v, int groups, double epsilon)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var stats = new (double, double)[groups];
        int n = v.Length / groups;
        fixed (T* pv = v) KernelThreads.For(groups, GroupGrain(n), new StatisticsBody<T>(pv, n, epsilon, stats));
        return stats;
    }

    private readonly unsafe struct StatisticsBody<T>(T* v, int n, double epsilon, (double, double)[] stats) : KernelThreads.IRangeBody
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public void Run(int start, int end)
        {
            for (int g = start; g < end; g++)
            {
                T* group = v + (long)g * n;
                double m = Sum(group, n, 0, squares: false) / n;
                double ss = Sum(group, n, m, squares: true);
                stats[g] = (m, Math.Sqrt((n > 1 ? ss / (n - 1) : 0) + epsilon));
            }
        }
    }

    /// <summary>Σ v_i (or Σ (v_i − m)² with <paramref name="squares"/>) in float64, as four interleaved partial sums
    /// (element i goes to sum i mod 4; the tail to the first) added pairwise at the end: four independent add chains
    /// run about four times faster than one, whose every add waits for the previous (the fixed order keeps the result
    /// the same on every thread count and run).</summary>
    internal static unsafe double Sum<T>(T* values, int n, double m, bool squares) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        if (typeof(T) == typeof(float) && Simd.Path != SimdPath.Scalar && n >= 8)
        {
            // the same four sums in four float64 lanes (eight floats widened per step: elements i..i+3, then i+4..i+7),
            // bit for bit the scalar loop's; Vector256 on the Vector512 path too, which would sum in another order
            Vector256<double> sums = Vector256<double>.Zero, mean = Vector256.Create(m);
            for (; i + 8 <= n; i += 8)
            {
                (Vector256<double> lower, Vector256<double> upper) = Vector256.Widen(Vector256.Load((float*)values + i));
                Vector256<double> dLower = lower - mean, dUpper = upper - mean;
                sums += squares ? dLower * dLower : dLower;
                sums += squares ? dUpper * dUpper : dUpper;
            }
            (s0, s1, s2, s3) = (sums[0], sums[1], sums[2], sums[3]);
        }
        for (; i + 4 <= n; i += 4)
        {
            s0 += Term(values[i], m, squares);
            s1 += Term(values[i + 1], m, squares);
            s2 += Term(values[i + 2], m, squares);
            s3 += Term(values[i + 3], m, squares);
        }
        for (; i < n; i++) s0 += Term(values[i], m, squares);
        return (s0 + s1) + (s2 + s3);
    }

    private static double Term<T>(T value, double m, bool squares) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double d = Num.D(value) - m;
        return squares ? d * d : d;
    }

    /// <summary>Standardises each of the <paramref name="groups"/> contiguous runs of <paramref name="v"/> into
    /// <paramref name="z"/>; returns per-group (mean, s).</summary>
    public static (double Mean, double Scale)[] Forward<T>(ReadOnlySpan<T> v, int groups, bool center, double epsilon, Span<double> z)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var stats = Statistics(v, groups, epsilon);
        int n = v.Length / groups;
        for (int g = 0; g < groups; g++)
            for (int i = g * n; i < (g + 1) * n; i++) z[i] = Z(Num.D(v[i]), stats[g].Mean, stats[g].Scale, center);
        return stats;
    }

    /// <summary>dv from dz, rounded once to T: dv_j = (dz_j − c·mean(dz))/s − (Σ_i dz_i z_i)·(v_j − m)/((n − 1)s²).</summary>
    public static void Backward<T>(ReadOnlySpan<T> v, ReadOnlySpan<double> z, (double Mean, double Scale)[] stats, bool center, ReadOnlySpan<double> dz, Span<T> dv)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int groups = stats.Length, n = v.Length / groups;
        for (int g = 0; g < groups; g++)
            BackwardGroup(v.Slice(g * n, n), z.Slice(g * n, n), stats[g], center, dz.Slice(g * n, n), dv.Slice(g * n, n));
    }

    /// <summary>One group of <see cref="Backward{T}"/>: Σdz and Σdz·z in index order, then <see cref="Apply{T}"/>.</summary>
    public static void BackwardGroup<T>(ReadOnlySpan<T> v, ReadOnlySpan<double> z, (double Mean, double Scale) stats, bool center,
        ReadOnlySpan<double> dz, Span<T> dv)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double sum = 0, dot = 0;
        for (int i = 0; i < v.Length; i++)
        {
            sum += dz[i];
            dot += dz[i] * z[i];
        }
        Apply(v, stats, center, v.Length, sum, dot, dz, dv);
    }

    /// <summary>One group's dv from its Σdz and Σdz·z (the second half of <see cref="Backward{T}"/>).</summary>
    public static void Apply<T>(ReadOnlySpan<T> v, (double Mean, double Scale) stats, bool center, int n, double sum, double dot,
        ReadOnlySpan<double> dz, Span<T> dv)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        (double meanDz, double k) = Coefficients(stats.Scale, center, n, sum, dot);
        for (int i = 0; i < dv.Length; i++) dv[i] = Num.R<T>(Gradient(dz[i], Num.D(v[i]), stats, meanDz, k));
    }

    /// <summary>The group's c·mean(dz) and k = Σdz·z/((n − 1)s²).</summary>
    public static (double MeanDz, double K) Coefficients(double scale, bool center, int n, double sum, double dot) =>
        (center ? sum / n : 0, n > 1 ? dot / ((n - 1) * scale * scale) : 0);

    /// <summary>dv of one element: <c>(dz − c·mean(dz))/s − k·(v − m)</c>.</summary>
    public static double Gradient(double dz, double v, (double Mean, double Scale) stats, double meanDz, double k) =>
        (dz - meanDz) / stats.Scale - k * (v - stats.Mean);
}
