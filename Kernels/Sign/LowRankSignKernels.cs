using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels.Sign;

/// <summary>Float32 kernels of VISPA's low-rank Gaussian sign weight (Orecchia et al., NeurIPS 2024; op
/// <c>SdpBinaryWeight</c> in Binarization): the projection onto E[w²] = 1, the sampled sign b = sign(m + Zᵀr) and the
/// factor gradient dZ = √S·r ⊗ db. Each has a Vector256 body and a scalar reference with the same operations in the same
/// order (bit-identical), and the float64 sums of the sampled sign follow the float64 path's order.</summary>
public static class LowRankSignKernels
{
    /// <summary>True when the Vector256 bodies run: any <see cref="Simd.Path"/> but <see cref="SimdPath.Scalar"/>.</summary>
    private static bool Vectorized => Simd.Path != SimdPath.Scalar;

    /// <summary>VISPA's projection <c>SdpBinaryWeight.Project</c> for float32, vectorized: the same float32 operations in the same order per
    /// lane (Σ_k Z_{k,i}² from k = 0, m_i² + Σ/S, √, divisions), so the result is bit-identical; the tail runs the
    /// scalar loop.</summary>
    public static void Project(Span<float> m, Span<float> z, int rank, float s)
    {
        int n = m.Length, i = 0;
        if (Vectorized)
        {
            ref float mr = ref MemoryMarshal.GetReference(m);
            ref float zr = ref MemoryMarshal.GetReference(z);
            Vector256<float> sv = Vector256.Create(s);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                Vector256<float> sumSquares = Vector256<float>.Zero;
                for (int k = 0; k < rank; k++)
                {
                    Vector256<float> zk = Vector256.LoadUnsafe(ref zr, (nuint)(k * n + i));
                    sumSquares += zk * zk;
                }
                Vector256<float> mv = Vector256.LoadUnsafe(ref mr, (nuint)i);
                Vector256<float> a = mv * mv + sumSquares / sv;
                Vector256<float> positive = Vector256.GreaterThan(a, Vector256<float>.Zero); // A_i ≤ 0 or NaN: left as is
                Vector256<float> root = Vector256.Sqrt(a);
                Vector256.ConditionalSelect(positive, mv / root, mv).StoreUnsafe(ref mr, (nuint)i);
                for (int k = 0; k < rank; k++)
                {
                    Vector256<float> zk = Vector256.LoadUnsafe(ref zr, (nuint)(k * n + i));
                    Vector256.ConditionalSelect(positive, zk / root, zk).StoreUnsafe(ref zr, (nuint)(k * n + i));
                }
            }
        }
        for (; i < n; i++)
        {
            float sumSquares = 0;
            for (int k = 0; k < rank; k++) sumSquares += z[k * n + i] * z[k * n + i];
            float a = m[i] * m[i] + sumSquares / s;
            if (!(a > 0)) continue;
            float root = MathF.Sqrt(a);
            m[i] /= root;
            for (int k = 0; k < rank; k++) z[k * n + i] /= root;
        }
    }

    /// <summary>b_i = sign(m_i + Σ_k Z_{k,i}·r_k) for float32 m and Z, summed in float64 lanes in the float64 path's order
    /// (bit-identical signs); the tail runs <see cref="SampleSignReference"/>.</summary>
    public static void SampleSign(ReadOnlySpan<float> m, ReadOnlySpan<float> z, ReadOnlySpan<double> r, Span<float> b)
    {
        int n = m.Length, rank = r.Length, i = 0;
        if (Vectorized)
        {
            ref float mr = ref MemoryMarshal.GetReference(m);
            ref float zr = ref MemoryMarshal.GetReference(z);
            ref float br = ref MemoryMarshal.GetReference(b);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                (Vector256<double> w0, Vector256<double> w1) = Vector256.Widen(Vector256.LoadUnsafe(ref mr, (nuint)i));
                for (int k = 0; k < rank; k++)
                {
                    (Vector256<double> z0, Vector256<double> z1) = Vector256.Widen(Vector256.LoadUnsafe(ref zr, (nuint)(k * n + i)));
                    Vector256<double> rk = Vector256.Create(r[k]);
                    w0 += z0 * rk; // separate multiply and add (no FMA), as the scalar w += z·r
                    w1 += z1 * rk;
                }
                Vector256.Narrow(SignLanes(w0), SignLanes(w1)).StoreUnsafe(ref br, (nuint)i);
            }
        }
        SampleSignReference(m, z, r, b, i);
    }

    /// <summary>sign with sign(±0) = +1 and NaN kept, as <c>BinaryMath.Sign</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> SignLanes(Vector256<double> w)
    {
        Vector256<double> sign = Vector256.ConditionalSelect(Vector256.LessThan(w, Vector256<double>.Zero), Vector256.Create(-1.0), Vector256<double>.One);
        return Vector256.ConditionalSelect(Vector256.Equals(w, w), sign, w);
    }

    /// <summary>Scalar reference of <see cref="SampleSign"/> from element <paramref name="start"/> on: the float64
    /// path's loop on float32 storage.</summary>
    public static void SampleSignReference(ReadOnlySpan<float> m, ReadOnlySpan<float> z, ReadOnlySpan<double> r, Span<float> b, int start = 0)
    {
        int n = m.Length;
        for (int i = start; i < n; i++)
        {
            double w = m[i];
            for (int k = 0; k < r.Length; k++) w += z[k * n + i] * r[k];
            b[i] = (float)(double.IsNaN(w) ? w : w < 0 ? -1 : 1);
        }
    }

    /// <summary>dZ_{k,i} = (float)(0 + √S·r_k·db_i) in float64 lanes (the float64 path accumulates into a zeroed array and
    /// rounds once; bit-identical); the tail runs the scalar loop of <see cref="FactorGradientReference"/>.</summary>
    public static void FactorGradient(ReadOnlySpan<float> dy, ReadOnlySpan<double> r, double rootS, Span<float> dz)
    {
        int n = dy.Length;
        for (int k = 0; k < r.Length; k++)
        {
            double scale = rootS * r[k];
            Span<float> row = dz.Slice(k * n, n);
            int i = 0;
            if (Vectorized)
            {
                ref float gr = ref MemoryMarshal.GetReference(dy);
                ref float dr = ref MemoryMarshal.GetReference(row);
                Vector256<double> sv = Vector256.Create(scale);
                for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    (Vector256<double> g0, Vector256<double> g1) = Vector256.Widen(Vector256.LoadUnsafe(ref gr, (nuint)i));
                    Vector256.Narrow(Vector256<double>.Zero + sv * g0, Vector256<double>.Zero + sv * g1).StoreUnsafe(ref dr, (nuint)i);
                }
            }
            FactorGradientRow(dy, scale, row, i);
        }
    }

    /// <summary>Scalar reference of <see cref="FactorGradient"/>.</summary>
    public static void FactorGradientReference(ReadOnlySpan<float> dy, ReadOnlySpan<double> r, double rootS, Span<float> dz)
    {
        int n = dy.Length;
        for (int k = 0; k < r.Length; k++) FactorGradientRow(dy, rootS * r[k], dz.Slice(k * n, n), 0);
    }

    private static void FactorGradientRow(ReadOnlySpan<float> dy, double scale, Span<float> row, int start)
    {
        for (int i = start; i < dy.Length; i++)
        {
            double g = 0;
            g += scale * dy[i];
            row[i] = (float)g;
        }
    }
}
