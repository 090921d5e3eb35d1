using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels;

/// <summary>The product of a ±1 matrix S (M×K, as 4-bit sign patterns) and a float matrix F (K×N) by table look-up:
/// <c>out[m, j] = Σ_k S[m, k] · F[k, j]</c>, with no multiplication at all.</summary>
/// <remarks>
/// <para><b>Why.</b> Both float products in the backward of a binary convolution have a ±1 operand: the input gradient
/// multiplies dY by sign(W), the weight gradient multiplies dY by sign(x). Grouping K into fours, the four rows
/// <c>F[4g … 4g+3, ·]</c> can only be combined in 2⁴ = 16 signed ways, so all 16 are computed once
/// (<see cref="Build"/>) and each row m then adds the one its sign pattern picks (<see cref="Accumulate"/>): one load and
/// one add per 4·N multiply-adds, shared by all M rows. This is the look-up GEMM of BiQGEMM (Jeon et al., SC 2020) and
/// LUT-GEMM (Park et al., ICLR 2024) for binary-coded weights, here with the float operand supplying the tables.
/// An add with a memory operand is as cheap as a fused multiply-add and there are 4× fewer of them, so the products
/// run above the machine's FMA peak (docs/cifar10.md has the measurements).</para>
/// <para><b>Tables.</b> For a group of four float rows f₀ … f₃ (each <see cref="Width"/> floats), entry b is
/// <c>T[b] = (s₀f₀ + s₁f₁) + (s₂f₂ + s₃f₃)</c> with <c>s_r = +1</c> when bit r of b is set and −1 otherwise. Sign
/// pattern bit r = 1 means S[m, 4g + r] = +1.</para>
/// <para><b>Rounding.</b> Each output element is its start value (zero or what the output held) plus the picked
/// entries in group order; every path evaluates exactly these float operations element by element (no lane sums), so
/// the Vector512, Vector256 and scalar paths agree bit for bit. Against a multiply-add chain the sum is regrouped in
/// fours: same value on small integers, different rounding on reals.</para>
/// </remarks>
internal static unsafe class SignLookup
{
    /// <summary>Floats per table entry: the columns one pass computes (two 512-bit or four 256-bit vectors).</summary>
    public const int Width = 32;

    /// <summary>Entries per table: the 2⁴ sign patterns of four rows.</summary>
    public const int Entries = 16;

    /// <summary>Floats per table (2 KB).</summary>
    public const int TableLength = Entries * Width;

    /// <summary>Tables per block: 32 KB, so a block of tables stays in the L1 cache while every row looks into it.</summary>
    public const int BlockGroups = 16;

    /// <summary>Writes the 16 entries of one table (<see cref="TableLength"/> floats) from four rows of
    /// <see cref="Width"/> floats: <c>table[b·Width + j] = (s₀f₀[j] + s₁f₁[j]) + (s₂f₂[j] + s₃f₃[j])</c>.</summary>
    public static void Build(SimdPath path, float* f0, float* f1, float* f2, float* f3, float* table)
    {
        if (path == SimdPath.Vector512)
            for (int j = 0; j < Width; j += 16)
                Build16(Vector512.Load(f0 + j), Vector512.Load(f1 + j), Vector512.Load(f2 + j), Vector512.Load(f3 + j), table + j);
        else if (path == SimdPath.Vector256)
            for (int j = 0; j < Width; j += 8)
                Build8(Vector256.Load(f0 + j), Vector256.Load(f1 + j), Vector256.Load(f2 + j), Vector256.Load(f3 + j), table + j);
        else BuildScalar(f0, f1, f2, f3, table);
    }

    /// <summary>Scalar reference of <see cref="Build"/>.</summary>
    internal static void BuildScalar(float* f0, float* f1, float* f2, float* f3, float* table)
    {
        for (int b = 0; b < Entries; b++)
            for (int j = 0; j < Width; j++)
            {
                float low = ((b & 1) != 0 ? f0[j] : -f0[j]) + ((b & 2) != 0 ? f1[j] : -f1[j]);
                float high = ((b & 4) != 0 ? f2[j] : -f2[j]) + ((b & 8) != 0 ? f3[j] : -f3[j]);
                table[b * Width + j] = low + high;
            }
    }

