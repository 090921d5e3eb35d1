using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BinaryGrad.Kernels.Binary;

internal static unsafe partial class FilterLanes
{
    /// <summary>Filters per group of the carry-save kernel: two 512-bit vectors of eight 64-bit lanes, filters 0..7
    /// then 8..15 of the group, raw (unsplit) words.</summary>
    internal const int FiltersPerGroupCsa = 16;

    /// <summary>Steps per carry-save block: 8 inputs reduce through ones, twos, fours to one "eights" vector.</summary>
    internal const int StepsPerCsaBlock = 8;

    /// <summary>Byte counts of the eights grow by at most 8 per block: 31 blocks (248 ≤ 255) before a byte sum.</summary>
    private const int MaxCsaBlocksPerByteSum = 31;

    /// <summary>Interleaves <paramref name="count"/> filters of <paramref name="steps"/> raw words into groups of
    /// <see cref="FiltersPerGroupCsa"/>: per group and step, word j of filters 0..15 in order (lanes past
    /// <paramref name="count"/> are zero).</summary>
    internal static void PackGroupsRaw(ulong* filters, int count, int rowStride, int steps, ulong* groups)
    {
        const int size = FiltersPerGroupCsa;
        int groupCount = (count + size - 1) / size;
        for (int g = 0; g < groupCount; g++)
            for (int j = 0; j < steps; j++)
            {
                ulong* dst = groups + ((nint)g * steps + j) * size;
                for (int f = 0; f < size; f++)
                {
                    int o = g * size + f;
                    dst[f] = o < count ? filters[(nint)o * rowStride + j] : 0;
                }
            }
    }

    /// <summary>Mismatch counts of 4 pixels against the 16 filters of one raw group, by Harley–Seal carry-save
    /// addition across steps: <c>counts[16i + f] = Σ_j popcount(x(pᵢ, j) XOR w(f, j))</c>.</summary>
    /// <remarks>
    /// <para>Each (pixel, filter vector) accumulator keeps bit-sliced counters <c>ones</c>, <c>twos</c>,
    /// <c>fours</c>: a carry-save adder <c>CSA(a, b, c) = (a⊕b⊕c, maj(a, b, c))</c> is one <c>vpternlogq</c> each
    /// (truth tables 0x96 and 0xE8). Eight inputs <c>d_j = x_j ⊕ w_j</c> cost 8 XORs and 7 CSAs (14 ternary ops)
    /// and leave one "eights" vector, counted with the nibble lookup (and, shift, and, 2 <c>vpshufb</c>, add, add:
    /// 7 ops) into byte counters; so 29 vector ops per 8 × 512 bits, against 48 for the nibble lookup with
    /// pre-split nibbles (<see cref="Block256"/>'s method on 512-bit vectors, which this kernel replaced: measured in L1 on
    /// Zen 4, 211 against 132 bits per cycle at 64 steps, 128 against 123 at 18). At the end, <c>count = 8·Σeights + popcount(ones) + 2·popcount(twos) +
    /// 4·popcount(fours)</c>; the last <c>steps mod 8</c> inputs go in pairs through one more CSA into ones (the carry
    /// looked up) and a last odd one is looked up directly.</para>
    /// <para><b>Bound</b> (Zen 4: four 256-bit vector pipes, so two 512-bit ops per cycle): 29/2 = 14.5 cycles per
    /// 4096 bits, i.e. 282 bits per cycle per core (1.02 T bit-MACs/s per core at 3.6 GHz). A loop of independent
    /// <c>vpternlogq zmm</c> sustains 1.72 per cycle there, so 243 bits per cycle is the bound with the measured
    /// op rate. Measured in L1 (one core, 64 steps): 201–211 bits per cycle.</para>
    /// <para>Two accumulators at a time (two pixels against one vector of 8 filters, 4 passes per block): each
    /// weight vector is loaded once for both, and the ~20 live vectors stay in the 32 zmm registers — four
    /// accumulators at once needed over 32 and spilled. Without AVX-512F the same bits come from portable vector
    /// operations (the emulated path). <c>totalsScratch</c> is unused: the 64-bit sums stay in registers.</para>
    /// </remarks>
    internal static void BlockCsa512(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group,
                                     ulong* totalsScratch, int* counts)
    {
        ulong* x2 = x0 + 2 * pixelStride;
        for (int half = 0; half < FiltersPerGroupCsa; half += 8)
        {
            CsaTwoPixels(x0, x0 + pixelStride, offsets, steps, group + half, counts + half, counts + FiltersPerGroupCsa + half);
            CsaTwoPixels(x2, x2 + pixelStride, offsets, steps, group + half, counts + 2 * FiltersPerGroupCsa + half, counts + 3 * FiltersPerGroupCsa + half);
        }
    }

