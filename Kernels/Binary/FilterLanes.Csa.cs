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
    /// (truth tables 0x96 for the sum and, from the new sum, 0xB2 for the carry). Eight inputs <c>d_j = x_j ⊕ w_j</c> cost 8 XORs and 7 CSAs (14 ternary ops)
    /// and leave one "eights" vector, counted with the nibble lookup (and, shift, and, 2 <c>vpshufb</c>, add, add:
    /// 7 ops) into byte counters; so 29 vector ops per 8 × 512 bits, against 48 for the nibble lookup with
    /// pre-split nibbles (<see cref="Block256"/>'s method on 512-bit vectors, which this kernel replaced: measured in L1 on
    /// Zen 4, 211 against 132 bits per cycle at 64 steps, 128 against 123 at 18). At the end, <c>count = 8·Σeights + popcount(ones) + 2·popcount(twos) +
    /// 4·popcount(fours)</c>; the last <c>steps mod 8</c> inputs go in pairs through one more CSA into ones (the carry
    /// looked up) and a last odd one is looked up directly.</para>
    /// <para><b>Bound</b> (Zen 4: four 256-bit vector pipes, so two 512-bit ops per cycle): 29/2 = 14.5 cycles per
    /// 4096 bits, i.e. 282 bits per cycle per core (1.02 T bit-MACs/s per core at 3.6 GHz). A loop of independent
    /// <c>vpternlogq zmm</c> sustains 1.72 per cycle there, so 243 bits per cycle is the bound with the measured
    /// op rate. Measured in L1 (one core, 64 steps): 201–211 bits per cycle. Zen 5 runs four 512-bit pipes (independent
    /// <c>vpternlogq zmm</c> measured at 3.5 per cycle), which doubles that bound; the loads, offsets and moves around the
    /// adders are what the four-pixel form below trims.</para>
    /// <para>Four accumulators at a time (four pixels against one vector of 8 filters, two passes per group): each
    /// weight vector and tap offset is loaded once for all four, and no adder keeps a copy of its old sum (the carry is
    /// taken from the new sum, <see cref="Csa"/>), so the ~30 live vectors fit the 32 zmm registers. Two pixels at a
    /// time (the kernel before) loaded every weight vector and offset twice as often; in L1 on Zen 5, one core, bits per
    /// cycle at 16 / 32 / 64 / 128 steps: 222 / 251 / 305 / 330 with two pixels, 262 / 319 / 366 / 392 with four, and
    /// 283 / 351 / 395 / 429 with the byte counts looked up by one VBMI permute (<see cref="BitCount.ByteCountsLookup"/>). Without
    /// AVX-512F the same bits come from portable vector operations (the emulated path). <c>totalsScratch</c> is
    /// unused: the 64-bit sums stay in registers.</para>
    /// </remarks>
    internal static void BlockCsa512(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group,
                                     ulong* totalsScratch, int* counts)
    {
        CsaFourPixels(x0, pixelStride, offsets, steps, group, counts);
        CsaFourPixels(x0, pixelStride, offsets, steps, group + 8, counts + 8);
    }

    /// <summary>Four pixels against 8 filters (one vector of the group, at <paramref name="w"/> + 16·j per step): four
    /// accumulators share each weight load and tap offset; 8 counts per pixel i to <c>counts + 16·i</c>.</summary>
    private static void CsaFourPixels(ulong* x, nint ps, int* offsets, int steps, ulong* w, int* counts)
    {
        const int stepWords = FiltersPerGroupCsa;
        (Vector512<byte> table0, Vector512<byte> table1) = BitCount.LookupTables512(); // the byte-count lookup's two registers
        Vector512<ulong> onesA = default, onesB = default, onesC = default, onesD = default;
        Vector512<ulong> twosA = default, twosB = default, twosC = default, twosD = default;
        Vector512<ulong> foursA = default, foursB = default, foursC = default, foursD = default;
        Vector512<ulong> totalA = default, totalB = default, totalC = default, totalD = default;
        int blocks = steps / StepsPerCsaBlock, j = 0;
        for (int b0 = 0; b0 < blocks; b0 += MaxCsaBlocksPerByteSum)
        {
            int b1 = Math.Min(blocks, b0 + MaxCsaBlocksPerByteSum);
            Vector512<byte> eightsA = default, eightsB = default, eightsC = default, eightsD = default;
            for (int b = b0; b < b1; b++, j += StepsPerCsaBlock)
            {
                ulong* wj = w + (nint)j * stepWords;
                int* off = offsets + j;
                // steps 0..3: two carry pairs per pixel into twos, carrying p4 (weight 4)
                Pair(x, ps, wj, off, 0, ref onesA, ref onesB, ref onesC, ref onesD, out Vector512<ulong> cA, out Vector512<ulong> cB, out Vector512<ulong> cC, out Vector512<ulong> cD);
                Pair(x, ps, wj, off, 2, ref onesA, ref onesB, ref onesC, ref onesD, out Vector512<ulong> dA, out Vector512<ulong> dB, out Vector512<ulong> dC, out Vector512<ulong> dD);
                Vector512<ulong> p4A = Csa(ref twosA, cA, dA), p4B = Csa(ref twosB, cB, dB), p4C = Csa(ref twosC, cC, dC), p4D = Csa(ref twosD, cD, dD);
                // steps 4..7 likewise (q4), then fours ⊕ p4 ⊕ q4 carries one eights vector per pixel
                Pair(x, ps, wj, off, 4, ref onesA, ref onesB, ref onesC, ref onesD, out cA, out cB, out cC, out cD);
                Pair(x, ps, wj, off, 6, ref onesA, ref onesB, ref onesC, ref onesD, out dA, out dB, out dC, out dD);
                eightsA += BitCount.ByteCountsLookup(Csa(ref foursA, p4A, Csa(ref twosA, cA, dA)), table0, table1);
                eightsB += BitCount.ByteCountsLookup(Csa(ref foursB, p4B, Csa(ref twosB, cB, dB)), table0, table1);
                eightsC += BitCount.ByteCountsLookup(Csa(ref foursC, p4C, Csa(ref twosC, cC, dC)), table0, table1);
                eightsD += BitCount.ByteCountsLookup(Csa(ref foursD, p4D, Csa(ref twosD, cD, dD)), table0, table1);
            }
            totalA += BitCount.SumBytes(eightsA) << 3;
            totalB += BitCount.SumBytes(eightsB) << 3;
            totalC += BitCount.SumBytes(eightsC) << 3;
            totalD += BitCount.SumBytes(eightsD) << 3;
        }
        // tail pairs: one more CSA into ones each, its carry (weight 2) counted directly — 11 ops per pair instead of
        // 14 for two lookups (a 128-channel 3×3 conv has 18 steps: 2 blocks and one tail pair)
        Vector512<byte> carriesA = default, carriesB = default, carriesC = default, carriesD = default;
        for (; j + 2 <= steps; j += 2)
        {
            Pair(x, ps, w + (nint)j * stepWords, offsets + j, 0, ref onesA, ref onesB, ref onesC, ref onesD,
                 out Vector512<ulong> cA, out Vector512<ulong> cB, out Vector512<ulong> cC, out Vector512<ulong> cD);
            carriesA += BitCount.ByteCountsLookup(cA, table0, table1);
            carriesB += BitCount.ByteCountsLookup(cB, table0, table1);
            carriesC += BitCount.ByteCountsLookup(cC, table0, table1);
            carriesD += BitCount.ByteCountsLookup(cD, table0, table1);
        }
        // per byte: ones + 2·twos + 4·fours ≤ 8 + 16 + 32, 2·carries ≤ 2·3·8, one last lookup ≤ 8: ≤ 112
        Vector512<byte> restA = Weighted(onesA, twosA, foursA, table0, table1) + carriesA + carriesA;
        Vector512<byte> restB = Weighted(onesB, twosB, foursB, table0, table1) + carriesB + carriesB;
        Vector512<byte> restC = Weighted(onesC, twosC, foursC, table0, table1) + carriesC + carriesC;
        Vector512<byte> restD = Weighted(onesD, twosD, foursD, table0, table1) + carriesD + carriesD;
        if (j < steps)
        {
            Vector512<ulong> wv = Vector512.Load(w + (nint)j * stepWords);
            ulong* p = x + offsets[j];
            restA += BitCount.ByteCountsLookup(Vector512.Create(p[0]) ^ wv, table0, table1);
            restB += BitCount.ByteCountsLookup(Vector512.Create(p[ps]) ^ wv, table0, table1);
            restC += BitCount.ByteCountsLookup(Vector512.Create(p[2 * ps]) ^ wv, table0, table1);
            restD += BitCount.ByteCountsLookup(Vector512.Create(p[3 * ps]) ^ wv, table0, table1);
        }
        totalA += BitCount.SumBytes(restA);
        totalB += BitCount.SumBytes(restB);
        totalC += BitCount.SumBytes(restC);
        totalD += BitCount.SumBytes(restD);
        // 64-bit lane sums (< 2³¹) narrowed to 8 ints per pixel, in filter order
        Vector512<int> ab = Vector512.Narrow(totalA, totalB).AsInt32(), cd = Vector512.Narrow(totalC, totalD).AsInt32();
        ab.GetLower().Store(counts);
        ab.GetUpper().Store(counts + FiltersPerGroupCsa);
        cd.GetLower().Store(counts + 2 * FiltersPerGroupCsa);
        cd.GetUpper().Store(counts + 3 * FiltersPerGroupCsa);
    }

    /// <summary>Steps <paramref name="first"/> and +1 for four pixels <paramref name="ps"/> words apart: d = x ⊕ w per
    /// step, then <c>ones, carry = CSA(ones, d_first, d_first+1)</c> per pixel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pair(ulong* x, nint ps, ulong* w, int* off, int first,
                             ref Vector512<ulong> onesA, ref Vector512<ulong> onesB, ref Vector512<ulong> onesC, ref Vector512<ulong> onesD,
                             out Vector512<ulong> carryA, out Vector512<ulong> carryB, out Vector512<ulong> carryC, out Vector512<ulong> carryD)
    {
        const int stepWords = FiltersPerGroupCsa;
        Vector512<ulong> w0 = Vector512.Load(w + first * stepWords), w1 = Vector512.Load(w + (first + 1) * stepWords);
        ulong* p0 = x + off[first], p1 = x + off[first + 1];
        carryA = Csa(ref onesA, Vector512.Create(p0[0]) ^ w0, Vector512.Create(p1[0]) ^ w1);
        carryB = Csa(ref onesB, Vector512.Create(p0[ps]) ^ w0, Vector512.Create(p1[ps]) ^ w1);
        carryC = Csa(ref onesC, Vector512.Create(p0[2 * ps]) ^ w0, Vector512.Create(p1[2 * ps]) ^ w1);
        carryD = Csa(ref onesD, Vector512.Create(p0[3 * ps]) ^ w0, Vector512.Create(p1[3 * ps]) ^ w1);
    }

    /// <summary>Carry-save adder on bit slices: <c>sum ← sum ⊕ b ⊕ c</c>, returns the carry <c>maj(sum, b, c)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Csa(ref Vector512<ulong> sum, Vector512<ulong> b, Vector512<ulong> c)
    {
        if (Avx512F.IsSupported)
        {
            // the carry from the new sum s' = a ⊕ b ⊕ c: maj(a, b, c) = (b = c) ? b : ¬s' (truth table 0xB2 on b, s', c),
            // so the old sum need not be kept (no register copy per adder); b is dead afterwards and takes the carry
            sum = Avx512F.TernaryLogic(sum, b, c, 0x96);
            return Avx512F.TernaryLogic(b, sum, c, 0xB2);
        }
        Vector512<ulong> a = sum, u = a ^ b;
        sum = u ^ c;
        return (a & b) | (u & c);
    }

    /// <summary>Per byte, popcount(ones) + 2·popcount(twos) + 4·popcount(fours).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Weighted(Vector512<ulong> ones, Vector512<ulong> twos, Vector512<ulong> fours,
                                            Vector512<byte> table0, Vector512<byte> table1)
    {
        Vector512<byte> t = BitCount.ByteCountsLookup(twos, table0, table1), f = BitCount.ByteCountsLookup(fours, table0, table1);
        return BitCount.ByteCountsLookup(ones, table0, table1) + t + t + ((f + f) + (f + f));
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
