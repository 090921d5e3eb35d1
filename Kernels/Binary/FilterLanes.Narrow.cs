using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels.Binary;

internal static unsafe partial class FilterLanes
{
    /// <summary>Filters per group of the narrow kernel: one 256-bit vector of 16-bit lanes.</summary>
    internal const int FiltersPerGroupNarrow = 16;

    /// <summary>The narrow kernel a convolution with <paramref name="inChannels"/> input channels can take: 16 when each
    /// pixel's word holds at most 16 bits (the rest zero), 32 for at most 32, else 0 (the 64-bit-lane kernels).</summary>
    internal static int NarrowLaneBits(int inChannels) => inChannels <= 16 ? 16 : inChannels <= 32 ? 32 : 0;

    /// <summary>XOR-popcount of layers with at most 16 input channels, one filter per <b>16-bit</b> lane: 16 filters
    /// in one 256-bit vector instead of 4 in 64-bit lanes, so no lane counts padding. ResNet-20's first stage
    /// (16 channels) spent three quarters of every 64-bit XOR-popcount on zero bits.</summary>
    /// <remarks>
    /// <para>Per step (one tap) and pixel: the pixel's 16-bit word is broadcast to the 16 lanes and XORed with the 16
    /// filters' words; each byte's popcount is <c>T[b &amp; 15] + T[b &gt;&gt; 4]</c> by nibble lookup (the high
    /// nibbles come from a 16-bit shift by 4 and the same mask: the bits shifted in from the upper byte are masked
    /// off). Byte counts grow by at most 8 per step, so up to <see cref="MaxStepsPerChunk"/> steps accumulate in
    /// bytes; then the two bytes of each lane are added into 16-bit lane totals (at most 16·steps, far below 2¹⁶ for
    /// any kernel this layer can have). Four pixels per block, as the other kernels.</para>
    /// <para>Layouts: activations raw (a pixel's channels in the low 16 bits of its word, the rest zero, as the packer
    /// writes them); per group and step, the 16 filters' words as 16 ushorts (4 ulongs). Lanes past the filter count
    /// are zero and their counts are dropped by the caller.</para>
    /// </remarks>
    internal static void BlockNarrow16(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group, int* counts)
    {
        Vector256<byte> table = NibbleCounts256(), nibble = Vector256.Create((byte)0x0F);
        Vector256<ushort> total0 = default, total1 = default, total2 = default, total3 = default;
        ulong* x1 = x0 + pixelStride, x2 = x1 + pixelStride, x3 = x2 + pixelStride;
        int chunk = ChunkLength(steps);
        for (int j0 = 0; j0 < steps; j0 += chunk)
        {
            int j1 = Math.Min(steps, j0 + chunk);
            Vector256<byte> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int j = j0; j < j1; j++)
            {
                nint off = offsets[j];
                Vector256<ushort> w = Vector256.Load((ushort*)(group + (nint)j * 4));
                a0 += CountBytes(Vector256.Create(*(ushort*)(x0 + off)) ^ w, table, nibble);
                a1 += CountBytes(Vector256.Create(*(ushort*)(x1 + off)) ^ w, table, nibble);
                a2 += CountBytes(Vector256.Create(*(ushort*)(x2 + off)) ^ w, table, nibble);
                a3 += CountBytes(Vector256.Create(*(ushort*)(x3 + off)) ^ w, table, nibble);
            }
            total0 += LaneSums(a0);
            total1 += LaneSums(a1);
            total2 += LaneSums(a2);
            total3 += LaneSums(a3);
        }
        StoreCounts(total0, counts);
        StoreCounts(total1, counts + FiltersPerGroupNarrow);
        StoreCounts(total2, counts + 2 * FiltersPerGroupNarrow);
        StoreCounts(total3, counts + 3 * FiltersPerGroupNarrow);
    }

    /// <summary>Popcount of every byte of <paramref name="v"/> (0..8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> CountBytes(Vector256<ushort> v, Vector256<byte> table, Vector256<byte> nibble) =>
        Lookup(table, v.AsByte() & nibble) + Lookup(table, Vector256.ShiftRightLogical(v, 4).AsByte() & nibble);

    /// <summary>The two bytes of each 16-bit lane added: <c>(a &amp; 0xFF) + (a &gt;&gt; 8)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ushort> LaneSums(Vector256<byte> a) =>
        (a.AsUInt16() & Vector256.Create((ushort)0xFF)) + Vector256.ShiftRightLogical(a.AsUInt16(), 8);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreCounts(Vector256<ushort> totals, int* counts)
    {
        (Vector256<uint> lower, Vector256<uint> upper) = Vector256.Widen(totals);
        lower.AsInt32().Store(counts);
        upper.AsInt32().Store(counts + 8);
    }

    /// <summary>Per group and step, the 16 filters' low 16 bits as ushorts (lanes past <paramref name="count"/> zero).</summary>
    internal static void PackGroupsNarrow16(ulong* filters, int count, int rowStride, int steps, ulong* groups)
    {
        int groupCount = (count + FiltersPerGroupNarrow - 1) / FiltersPerGroupNarrow;
        for (int g = 0; g < groupCount; g++)
            for (int j = 0; j < steps; j++)
            {
                ushort* dst = (ushort*)(groups + ((nint)g * steps + j) * 4);
                for (int f = 0; f < FiltersPerGroupNarrow; f++)
                {
                    int o = g * FiltersPerGroupNarrow + f;
                    dst[f] = o < count ? (ushort)filters[(nint)o * rowStride + j] : (ushort)0;
                }
            }
    }

    /// <summary>The narrow kernel (<see cref="BlockNarrow16"/>), for layers of at most 16 input channels on either
    /// vector path.</summary>
    internal readonly struct KernelNarrow16 : IKernel
    {
        public static int GroupSize => FiltersPerGroupNarrow;

        public static int WordFactor => 1;

        public static int StepWords => 4;

        public static void PackGroups(ulong* filters, int count, int rowStride, int steps, ulong* groups) =>
            PackGroupsNarrow16(filters, count, rowStride, steps, groups);

        public static void PrepareActivations(ulong* source, ulong* destination, int words) =>
            new ReadOnlySpan<ulong>(source, words).CopyTo(new Span<ulong>(destination, words));

        public static void Block(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group, ulong* totalsScratch, int* counts) =>
            BlockNarrow16(x0, pixelStride, offsets, steps, group, counts);
    }

    /// <summary><see cref="BlockNarrow16"/> for 17–32 input channels: one filter per 32-bit lane, two vectors of 8
    /// filters per group of 16. Each lane's four byte counts are added pairwise into 16-bit, then 32-bit totals.</summary>
    internal static void BlockNarrow32(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group, int* counts)
    {
        Vector256<byte> table = NibbleCounts256(), nibble = Vector256.Create((byte)0x0F);
        Vector256<uint> t0e = default, t0o = default, t1e = default, t1o = default, t2e = default, t2o = default, t3e = default, t3o = default;
        ulong* x1 = x0 + pixelStride, x2 = x1 + pixelStride, x3 = x2 + pixelStride;
        int chunk = ChunkLength(steps);
        for (int j0 = 0; j0 < steps; j0 += chunk)
        {
            int j1 = Math.Min(steps, j0 + chunk);
            Vector256<byte> a0e = default, a0o = default, a1e = default, a1o = default, a2e = default, a2o = default, a3e = default, a3o = default;
            for (int j = j0; j < j1; j++)
            {
                nint off = offsets[j];
                Vector256<uint> we = Vector256.Load((uint*)(group + (nint)j * 8)), wo = Vector256.Load((uint*)(group + (nint)j * 8 + 4));
                Vector256<uint> b0 = Vector256.Create(*(uint*)(x0 + off)), b1 = Vector256.Create(*(uint*)(x1 + off));
                a0e += CountBytes((b0 ^ we).AsUInt16(), table, nibble);
                a0o += CountBytes((b0 ^ wo).AsUInt16(), table, nibble);
                a1e += CountBytes((b1 ^ we).AsUInt16(), table, nibble);
                a1o += CountBytes((b1 ^ wo).AsUInt16(), table, nibble);
                Vector256<uint> b2 = Vector256.Create(*(uint*)(x2 + off)), b3 = Vector256.Create(*(uint*)(x3 + off));
                a2e += CountBytes((b2 ^ we).AsUInt16(), table, nibble);
                a2o += CountBytes((b2 ^ wo).AsUInt16(), table, nibble);
                a3e += CountBytes((b3 ^ we).AsUInt16(), table, nibble);
                a3o += CountBytes((b3 ^ wo).AsUInt16(), table, nibble);
            }
            t0e += LaneSums32(a0e); t0o += LaneSums32(a0o);
            t1e += LaneSums32(a1e); t1o += LaneSums32(a1o);
            t2e += LaneSums32(a2e); t2o += LaneSums32(a2o);
            t3e += LaneSums32(a3e); t3o += LaneSums32(a3o);
        }
        t0e.AsInt32().Store(counts); t0o.AsInt32().Store(counts + 8);
        t1e.AsInt32().Store(counts + 16); t1o.AsInt32().Store(counts + 24);
        t2e.AsInt32().Store(counts + 32); t2o.AsInt32().Store(counts + 40);
        t3e.AsInt32().Store(counts + 48); t3o.AsInt32().Store(counts + 56);
    }

    /// <summary>The four bytes of each 32-bit lane added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> LaneSums32(Vector256<byte> a)
    {
        Vector256<ushort> pairs = LaneSums(a); // two 16-bit sums per lane
        return (pairs.AsUInt32() & Vector256.Create(0xFFFFu)) + Vector256.ShiftRightLogical(pairs.AsUInt32(), 16);
    }

    /// <summary>Per group and step, filters 0–7 then 8–15 of the group as uints (their low 32 bits).</summary>
    internal static void PackGroupsNarrow32(ulong* filters, int count, int rowStride, int steps, ulong* groups)
    {
        int groupCount = (count + FiltersPerGroupNarrow - 1) / FiltersPerGroupNarrow;
        for (int g = 0; g < groupCount; g++)
            for (int j = 0; j < steps; j++)
            {
                uint* dst = (uint*)(groups + ((nint)g * steps + j) * 8);
                for (int f = 0; f < FiltersPerGroupNarrow; f++)
                {
                    int o = g * FiltersPerGroupNarrow + f;
                    dst[f] = o < count ? (uint)filters[(nint)o * rowStride + j] : 0u;
                }
            }
    }

    /// <summary>The 32-bit-lane narrow kernel (<see cref="BlockNarrow32"/>).</summary>
    internal readonly struct KernelNarrow32 : IKernel
    {
        public static int GroupSize => FiltersPerGroupNarrow;

        public static int WordFactor => 1;

        public static int StepWords => 8;

        public static void PackGroups(ulong* filters, int count, int rowStride, int steps, ulong* groups) =>
            PackGroupsNarrow32(filters, count, rowStride, steps, groups);

        public static void PrepareActivations(ulong* source, ulong* destination, int words) =>
            new ReadOnlySpan<ulong>(source, words).CopyTo(new Span<ulong>(destination, words));

        public static void Block(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group, ulong* totalsScratch, int* counts) =>
            BlockNarrow32(x0, pixelStride, offsets, steps, group, counts);
    }
}
