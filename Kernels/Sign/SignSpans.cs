using System.Runtime.InteropServices;

namespace BinaryGrad.Kernels.Sign;

/// <summary>Generic entry points to <see cref="SignKernels"/> and <see cref="LowRankSignKernels"/> for code written once
/// over the element type T (the quantizers of Binarization): for T = float they run the float32 kernel and return
/// true; for any other T they do nothing and return false, and the caller runs its own float64 formula.</summary>
/// <remarks>Why a façade: the schemes keep one generic body, the choice of a vector kernel stays in Kernels, and
/// <c>typeof(T) == typeof(float)</c> is a JIT-time constant, so each instantiation keeps only one branch (no runtime
/// type test). The float32 kernels give the float64 formula rounded once, except where <see cref="SignKernels"/>
/// documents a rounding-level difference (SS_β, lane-parallel sums); which one runs for a dtype is therefore part of
/// the behaviour and must not change.</remarks>
public static class SignSpans
{
    private static bool IsFloat<T>() => typeof(T) == typeof(float);
    private static ReadOnlySpan<float> F<T>(ReadOnlySpan<T> s) where T : unmanaged => MemoryMarshal.Cast<T, float>(s);
    private static Span<float> F<T>(Span<T> s) where T : unmanaged => MemoryMarshal.Cast<T, float>(s);

    /// <summary><see cref="SignKernels.Sign"/> (±s, <paramref name="zero"/> at ±0), s and zero rounded to float.</summary>
    public static bool Sign<T>(ReadOnlySpan<T> x, Span<T> y, double s, double zero) where T : unmanaged
    {
        if (!IsFloat<T>()) return false;
        SignKernels.Sign(F(x), F(y), (float)s, (float)zero);
        return true;
    }

    /// <summary><see cref="SignKernels.MaskTimes"/> with the bound <see cref="SignKernels.FloatBound"/>(c) (an exact
    /// float mask <paramref name="c"/> such as −∞ or 1 is unchanged by it).</summary>
    public static bool MaskTimes<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx, double c) where T : unmanaged
    {
        if (!IsFloat<T>()) return false;
        SignKernels.MaskTimes(F(x), F(dy), F(dx), SignKernels.FloatBound(c));
        return true;
    }

    /// <summary><see cref="SignKernels.Surrogate"/>.</summary>
    public static bool Surrogate<T>(SignKernels.SurrogateKind kind, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx, double p = 0, double c = 0, double q = 0)
        where T : unmanaged
    {
        if (!IsFloat<T>()) return false;
        SignKernels.Surrogate(kind, F(x), F(dy), F(dx), p, c, q);
        return true;
    }

    /// <summary><see cref="SignKernels.SwishTimes"/>.</summary>
    public static bool SwishTimes<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx, double beta) where T : unmanaged
    {
        if (!IsFloat<T>()) return false;
        SignKernels.SwishTimes(F(x), F(dy), F(dx), beta);
        return true;
    }

    /// <summary><see cref="SignKernels.SignSwishValues"/>.</summary>
    public static bool SignSwishValues<T>(ReadOnlySpan<T> x, Span<T> y, double beta) where T : unmanaged
    {
        if (!IsFloat<T>()) return false;
        SignKernels.SignSwishValues(F(x), F(y), beta);
        return true;
    }

    /// <summary><see cref="SignKernels.ClipValues"/>.</summary>
    public static bool ClipValues<T>(ReadOnlySpan<T> x, Span<T> y, double rho) where T : unmanaged
    {
        if (!IsFloat<T>()) return false;
        SignKernels.ClipValues(F(x), F(y), rho);
        return true;
    }

    /// <summary><see cref="SignKernels.ChannelMeanAbs"/> (null for T ≠ float).</summary>
    public static double[]? ChannelMeanAbs<T>(ReadOnlySpan<T> x, int channels, int n) where T : unmanaged =>
        IsFloat<T>() ? SignKernels.ChannelMeanAbs(F(x), channels, n) : null;

    /// <summary><see cref="SignKernels.SignDot"/> (null for T ≠ float).</summary>
    public static double? SignDot<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy) where T : unmanaged =>
        IsFloat<T>() ? SignKernels.SignDot(F(x), F(dy)) : null;

    /// <summary><see cref="LowRankSignKernels.Project"/>.</summary>
    public static bool Project<T>(Span<T> m, Span<T> z, int rank, double s) where T : unmanaged
    {
        if (!IsFloat<T>()) return false;
        LowRankSignKernels.Project(F(m), F(z), rank, (float)s);
        return true;
    }

    /// <summary><see cref="LowRankSignKernels.SampleSign"/>.</summary>
    public static bool SampleSign<T>(ReadOnlySpan<T> m, ReadOnlySpan<T> z, ReadOnlySpan<double> r, Span<T> b) where T : unmanaged
    {
        if (!IsFloat<T>()) return false;
        LowRankSignKernels.SampleSign(F(m), F(z), r, F(b));
        return true;
    }

    /// <summary><see cref="LowRankSignKernels.FactorGradient"/>.</summary>
    public static bool FactorGradient<T>(ReadOnlySpan<T> dy, ReadOnlySpan<double> r, double scale, Span<T> dz) where T : unmanaged
    {
        if (!IsFloat<T>()) return false;
        LowRankSignKernels.FactorGradient(F(dy), r, scale, F(dz));
        return true;
    }
}
