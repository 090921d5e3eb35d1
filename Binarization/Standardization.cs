using System.Numerics;

namespace BinaryGrad.Binarization;

/// <summary>Per-group standardisation z = (v − c·mean)/s with s = sqrt(Var + ε), Var the unbiased (n − 1) variance —
/// torch's <c>var</c>/<c>std</c> default, which the SiMaN, BiPer and RBNN reference code use — and its exact backward.
/// Written once for float32 and float64 inputs: every value is widened to float64, so z and the statistics are the
/// same for a float32 tensor and its float64 copy.</summary>
internal static class Standardization
{
    /// <summary>Standardises each of the <paramref name="groups"/> contiguous runs of <paramref name="v"/> into
    /// <paramref name="z"/>; returns per-group (mean, s).</summary>
    public static (double Mean, double Scale)[] Forward<T>(ReadOnlySpan<T> v, int groups, bool center, double epsilon, double[] z)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = v.Length / groups;
        var stats = new (double, double)[groups];
        for (int g = 0; g < groups; g++)
        {
            double m = 0;
            for (int i = g * n; i < (g + 1) * n; i++) m += Num.D(v[i]);
            m /= n;
            double ss = 0;
            for (int i = g * n; i < (g + 1) * n; i++) ss += (Num.D(v[i]) - m) * (Num.D(v[i]) - m);
            double s = Math.Sqrt((n > 1 ? ss / (n - 1) : 0) + epsilon);
            for (int i = g * n; i < (g + 1) * n; i++) z[i] = (Num.D(v[i]) - (center ? m : 0)) / s;
            stats[g] = (m, s);
        }
        return stats;
    }

    /// <summary>dv from dz, rounded once to T: dv_j = (dz_j − c·mean(dz))/s − (Σ_i dz_i z_i)·(v_j − m)/((n − 1)s²).</summary>
    public static void Backward<T>(ReadOnlySpan<T> v, double[] z, (double Mean, double Scale)[] stats, bool center, double[] dz, Span<T> dv)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int groups = stats.Length, n = v.Length / groups;
        for (int g = 0; g < groups; g++)
        {
            (double m, double s) = stats[g];
            double sum = 0, dot = 0;
            for (int i = g * n; i < (g + 1) * n; i++)
            {
                sum += dz[i];
                dot += dz[i] * z[i];
            }
            double mean = center ? sum / n : 0;
            double k = n > 1 ? dot / ((n - 1) * s * s) : 0;
            for (int i = g * n; i < (g + 1) * n; i++) dv[i] = Num.R<T>((dz[i] - mean) / s - k * (Num.D(v[i]) - m));
        }
    }
}
