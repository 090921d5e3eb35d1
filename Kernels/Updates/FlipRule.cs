using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels.Updates;

/// <summary>The element loops of the Bop optimizers (Helwegen et al. 2019, NeurIPS; arXiv:1906.02107) and their
/// second-order variant: one fused pass over w, g and the
/// moments (the step is memory-bound, so one pass beats a chain of span-wide primitives), a Vector256 body (taken when <see cref="Simd.Path"/> is not
/// <see cref="SimdPath.Scalar"/>) and the scalar reference beside it. Both paths perform the same IEEE operations in the same order, so they agree bit for bit.</summary>
public static class FlipRule
{
    /// <summary>Larq's flip rule <c>w ← sign(−sign(d)·w)</c> with <c>d = w·r − τ</c> and sign(0) = +1 outside:
    /// −w if d &gt; 0, sign(w) if d &lt; 0, and +1 when d = 0 (the inner sign is 0, so the product is ±0 and the outer
    /// sign maps it to +1 whatever w was). A NaN d also counts as 0 here (+1); Larq would propagate NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Flip<T>(T w, T d) where T : IBinaryFloatingPointIeee754<T>
    {
        T y = d > T.Zero ? -w : d < T.Zero ? w : T.Zero;
        return y >= T.Zero ? T.One : T.NegativeOne;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Flip<T>(Vector256<T> w, Vector256<T> d) where T : IBinaryFloatingPointIeee754<T>
    {
        Vector256<T> y = (Vector256.GreaterThan(d, Vector256<T>.Zero) & -w) | (Vector256.LessThan(d, Vector256<T>.Zero) & w);
        return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(y, Vector256<T>.Zero), Vector256<T>.One, -Vector256<T>.One);
    }

    /// <summary>Bop: <c>m ← m + γ·(g − m)</c>, then <c>w ← Flip(w, w·m − τ)</c>.</summary>
    public static void Bop<T>(Span<T> w, ReadOnlySpan<T> g, Span<T> m, T gamma, T threshold) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int i = 0;
        if (Simd.Path != SimdPath.Scalar && Vector256<T>.IsSupported)
        {
            ref T wr = ref MemoryMarshal.GetReference(w), mr = ref MemoryMarshal.GetReference(m);
            ref T gr = ref MemoryMarshal.GetReference(g);
            Vector256<T> gv = Vector256.Create(gamma), tv = Vector256.Create(threshold);
            for (; i <= w.Length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                nuint at = (nuint)i;
                Vector256<T> mv = Vector256.LoadUnsafe(ref mr, at);
                mv += gv * (Vector256.LoadUnsafe(ref gr, at) - mv);
                mv.StoreUnsafe(ref mr, at);
                Vector256<T> wv = Vector256.LoadUnsafe(ref wr, at);
                Flip(wv, wv * mv - tv).StoreUnsafe(ref wr, at);
            }
        }
        BopReference(w[i..], g[i..], m[i..], gamma, threshold);
    }

    /// <summary>The specification of <see cref="Bop{T}"/>; the vector body must match it bit for bit.</summary>
    public static void BopReference<T>(Span<T> w, ReadOnlySpan<T> g, Span<T> m, T gamma, T threshold) where T : IBinaryFloatingPointIeee754<T>
    {
        for (int i = 0; i < w.Length; i++)
        {
            m[i] += gamma * (g[i] - m[i]);
            w[i] = Flip(w[i], w[i] * m[i] - threshold);
        }
    }

    /// <summary>Bop2ndOrder: <c>m ← m + γ(g − m)</c>, <c>v ← v + σ(g² − v)</c>, <c>r = (m / cm) / (√(v / cv) + ε)</c>,
    /// <c>w ← Flip(w, w·r − τ)</c>; the divisors cm, cv select the bias correction (1 = none).</summary>
    public static void SecondOrder<T>(Span<T> w, ReadOnlySpan<T> g, Span<T> m, Span<T> v, in SecondOrderCoefficients<T> k)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int i = 0;
        if (Simd.Path != SimdPath.Scalar && Vector256<T>.IsSupported)
        {
            ref T wr = ref MemoryMarshal.GetReference(w), mr = ref MemoryMarshal.GetReference(m), vr = ref MemoryMarshal.GetReference(v);
            ref T gr = ref MemoryMarshal.GetReference(g);
            Vector256<T> gamma = Vector256.Create(k.Gamma), sigma = Vector256.Create(k.Sigma), cm = Vector256.Create(k.MeanDivisor),
                cv = Vector256.Create(k.VarianceDivisor), eps = Vector256.Create(k.Epsilon), tau = Vector256.Create(k.Threshold);
            for (; i <= w.Length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                nuint at = (nuint)i;
                Vector256<T> gv = Vector256.LoadUnsafe(ref gr, at);
                Vector256<T> mv = Vector256.LoadUnsafe(ref mr, at);
                Vector256<T> vv = Vector256.LoadUnsafe(ref vr, at);
                mv += gamma * (gv - mv);
                vv += sigma * (gv * gv - vv);
                mv.StoreUnsafe(ref mr, at);
                vv.StoreUnsafe(ref vr, at);
                Vector256<T> r = mv / cm / (Vector256.Sqrt(vv / cv) + eps);
                Vector256<T> wv = Vector256.LoadUnsafe(ref wr, at);
                Flip(wv, wv * r - tau).StoreUnsafe(ref wr, at);
            }
        }
        SecondOrderReference(w[i..], g[i..], m[i..], v[i..], k);
    }

    /// <summary>The specification of <see cref="SecondOrder{T}"/>.</summary>
    public static void SecondOrderReference<T>(Span<T> w, ReadOnlySpan<T> g, Span<T> m, Span<T> v, in SecondOrderCoefficients<T> k)
        where T : IBinaryFloatingPointIeee754<T>
    {
        for (int i = 0; i < w.Length; i++)
        {
            m[i] += k.Gamma * (g[i] - m[i]);
            v[i] += k.Sigma * (g[i] * g[i] - v[i]);
            T r = m[i] / k.MeanDivisor / (T.Sqrt(v[i] / k.VarianceDivisor) + k.Epsilon);
            w[i] = Flip(w[i], w[i] * r - k.Threshold);
        }
    }
}

/// <summary>Per-step scalars of the second-order rule, already in the parameter's element type.</summary>
public readonly record struct SecondOrderCoefficients<T>(T Gamma, T Sigma, T MeanDivisor, T VarianceDivisor, T Epsilon, T Threshold);
