namespace BinaryGrad.Binarization;

/// <summary>Per-group standardisation z = (v − c·mean)/s with s = sqrt(Var + ε), Var the unbiased (n − 1) variance —
/// torch's <c>var</c>/<c>std</c> default, which the SiMaN, BiPer and RBNN reference code use — and its exact backward.</summary>
internal static class Standardization
{
    /// <summary>Standardises each of the <paramref name="groups"/> contiguous runs of <paramref name="v"/> in place into
    /// <paramref name="z"/>; returns per-group (mean, s).</summary>
    public static (double Mean, double Scale)[] Forward(double[] v, int groups, bool center, double epsilon, double[] z)
    {
        int n = v.Length / groups;
        var stats = new (double, double)[groups];
        for (int g = 0; g < groups; g++)
        {
            double m = 0;
            for (int i = g * n; i < (g + 1) * n; i++) m += v[i];
            m /= n;
            double ss = 0;
            for (int i = g * n; i < (g + 1) * n; i++) ss += (v[i] - m) * (v[i] - m);
            double s = Math.Sqrt((n > 1 ? ss / (n - 1) : 0) + epsilon);
            for (int i = g * n; i < (g + 1) * n; i++) z[i] = (v[i] - (center ? m : 0)) / s;
            stats[g] = (m, s);
        }
        return stats;
    }

    /// <summary>dv from dz: dv_j = (dz_j − c·mean(dz))/s − (Σ_i dz_i z_i)·(v_j − m)/((n − 1)s²).</summary>
    public static double[] Backward(double[] v, double[] z, (double Mean, double Scale)[] stats, bool center, double[] dz)
    {
        int groups = stats.Length, n = v.Length / groups;
        double[] dv = new double[v.Length];
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
            for (int i = g * n; i < (g + 1) * n; i++) dv[i] = (dz[i] - mean) / s - k * (v[i] - m);
        }
        return dv;
    }

    /// <summary>The float64 <c>Forward</c> above reading float32 values in place (each
    /// widened to float64; the same arithmetic in the same order, so the same z and statistics bit for bit).</summary>
    public static (double Mean, double Scale)[] Forward(ReadOnlySpan<float> v, int groups, bool center, double epsilon, double[] z)
    {
        int n = v.Length / groups;
        var stats = new (double, double)[groups];
        for (int g = 0; g < groups; g++)
        {
            double m = 0;
            for (int i = g * n; i < (g + 1) * n; i++) m += v[i];
            m /= n;
            double ss = 0;
            for (int i = g * n; i < (g + 1) * n; i++) ss += (v[i] - m) * (v[i] - m);
            double s = Math.Sqrt((n > 1 ? ss / (n - 1) : 0) + epsilon);
            for (int i = g * n; i < (g + 1) * n; i++) z[i] = (v[i] - (center ? m : 0)) / s;
            stats[g] = (m, s);
        }
        return stats;
    }

    /// <summary>The float64 <c>Backward</c> above for float32
    /// values, writing dv rounded once to float32 (same float64 arithmetic).</summary>
    public static void Backward(ReadOnlySpan<float> v, double[] z, (double Mean, double Scale)[] stats, bool center, double[] dz, Span<float> dv)
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
            for (int i = g * n; i < (g + 1) * n; i++) dv[i] = (float)((dz[i] - mean) / s - k * (v[i] - m));
        }
    }
}
