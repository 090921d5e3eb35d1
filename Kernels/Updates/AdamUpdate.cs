using System.Numerics;
using System.Runtime.InteropServices;

namespace BinaryGrad.Kernels.Updates;

/// <summary>Per-step scalars of one Adam update, already in the parameter's element type (see <see cref="AdamUpdate"/>).</summary>
public struct AdamCoefficients<T>
{
    /// <summary>Decoupled decay factor 1 − lr·wd (AdamW) or 1.</summary>
    public T Decay;
    /// <summary>L2 weight decay added to the gradient (Adam) or 0.</summary>
    public T L2;
    /// <summary>β₁ and 1 − β₁.</summary>
    public T Beta1, OneMinusBeta1;
    /// <summary>β₂ and 1 − β₂.</summary>
    public T Beta2, OneMinusBeta2;
    /// <summary>√(1 − β₂ᵗ).</summary>
    public T SqrtCorrection2;
    /// <summary>ε.</summary>
    public T Eps;
    /// <summary>−lr / (1 − β₁ᵗ).</summary>
    public T NegativeStep;
}

/// <summary>The element loop of Adam (Kingma &amp; Ba 2015, ICLR; arXiv:1412.6980) with PyTorch's formulas:
/// g ← ∇ + L2·p, m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p·decay − step·m / (√v / √(1 − β₂ᵗ) + ε).</summary>
public static class AdamUpdate
{
    /// <summary>The whole update in one pass over p, g, m, v (a chain of span-wide primitives would stream the four
    /// arrays about ten times; the optimizer step is memory-bound, so one pass is several times faster). Operation order
    /// matches the formula term by term; the <see cref="Vector{T}"/> body (taken unless <see cref="Simd.Path"/> is
    /// <see cref="SimdPath.Scalar"/>) performs the same IEEE operations in the same order as the scalar tail, no FMA.</summary>
    public static void Apply<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> m, Span<T> v, in AdamCoefficients<T> k)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int i = 0;
        if (Simd.Path != SimdPath.Scalar && Vector<T>.IsSupported)
        {
            ref T pr = ref MemoryMarshal.GetReference(p), mr = ref MemoryMarshal.GetReference(m), vr = ref MemoryMarshal.GetReference(v);
            ref T gr = ref MemoryMarshal.GetReference(g);
            Vector<T> decay = new(k.Decay), l2 = new(k.L2), b1 = new(k.Beta1), c1 = new(k.OneMinusBeta1), b2 = new(k.Beta2),
                c2 = new(k.OneMinusBeta2), sqrtCorrection2 = new(k.SqrtCorrection2), eps = new(k.Eps), step = new(k.NegativeStep);
            for (; i <= p.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                nuint at = (nuint)i;
                Vector<T> pv = Vector.LoadUnsafe(ref pr, at);
                Vector<T> gv = Vector.LoadUnsafe(ref gr, at) + l2 * pv;
                pv *= decay;
                Vector<T> mv = b1 * Vector.LoadUnsafe(ref mr, at) + c1 * gv;
                Vector<T> vv = b2 * Vector.LoadUnsafe(ref vr, at) + c2 * (gv * gv);
                mv.StoreUnsafe(ref mr, at);
                vv.StoreUnsafe(ref vr, at);
                (pv + step * (mv / (Vector.SquareRoot(vv) / sqrtCorrection2 + eps))).StoreUnsafe(ref pr, at);
            }
        }
        for (; i < p.Length; i++)
        {
            T gi = g[i] + k.L2 * p[i];
            m[i] = k.Beta1 * m[i] + k.OneMinusBeta1 * gi;
            v[i] = k.Beta2 * v[i] + k.OneMinusBeta2 * (gi * gi);
            p[i] = p[i] * k.Decay + k.NegativeStep * (m[i] / (T.Sqrt(v[i]) / k.SqrtCorrection2 + k.Eps));
        }
    }
}