    /// <summary>Two pixels against 8 filters (one vector of the group, at <paramref name="w"/> + 16·j per step):
    /// two accumulators share each weight load; 8 counts each to <paramref name="countsA"/>, <paramref name="countsB"/>.</summary>
    private static void CsaTwoPixels(ulong* xa, ulong* xb, int* offsets, int steps, ulong* w, int* countsA, int* countsB)
    {
        const int stepWords = FiltersPerGroupCsa;
        Vector512<byte> table = BitCount.NibbleTable512, low = Vector512.Create((byte)0x0F);
        Vector512<ulong> onesA = default, onesB = default, twosA = default, twosB = default, foursA = default, foursB = default;
        Vector512<ulong> totalA = default, totalB = default;
        int blocks = steps / StepsPerCsaBlock, j = 0;
        for (int b0 = 0; b0 < blocks; b0 += MaxCsaBlocksPerByteSum)
        {
            int b1 = Math.Min(blocks, b0 + MaxCsaBlocksPerByteSum);
            Vector512<byte> eightsA = default, eightsB = default;
            for (int b = b0; b < b1; b++, j += StepsPerCsaBlock)
            {
                ulong* wj = w + (nint)j * stepWords;
                int* off = offsets + j;
                // steps 0..3: two carry pairs into twos, carry p4 (weight 4)
                Pair(xa, xb, wj, off, 0, ref onesA, ref onesB, out Vector512<ulong> carryA, out Vector512<ulong> carryB);
                Pair(xa, xb, wj, off, 2, ref onesA, ref onesB, out Vector512<ulong> carry2A, out Vector512<ulong> carry2B);
                Vector512<ulong> p4A = Csa(ref twosA, carryA, carry2A), p4B = Csa(ref twosB, carryB, carry2B);
                // steps 4..7 likewise (q4), then fours ⊕ p4 ⊕ q4 carries one eights vector
                Pair(xa, xb, wj, off, 4, ref onesA, ref onesB, out carryA, out carryB);
                Pair(xa, xb, wj, off, 6, ref onesA, ref onesB, out carry2A, out carry2B);
                Vector512<ulong> q4A = Csa(ref twosA, carryA, carry2A), q4B = Csa(ref twosB, carryB, carry2B);
                eightsA += BitCount.ByteCounts(Csa(ref foursA, p4A, q4A), table, low);
                eightsB += BitCount.ByteCounts(Csa(ref foursB, p4B, q4B), table, low);
            }
            totalA += BitCount.SumBytes(eightsA) << 3;
            totalB += BitCount.SumBytes(eightsB) << 3;
        }
        // tail pairs: one more CSA into ones each, its carry (weight 2) counted directly — 11 ops per pair instead of
        // 14 for two lookups (a 128-channel 3×3 conv has 18 steps: 2 blocks and one tail pair)
        Vector512<byte> carriesA = default, carriesB = default;
        for (; j + 2 <= steps; j += 2)
        {
            Pair(xa, xb, w + (nint)j * stepWords, offsets + j, 0, ref onesA, ref onesB, out Vector512<ulong> carryA, out Vector512<ulong> carryB);
            carriesA += BitCount.ByteCounts(carryA, table, low);
            carriesB += BitCount.ByteCounts(carryB, table, low);
        }
        // per byte: ones + 2·twos + 4·fours ≤ 8 + 16 + 32, 2·carries ≤ 2·3·8, one last lookup ≤ 8: ≤ 112
        Vector512<byte> restA = Weighted(onesA, twosA, foursA, table, low) + carriesA + carriesA;
        Vector512<byte> restB = Weighted(onesB, twosB, foursB, table, low) + carriesB + carriesB;
        if (j < steps)
        {
            Vector512<ulong> wv = Vector512.Load(w + (nint)j * stepWords);
            restA += BitCount.ByteCounts(Vector512.Create(xa[offsets[j]]) ^ wv, table, low);
            restB += BitCount.ByteCounts(Vector512.Create(xb[offsets[j]]) ^ wv, table, low);
        }
        totalA += BitCount.SumBytes(restA);
        totalB += BitCount.SumBytes(restB);
        // 64-bit lane sums (< 2³¹) narrowed to 8 ints in filter order
        Vector512.Narrow(totalA, totalB).AsInt32().GetLower().Store(countsA);
        Vector512.Narrow(totalA, totalB).AsInt32().GetUpper().Store(countsB);
    }

