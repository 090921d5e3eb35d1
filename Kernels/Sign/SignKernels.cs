using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels.Sign;

/// <summary>Float32 span kernels for the hard-sign straight-through schemes: what the quantizers' generic span methods
/// (Binarization) run for T = float, through <see cref="SignSpans"/> (no float64 arrays, no per-element virtual calls).</summary>
/// <remarks>
/// <para>Each kernel has a Vector256 body and a scalar <c>…Reference</c> beside it (the specification; the vector body
/// sends its tail there). Results equal the quantizers' float64 formulas (their T = double instantiation) rounded once, bit for bit: anything that is not
/// exact in float32 (products with a float64 scale, ApproxSign's 2 − 2|x|, clip(ρx)) is computed in float64 lanes
/// (Widen → compute → Narrow) with the same operations in the same order, then rounded once — the documented
/// "float64 compute, rounded once" contract. Two exceptions, both documented where used: SwishSign's SS'_β uses a
/// one-exp form (equal within float64 rounding) and per-channel sums use lane-parallel partial sums.</para>
/// <para>Sign convention (<c>Quantizer</c>): x &gt; 0 → +s, x &lt; 0 → −s, ±0 → the given zero value, NaN → NaN.
/// Masks 1[|x| ≤ c] are inclusive, and a masked-out element yields dy·0 (±0, or NaN for a non-finite dy), as the
/// float64 path's product does.</para>
/// </remarks>
public static class SignKernels
{
    /// <summary>True when the Vector256 bodies run: any <see cref="Simd.Path"/> but <see cref="SimdPath.Scalar"/>
    /// (so <see cref="Simd.Force"/> and the CI's forced-path runs reach these kernels).</summary>
    private static bool Vectorized => Simd.Path != SimdPath.Scalar;

    /// <summary>The largest float ≤ <paramref name="c"/>, so that for every float a: a ≤ c (in float64) ⇔ a ≤ result.</summary>
    public static float FloatBound(double c)
    {
        float f = (float)c;
        return f > c ? MathF.BitDecrement(f) : f;
    }