    // (−a) + (−b) = −(a + b) and a + (−b) = −((−a) + b) exactly (rounding to nearest is symmetric), so four sums make
    // the eight pair values.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Build16(Vector512<float> f0, Vector512<float> f1, Vector512<float> f2, Vector512<float> f3, float* t)
    {
        Vector512<float> l3 = f0 + f1, l1 = f0 - f1, l0 = -l3, l2 = -l1;
        Vector512<float> h3 = f2 + f3, h1 = f2 - f3, h0 = -h3, h2 = -h1;
        (l0 + h0).Store(t); (l1 + h0).Store(t + Width); (l2 + h0).Store(t + 2 * Width); (l3 + h0).Store(t + 3 * Width);
        (l0 + h1).Store(t + 4 * Width); (l1 + h1).Store(t + 5 * Width); (l2 + h1).Store(t + 6 * Width); (l3 + h1).Store(t + 7 * Width);
        (l0 + h2).Store(t + 8 * Width); (l1 + h2).Store(t + 9 * Width); (l2 + h2).Store(t + 10 * Width); (l3 + h2).Store(t + 11 * Width);
        (l0 + h3).Store(t + 12 * Width); (l1 + h3).Store(t + 13 * Width); (l2 + h3).Store(t + 14 * Width); (l3 + h3).Store(t + 15 * Width);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Build8(Vector256<float> f0, Vector256<float> f1, Vector256<float> f2, Vector256<float> f3, float* t)
    {
        Vector256<float> l3 = f0 + f1, l1 = f0 - f1, l0 = -l3, l2 = -l1;
        Vector256<float> h3 = f2 + f3, h1 = f2 - f3, h0 = -h3, h2 = -h1;
        (l0 + h0).Store(t); (l1 + h0).Store(t + Width); (l2 + h0).Store(t + 2 * Width); (l3 + h0).Store(t + 3 * Width);
        (l0 + h1).Store(t + 4 * Width); (l1 + h1).Store(t + 5 * Width); (l2 + h1).Store(t + 6 * Width); (l3 + h1).Store(t + 7 * Width);
        (l0 + h2).Store(t + 8 * Width); (l1 + h2).Store(t + 9 * Width); (l2 + h2).Store(t + 10 * Width); (l3 + h2).Store(t + 11 * Width);
        (l0 + h3).Store(t + 12 * Width); (l1 + h3).Store(t + 13 * Width); (l2 + h3).Store(t + 14 * Width); (l3 + h3).Store(t + 15 * Width);
    }

    /// <summary>For rows m &lt; <paramref name="rows"/> and columns j &lt; <see cref="Width"/>:
    /// <c>output[m·outStride + j] = start + Σ_{g &lt; groups} tables[g·TableLength + index[m·indexStride + g]·Width + j]</c>,
    /// the entries added in group order, start being 0 when <paramref name="fromZero"/> and the value held otherwise.
    /// Each index byte is a sign pattern (0 … 15).</summary>
    public static void Accumulate(SimdPath path, float* tables, int groups, byte* index, int indexStride, float* output, int outStride, int rows, bool fromZero)
    {
        int m = 0;
        if (path == SimdPath.Vector512)
        {
            for (; m + 6 <= rows; m += 6) Rows6x512(tables, groups, index + m * indexStride, indexStride, output + m * outStride, outStride, fromZero);
            for (; m < rows; m++) Row512(tables, groups, index + m * indexStride, output + m * outStride, fromZero);
        }
        else if (path == SimdPath.Vector256)
        {
            for (; m + 3 <= rows; m += 3) Rows3x256(tables, groups, index + m * indexStride, indexStride, output + m * outStride, outStride, fromZero);
            for (; m < rows; m++) Row256(tables, groups, index + m * indexStride, output + m * outStride, fromZero);
        }
        else AccumulateScalar(tables, groups, index, indexStride, output, outStride, rows, fromZero);
    }

    /// <summary>Scalar reference of <see cref="Accumulate"/>.</summary>
    internal static void AccumulateScalar(float* tables, int groups, byte* index, int indexStride, float* output, int outStride, int rows, bool fromZero)
    {
        for (int m = 0; m < rows; m++)
            for (int j = 0; j < Width; j++)
            {
                float sum = fromZero ? 0f : output[m * outStride + j];
                for (int g = 0; g < groups; g++) sum += tables[g * TableLength + index[m * indexStride + g] * Width + j];
                output[m * outStride + j] = sum;
            }
    }

    // Six rows × two vectors = 12 accumulators; per group six index bytes and 12 adds with a memory operand.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows6x512(float* tables, int groups, byte* index, int indexStride, float* output, int outStride, bool fromZero)
    {
        float* o0 = output, o1 = o0 + outStride, o2 = o1 + outStride, o3 = o2 + outStride, o4 = o3 + outStride, o5 = o4 + outStride;
        Vector512<float> a0, b0, a1, b1, a2, b2, a3, b3, a4, b4, a5, b5;
        if (fromZero) a0 = b0 = a1 = b1 = a2 = b2 = a3 = b3 = a4 = b4 = a5 = b5 = Vector512<float>.Zero;
        else
        {
            a0 = Vector512.Load(o0); b0 = Vector512.Load(o0 + 16); a1 = Vector512.Load(o1); b1 = Vector512.Load(o1 + 16);
            a2 = Vector512.Load(o2); b2 = Vector512.Load(o2 + 16); a3 = Vector512.Load(o3); b3 = Vector512.Load(o3 + 16);
            a4 = Vector512.Load(o4); b4 = Vector512.Load(o4 + 16); a5 = Vector512.Load(o5); b5 = Vector512.Load(o5 + 16);
        }
        byte* i0 = index, i1 = i0 + indexStride, i2 = i1 + indexStride, i3 = i2 + indexStride, i4 = i3 + indexStride, i5 = i4 + indexStride;
        float* t = tables;
        int g = 0;
        for (; g + 8 <= groups; g += 8)
        {
            ulong w0 = Patterns(i0 + g), w1 = Patterns(i1 + g), w2 = Patterns(i2 + g), w3 = Patterns(i3 + g), w4 = Patterns(i4 + g), w5 = Patterns(i5 + g);
            for (int j = 0; j < 8; j++, t += TableLength)
            {
                float* e = Entry(t, w0); a0 += Vector512.Load(e); b0 += Vector512.Load(e + 16); w0 >>= 8;
                e = Entry(t, w1); a1 += Vector512.Load(e); b1 += Vector512.Load(e + 16); w1 >>= 8;
                e = Entry(t, w2); a2 += Vector512.Load(e); b2 += Vector512.Load(e + 16); w2 >>= 8;
                e = Entry(t, w3); a3 += Vector512.Load(e); b3 += Vector512.Load(e + 16); w3 >>= 8;
                e = Entry(t, w4); a4 += Vector512.Load(e); b4 += Vector512.Load(e + 16); w4 >>= 8;
                e = Entry(t, w5); a5 += Vector512.Load(e); b5 += Vector512.Load(e + 16); w5 >>= 8;
            }
        }
        for (; g < groups; g++, t += TableLength)
        {
            float* e = t + i0[g] * Width; a0 += Vector512.Load(e); b0 += Vector512.Load(e + 16);
            e = t + i1[g] * Width; a1 += Vector512.Load(e); b1 += Vector512.Load(e + 16);
            e = t + i2[g] * Width; a2 += Vector512.Load(e); b2 += Vector512.Load(e + 16);
            e = t + i3[g] * Width; a3 += Vector512.Load(e); b3 += Vector512.Load(e + 16);
            e = t + i4[g] * Width; a4 += Vector512.Load(e); b4 += Vector512.Load(e + 16);
            e = t + i5[g] * Width; a5 += Vector512.Load(e); b5 += Vector512.Load(e + 16);
        }
        a0.Store(o0); b0.Store(o0 + 16); a1.Store(o1); b1.Store(o1 + 16); a2.Store(o2); b2.Store(o2 + 16);
        a3.Store(o3); b3.Store(o3 + 16); a4.Store(o4); b4.Store(o4 + 16); a5.Store(o5); b5.Store(o5 + 16);
    }

    // Eight groups' sign patterns of one row come in one 64-bit load (byte j is group g + j's pattern), so the look-up
    // loop loads one pattern word per eight look-ups instead of one byte per look-up. Measured on Zen 5: the
    // look-up loop 209 → 290 GMAC/s per thread.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Patterns(byte* eightPatterns) => Unsafe.ReadUnaligned<ulong>(eightPatterns);

    /// <summary>The entry that the pattern in the low byte of <paramref name="patterns"/> (from <see cref="Patterns"/>)
    /// picks in <paramref name="table"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Entry(float* table, ulong patterns) => table + ((nint)patterns & (Entries - 1)) * Width;

    private static void Row512(float* tables, int groups, byte* index, float* output, bool fromZero)
    {
        Vector512<float> a = fromZero ? Vector512<float>.Zero : Vector512.Load(output), b = fromZero ? Vector512<float>.Zero : Vector512.Load(output + 16);
        float* t = tables;
        for (int g = 0; g < groups; g++, t += TableLength)
        {
            float* e = t + index[g] * Width;
            a += Vector512.Load(e);
            b += Vector512.Load(e + 16);
        }
        a.Store(output);
        b.Store(output + 16);
    }

    // Three rows × four vectors = 12 accumulators (AVX2 has 16 vector registers).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows3x256(float* tables, int groups, byte* index, int indexStride, float* output, int outStride, bool fromZero)
    {
        float* o0 = output, o1 = o0 + outStride, o2 = o1 + outStride;
        Vector256<float> a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2;
        if (fromZero) a0 = b0 = c0 = d0 = a1 = b1 = c1 = d1 = a2 = b2 = c2 = d2 = Vector256<float>.Zero;
        else
        {
            a0 = Vector256.Load(o0); b0 = Vector256.Load(o0 + 8); c0 = Vector256.Load(o0 + 16); d0 = Vector256.Load(o0 + 24);
            a1 = Vector256.Load(o1); b1 = Vector256.Load(o1 + 8); c1 = Vector256.Load(o1 + 16); d1 = Vector256.Load(o1 + 24);
            a2 = Vector256.Load(o2); b2 = Vector256.Load(o2 + 8); c2 = Vector256.Load(o2 + 16); d2 = Vector256.Load(o2 + 24);
        }
        byte* i0 = index, i1 = i0 + indexStride, i2 = i1 + indexStride;
        float* t = tables;
        int g = 0;
        for (; g + 8 <= groups; g += 8)
        {
            ulong w0 = Patterns(i0 + g), w1 = Patterns(i1 + g), w2 = Patterns(i2 + g);
            for (int j = 0; j < 8; j++, t += TableLength)
            {
                float* e = Entry(t, w0);
                a0 += Vector256.Load(e); b0 += Vector256.Load(e + 8); c0 += Vector256.Load(e + 16); d0 += Vector256.Load(e + 24); w0 >>= 8;
                e = Entry(t, w1);
                a1 += Vector256.Load(e); b1 += Vector256.Load(e + 8); c1 += Vector256.Load(e + 16); d1 += Vector256.Load(e + 24); w1 >>= 8;
                e = Entry(t, w2);
                a2 += Vector256.Load(e); b2 += Vector256.Load(e + 8); c2 += Vector256.Load(e + 16); d2 += Vector256.Load(e + 24); w2 >>= 8;
            }
        }
        for (; g < groups; g++, t += TableLength)
        {
            float* e = t + i0[g] * Width;
            a0 += Vector256.Load(e); b0 += Vector256.Load(e + 8); c0 += Vector256.Load(e + 16); d0 += Vector256.Load(e + 24);
            e = t + i1[g] * Width;
            a1 += Vector256.Load(e); b1 += Vector256.Load(e + 8); c1 += Vector256.Load(e + 16); d1 += Vector256.Load(e + 24);
            e = t + i2[g] * Width;
            a2 += Vector256.Load(e); b2 += Vector256.Load(e + 8); c2 += Vector256.Load(e + 16); d2 += Vector256.Load(e + 24);
        }
        a0.Store(o0); b0.Store(o0 + 8); c0.Store(o0 + 16); d0.Store(o0 + 24);
        a1.Store(o1); b1.Store(o1 + 8); c1.Store(o1 + 16); d1.Store(o1 + 24);
        a2.Store(o2); b2.Store(o2 + 8); c2.Store(o2 + 16); d2.Store(o2 + 24);
    }

    private static void Row256(float* tables, int groups, byte* index, float* output, bool fromZero)
    {
        Vector256<float> a, b, c, d;
        if (fromZero) a = b = c = d = Vector256<float>.Zero;
        else (a, b, c, d) = (Vector256.Load(output), Vector256.Load(output + 8), Vector256.Load(output + 16), Vector256.Load(output + 24));
        float* t = tables;
        for (int g = 0; g < groups; g++, t += TableLength)
        {
            float* e = t + index[g] * Width;
            a += Vector256.Load(e); b += Vector256.Load(e + 8); c += Vector256.Load(e + 16); d += Vector256.Load(e + 24);
        }
        a.Store(output); b.Store(output + 8); c.Store(output + 16); d.Store(output + 24);
    }
}