    /// <summary>Steps <paramref name="first"/> and +1 for two pixels: d = x ⊕ w per step, then
    /// <c>ones, carry = CSA(ones, d_first, d_first+1)</c> per pixel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pair(ulong* xa, ulong* xb, ulong* w, int* off, int first,
                             ref Vector512<ulong> onesA, ref Vector512<ulong> onesB, out Vector512<ulong> carryA, out Vector512<ulong> carryB)
    {
        const int stepWords = FiltersPerGroupCsa;
        Vector512<ulong> w0 = Vector512.Load(w + first * stepWords), w1 = Vector512.Load(w + (first + 1) * stepWords);
        nint o0 = off[first], o1 = off[first + 1];
        carryA = Csa(ref onesA, Vector512.Create(xa[o0]) ^ w0, Vector512.Create(xa[o1]) ^ w1);
        carryB = Csa(ref onesB, Vector512.Create(xb[o0]) ^ w0, Vector512.Create(xb[o1]) ^ w1);
    }

    /// <summary>Carry-save adder on bit slices: <c>sum ← sum ⊕ b ⊕ c</c>, returns the carry <c>maj(sum, b, c)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Csa(ref Vector512<ulong> sum, Vector512<ulong> b, Vector512<ulong> c)
    {
        Vector512<ulong> a = sum;
        if (Avx512F.IsSupported)
        {
            sum = Avx512F.TernaryLogic(a, b, c, 0x96);
            return Avx512F.TernaryLogic(a, b, c, 0xE8);
        }
        Vector512<ulong> u = a ^ b;
        sum = u ^ c;
        return (a & b) | (u & c);
    }

    /// <summary>Per byte, popcount(ones) + 2·popcount(twos) + 4·popcount(fours).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Weighted(Vector512<ulong> ones, Vector512<ulong> twos, Vector512<ulong> fours,
                                            Vector512<byte> table, Vector512<byte> low)
    {
        Vector512<byte> t = BitCount.ByteCounts(twos, table, low), f = BitCount.ByteCounts(fours, table, low);
        return BitCount.ByteCounts(ones, table, low) + t + t + ((f + f) + (f + f));
    }

    /// <summary>The carry-save Vector512 kernel (<see cref="BlockCsa512"/>) on raw words.</summary>
    internal readonly struct KernelCsa512 : IKernel
    {
        public static int GroupSize => FiltersPerGroupCsa;

        public static int WordFactor => 1;

        public static int StepWords => FiltersPerGroupCsa;

        public static void PackGroups(ulong* filters, int count, int rowStride, int steps, ulong* groups) =>
            PackGroupsRaw(filters, count, rowStride, steps, groups);

        public static void PrepareActivations(ulong* source, ulong* destination, int words) =>
            new ReadOnlySpan<ulong>(source, words).CopyTo(new Span<ulong>(destination, words));

        public static void Block(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group, ulong* totalsScratch, int* counts) =>
            BlockCsa512(x0, pixelStride, offsets, steps, group, totalsScratch, counts);
    }
}