    /// <summary>y = +s (x &gt; 0), −s (x &lt; 0), <paramref name="zero"/> (x = ±0), x (NaN).</summary>
    public static void Sign(ReadOnlySpan<float> x, Span<float> y, float s, float zero)
    {
        int i = 0;
        if (Vectorized)
        {
            ref float xr = ref MemoryMarshal.GetReference(x), yr = ref MemoryMarshal.GetReference(y);
            Vector256<float> plus = Vector256.Create(s), minus = Vector256.Create(-s), z = Vector256.Create(zero);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                Vector256<float> r = Vector256.ConditionalSelect(Vector256.Equals(v, Vector256<float>.Zero), z, v);
                r = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), minus, r);
                Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<float>.Zero), plus, r).StoreUnsafe(ref yr, (nuint)i);
            }
        }
        SignReference(x[i..], y[i..], s, zero);
    }

    /// <summary>Specification of <see cref="Sign"/>.</summary>
    public static void SignReference(ReadOnlySpan<float> x, Span<float> y, float s, float zero)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0 ? s : x[i] < 0 ? -s : x[i] == 0 ? zero : x[i];
    }

    /// <summary>dx = dy · 1[|x| ≤ c] (c from <see cref="FloatBound"/>; +∞ = identity STE).</summary>
    public static void MaskTimes(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, float c)
    {
        int i = 0;
        if (Vectorized)
        {
            ref float xr = ref MemoryMarshal.GetReference(x), gr = ref MemoryMarshal.GetReference(dy), dr = ref MemoryMarshal.GetReference(dx);
            Vector256<float> bound = Vector256.Create(c);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                Vector256<float> inside = Vector256.LessThanOrEqual(Vector256.Abs(Vector256.LoadUnsafe(ref xr, (nuint)i)), bound);
                (Vector256.LoadUnsafe(ref gr, (nuint)i) * (inside & Vector256<float>.One)).StoreUnsafe(ref dr, (nuint)i);
            }
        }
        MaskTimesReference(x[i..], dy[i..], dx[i..], c);
    }

    /// <summary>Specification of <see cref="MaskTimes"/>.</summary>
    public static void MaskTimesReference(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, float c)
    {
        for (int i = 0; i < x.Length; i++) dx[i] = dy[i] * (MathF.Abs(x[i]) <= c ? 1f : 0f);
    }

    /// <summary>What <see cref="Surrogate"/> computes per element, in float64: dx = (float)(… ) as listed.</summary>
    public enum SurrogateKind
    {
        /// <summary>dy·d with d = (2 − 2|x|)·1[|x| ≤ 1] (ApproxSign).</summary>
        ApproxSign,
        /// <summary>dy·d with d = ρ·1[|ρx| &lt; 1] (derivative of clip(ρx, −1, 1)); P = ρ.</summary>
        Clip,
        /// <summary>α·(1[|x| ≤ c]·dy) (XNOR detached-scaled STE); P = α, C = c.</summary>
        ScaledMask,
        /// <summary>α·(1[|x| ≤ c]·dy) + sign(x)·q with q = Σ sign·dy / n (XNOR exact); P = α, C = c, Q = q.</summary>
        ScaledMaskExact,
        /// <summary>dy/n + α·(1[|x| ≤ c]·dy) (XNOR diagonal); P = α, C = c, Q = n.</summary>
        ScaledMaskDiagonal,
    }

    /// <summary>Float64-lane surrogate backward of kind <paramref name="kind"/> with parameters p, c, q (see
    /// <see cref="SurrogateKind"/>): every operation as in the float64 path, rounded once.</summary>
    public static void Surrogate(SurrogateKind kind, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, double p = 0, double c = 0, double q = 0)
    {
        int i = MapWidened(x, dy, dx, new SurrogateOp(kind, p, c, q));
        SurrogateReference(kind, x[i..], dy[i..], dx[i..], p, c, q);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> SurrogateLanes(SurrogateKind kind, Vector256<double> x, Vector256<double> dy, double p, double c, double q)
    {
        Vector256<double> one = Vector256<double>.One, a = Vector256.Abs(x);
        switch (kind)
        {
            case SurrogateKind.ApproxSign:
                Vector256<double> two = Vector256.Create(2.0);
                return dy * (Vector256.LessThanOrEqual(a, one) & (two - two * a));
            case SurrogateKind.Clip:
                Vector256<double> rho = Vector256.Create(p);
                return dy * (Vector256.LessThan(Vector256.Abs(rho * x), one) & rho);
            default:
                Vector256<double> ste = (Vector256.LessThanOrEqual(a, Vector256.Create(c)) & one) * dy, alpha = Vector256.Create(p);
                if (kind == SurrogateKind.ScaledMask) return alpha * ste;
                if (kind == SurrogateKind.ScaledMaskDiagonal) return dy / Vector256.Create(q) + alpha * ste;
                return alpha * ste + SignOf(x) * Vector256.Create(q);
        }
    }

    /// <summary>sign(x) in float64 lanes with sign(±0) = +1 and NaN → NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> SignOf(Vector256<double> x) =>
        Vector256.ConditionalSelect(Vector256.IsNaN(x), x,
            Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<double>.Zero), Vector256<double>.One, -Vector256<double>.One));

    /// <summary>sign(x) with sign(±0) = +1 and NaN → NaN (the scalar twin of the lane version above).</summary>
    private static double SignOf(double x) => double.IsNaN(x) ? x : x < 0 ? -1 : 1;

    /// <summary>Specification of <see cref="Surrogate"/>.</summary>
    public static void SurrogateReference(SurrogateKind kind, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, double p = 0, double c = 0, double q = 0)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double xi = x[i], g = dy[i], a = Math.Abs(xi);
            dx[i] = (float)(kind switch
            {
                SurrogateKind.ApproxSign => g * (a <= 1 ? 2 - 2 * a : 0),
                SurrogateKind.Clip => g * (Math.Abs(p * xi) < 1 ? p : 0),
                SurrogateKind.ScaledMask => p * ((a <= c ? 1 : 0) * g),
                SurrogateKind.ScaledMaskDiagonal => g / q + p * ((a <= c ? 1 : 0) * g),
                _ => p * ((a <= c ? 1 : 0) * g) + SignOf(xi) * q,
            });
        }
    }

    /// <summary>dx = dy · SS'_β(x), computed in float64 lanes with the one-exp form
    /// SS'_β = 2β·e/(1+e)²·(2 − |z|·(1−e)/(1+e)), z = βx, e = exp(−|z|), and 0 for |z| &gt; 80.</summary>
    /// <remarks>Why this form: it equals β(2 − z·tanh(z/2))/(1 + cosh z) exactly (tanh(|z|/2) = (1−e)/(1+e),
    /// 1 + cosh z = (1+e)²/(2e)) but needs one exp, which Vector256 provides, instead of tanh and cosh. It agrees with
    /// <c>BinaryMath.SignSwishDerivative</c> to float64 rounding, so the float32 results agree to within one ulp
    /// (identical in all but rare rounding ties; near the zero crossing |z| ≈ 2.399 both are tiny).</remarks>
    public static void SwishTimes(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, double beta)
    {
        int i = MapWidened(x, dy, dx, new SwishTimesOp(beta));
        SwishTimesReference(x[i..], dy[i..], dx[i..], beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> SwishDerivative(Vector256<double> x, double beta)
    {
        Vector256<double> b = Vector256.Create(beta), one = Vector256<double>.One, two = Vector256.Create(2.0);
        Vector256<double> a = Vector256.Abs(b * x), e = Vector256.Exp(-a), den = one + e;
        Vector256<double> d = two * b * e / (den * den) * (two - a * (one - e) / den);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(a, Vector256.Create(80.0)), Vector256<double>.Zero, d);
    }

    /// <summary>Specification of <see cref="SwishTimes"/> (same one-exp form with <see cref="Math.Exp"/>).</summary>
    public static void SwishTimesReference(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, double beta)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double a = Math.Abs(beta * x[i]), e = Math.Exp(-a), den = 1 + e;
            double d = a > 80 ? 0 : 2 * beta * e / (den * den) * (2 - a * (1 - e) / den);
            dx[i] = (float)(dy[i] * d);
        }
    }

    /// <summary>y = (float)SS_β(x), computed in float64 lanes with the one-exp odd form
    /// SS_β(x) = sign(x)·(2/(1+e)·(1 + |z|·e/(1+e)) − 1), z = βx, e = exp(−|z|) (SS_β(0) = 0, NaN → NaN).</summary>
    /// <remarks>Why this form: SS_β is odd and, for z ≥ 0, σ(z) = 1/(1+e), σ(−z) = e/(1+e), so it equals
    /// <c>BinaryMath.SignSwish</c> (2σ(z)(1 + zσ(−z)) − 1) exactly but needs one exp, which Vector256 provides.
    /// Both forms subtract 1 from a value near 1 for small |z|, so they agree to float64 rounding in absolute terms
    /// (≈ 1e-16): the float32 results are equal or one ulp apart, except for |x| below ~1e-8 where both carry
    /// an absolute float64 rounding error of the same size.</remarks>
    public static void SignSwishValues(ReadOnlySpan<float> x, Span<float> y, double beta)
    {
        int i = MapWidened(x, x, y, new SignSwishOp(beta));
        SignSwishValuesReference(x[i..], y[i..], beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> SignSwish(Vector256<double> x, double beta)
    {
        Vector256<double> one = Vector256<double>.One, two = Vector256.Create(2.0);
        Vector256<double> z = Vector256.Create(beta) * x, a = Vector256.Abs(z), e = Vector256.Exp(-a), den = one + e;
        Vector256<double> v = two / den * (one + a * e / den) - one;
        // copy the sign of z onto v ≥ 0 (v = 0 at z = 0 either way; a NaN z gives a NaN v)
        Vector256<double> signBit = Vector256.Create(-0.0);
        return (v & ~signBit) | (z & signBit);
    }

    /// <summary>Specification of <see cref="SignSwishValues"/> (same one-exp form with <see cref="Math.Exp"/>).</summary>
    public static void SignSwishValuesReference(ReadOnlySpan<float> x, Span<float> y, double beta)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double z = beta * x[i], a = Math.Abs(z), e = Math.Exp(-a), den = 1 + e;
            double v = 2 / den * (1 + a * e / den) - 1;
            y[i] = (float)Math.CopySign(v, z);
        }
    }

    /// <summary>y = (float)clip(ρ·x, −1, 1) computed in float64 (NaN → NaN).</summary>
    public static void ClipValues(ReadOnlySpan<float> x, Span<float> y, double rho)
    {
        int i = MapWidened(x, x, y, new ClipOp(rho));
        ClipValuesReference(x[i..], y[i..], rho);
    }

    // Math.Clamp's semantics (v < lo → lo, v > hi → hi, else v), so NaN stays NaN.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Clamp(Vector256<double> v, Vector256<double> lo, Vector256<double> hi) =>
        Vector256.ConditionalSelect(Vector256.LessThan(v, lo), lo, Vector256.ConditionalSelect(Vector256.GreaterThan(v, hi), hi, v));

    /// <summary>Specification of <see cref="ClipValues"/>.</summary>
    public static void ClipValuesReference(ReadOnlySpan<float> x, Span<float> y, double rho)
    {
        for (int i = 0; i < x.Length; i++) y[i] = (float)Math.Clamp(rho * x[i], -1, 1);
    }

    /// <summary>Per output channel o (n contiguous elements each): α_o = Σ|x| / n in float64 with four lane-parallel
    /// partial sums (differs from a sequential sum by rounding only, relative ≤ n·2⁻⁵³).</summary>
    public static double[] ChannelMeanAbs(ReadOnlySpan<float> x, int channels, int n)
    {
        double[] alpha = new double[channels];
        for (int o = 0; o < channels; o++) alpha[o] = n > 0 ? Sum(x.Slice(o * n, n), default, absolute: true) / n : 0;
        return alpha;
    }

    /// <summary>Σ_i sign(x_i)·dy_i over one channel in float64 (sign(±0) = +1), lane-parallel like <see cref="ChannelMeanAbs"/>.</summary>
    public static double SignDot(ReadOnlySpan<float> x, ReadOnlySpan<float> dy) => Sum(x, dy, absolute: false);

    private static double Sum(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, bool absolute)
    {
        int i = 0;
        double total = 0;
        if (Vectorized && x.Length >= Vector256<float>.Count)
        {
            ref float xr = ref MemoryMarshal.GetReference(x);
            Vector256<double> s0 = Vector256<double>.Zero, s1 = Vector256<double>.Zero;
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                (Vector256<double> x0, Vector256<double> x1) = Vector256.Widen(Vector256.LoadUnsafe(ref xr, (nuint)i));
                if (absolute)
                {
                    s0 += Vector256.Abs(x0);
                    s1 += Vector256.Abs(x1);
                }
                else
                {
                    (Vector256<double> g0, Vector256<double> g1) = Vector256.Widen(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(dy), (nuint)i));
                    s0 += SignOf(x0) * g0;
                    s1 += SignOf(x1) * g1;
                }
            }
            total = Vector256.Sum(s0 + s1);
        }
        for (; i < x.Length; i++) total += absolute ? Math.Abs((double)x[i]) : SignOf(x[i]) * (double)dy[i];
        return total;
    }

    /// <summary>The float64-lane loop every kernel above shares: each 8 floats of x (and dy) widened to two vectors of
    /// 4 doubles, <paramref name="op"/> applied, the results narrowed (one rounding) into <paramref name="result"/>.
    /// Returns the first index not done (the tail, for the caller's scalar reference); 0 off the vector paths.</summary>
    private static int MapWidened<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> result, TOp op) where TOp : struct, IDoubleLanes
    {
        int i = 0;
        if (!Vectorized) return 0;
        ref float xr = ref MemoryMarshal.GetReference(x), gr = ref MemoryMarshal.GetReference(dy), rr = ref MemoryMarshal.GetReference(result);
        for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            (Vector256<double> x0, Vector256<double> x1) = Vector256.Widen(Vector256.LoadUnsafe(ref xr, (nuint)i));
            (Vector256<double> g0, Vector256<double> g1) = Vector256.Widen(Vector256.LoadUnsafe(ref gr, (nuint)i));
            Vector256.Narrow(op.Apply(x0, g0), op.Apply(x1, g1)).StoreUnsafe(ref rr, (nuint)i);
        }
        return i;
    }

    /// <summary>One kernel's per-lane float64 math: f(x, dy) (forward maps ignore dy).</summary>
    private interface IDoubleLanes
    {
        Vector256<double> Apply(Vector256<double> x, Vector256<double> dy);
    }

    private readonly struct SurrogateOp(SurrogateKind kind, double p, double c, double q) : IDoubleLanes
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<double> Apply(Vector256<double> x, Vector256<double> dy) => SurrogateLanes(kind, x, dy, p, c, q);
    }

    private readonly struct SwishTimesOp(double beta) : IDoubleLanes
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<double> Apply(Vector256<double> x, Vector256<double> dy) => dy * SwishDerivative(x, beta);
    }

    private readonly struct SignSwishOp(double beta) : IDoubleLanes
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<double> Apply(Vector256<double> x, Vector256<double> dy) => SignSwish(x, beta);
    }

    private readonly struct ClipOp(double rho) : IDoubleLanes
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<double> Apply(Vector256<double> x, Vector256<double> dy) =>
            Clamp(Vector256.Create(rho) * x, -Vector256<double>.One, Vector256<double>.One);
    }
}
