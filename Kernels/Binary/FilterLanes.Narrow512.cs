using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BinaryGrad.Kernels.Binary;

internal static unsafe partial class FilterLanes
{
    /// <summary><see cref="BlockNarrow16"/> on 512-bit vectors: two pixels per vector, pixel 0's 16 filter lanes in the
    /// low half and pixel 1's in the high half (the 16 filters' words repeated in both halves), so each vector
    /// instruction counts two pixels. Same arithmetic per lane (nibble lookup, byte counts for up to
    /// <see cref="MaxStepsPerChunk"/> steps, then 16-bit lane sums), so the counts equal the 256-bit kernel's.</summary>
    /// <remarks>Why: on Zen 4 and Zen 5 a 512-bit operation costs no more issue slots than a 256-bit one (Zen 5
    /// executes it at full width), and ResNet-20's 16-channel stage spends most of its counting in this loop.</remarks>
    internal static void BlockNarrow16x512(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group, int* counts)
    {
        Vector512<byte> table = NibbleTable512(), nibble = Vector512.Create((byte)0x0F);
        Vector512<ushort> total01 = default, total23 = default;
        ulong* x1 = x0 + pixelStride, x2 = x1 + pixelStride, x3 = x2 + pixelStride;
        // adjacent pixels (stride 1): one 32-byte load holds all four words, and one vpermw spreads two of them over
        // the halves of a vector — 3 operations per step instead of 4 broadcasts and 2 inserts
        bool adjacent = pixelStride == 1 && Avx512BW.IsSupported;
        Vector512<ushort> spread01 = Vector512.Create(Vector256.Create((ushort)0), Vector256.Create((ushort)4));
        Vector512<ushort> spread23 = Vector512.Create(Vector256.Create((ushort)8), Vector256.Create((ushort)12));
        int chunk = ChunkLength(steps);
        for (int j0 = 0; j0 < steps; j0 += chunk)
        {
            int j1 = Math.Min(steps, j0 + chunk);
            Vector512<byte> a01 = default, a23 = default;
            for (int j = j0; j < j1; j++)
            {
                nint off = offsets[j];
                Vector512<ushort> w = Vector512.Create(Vector256.Load((ushort*)(group + (nint)j * 4)));
                Vector512<ushort> p01, p23;
                if (adjacent)
                {
                    Vector512<ushort> words = Vector256.Load((ushort*)(x0 + off)).ToVector512Unsafe();
                    p01 = Avx512BW.PermuteVar32x16(words, spread01);
                    p23 = Avx512BW.PermuteVar32x16(words, spread23);
                }
                else
                {
                    p01 = Vector512.Create(Vector256.Create(*(ushort*)(x0 + off)), Vector256.Create(*(ushort*)(x1 + off)));
                    p23 = Vector512.Create(Vector256.Create(*(ushort*)(x2 + off)), Vector256.Create(*(ushort*)(x3 + off)));
                }
                a01 += CountBytes512(p01 ^ w, table, nibble);
                a23 += CountBytes512(p23 ^ w, table, nibble);
            }
            total01 += LaneSums512(a01);
            total23 += LaneSums512(a23);
        }
        StoreCounts512(total01, counts);
        StoreCounts512(total23, counts + 2 * FiltersPerGroupNarrow);
    }

    /// <summary><see cref="BlockNarrow32"/> on 512-bit vectors: the group's 16 filters in the 16 32-bit lanes of one
    /// vector (filters 0–7 then 8–15, the order <see cref="PackGroupsNarrow32"/> stores them in), so a pixel's step is
    /// one XOR and one nibble count instead of two of each. Same per-lane arithmetic, so the counts are equal.</summary>
    internal static void BlockNarrow32x512(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group, int* counts)
    {
        Vector512<byte> table = NibbleTable512(), nibble = Vector512.Create((byte)0x0F);
        Vector512<uint> t0 = default, t1 = default, t2 = default, t3 = default;
        ulong* x1 = x0 + pixelStride, x2 = x1 + pixelStride, x3 = x2 + pixelStride;
        int chunk = ChunkLength(steps);
        for (int j0 = 0; j0 < steps; j0 += chunk)
        {
            int j1 = Math.Min(steps, j0 + chunk);
            Vector512<byte> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int j = j0; j < j1; j++)
            {
                nint off = offsets[j];
                Vector512<uint> w = Vector512.Load((uint*)(group + (nint)j * 8));
                a0 += CountBytes512((Vector512.Create(*(uint*)(x0 + off)) ^ w).AsUInt16(), table, nibble);
                a1 += CountBytes512((Vector512.Create(*(uint*)(x1 + off)) ^ w).AsUInt16(), table, nibble);
                a2 += CountBytes512((Vector512.Create(*(uint*)(x2 + off)) ^ w).AsUInt16(), table, nibble);
                a3 += CountBytes512((Vector512.Create(*(uint*)(x3 + off)) ^ w).AsUInt16(), table, nibble);
            }
            t0 += LaneSums32x512(a0);
            t1 += LaneSums32x512(a1);
            t2 += LaneSums32x512(a2);
            t3 += LaneSums32x512(a3);
        }
        t0.AsInt32().Store(counts);
        t1.AsInt32().Store(counts + FiltersPerGroupNarrow);
        t2.AsInt32().Store(counts + 2 * FiltersPerGroupNarrow);
        t3.AsInt32().Store(counts + 3 * FiltersPerGroupNarrow);
    }

    /// <summary>The four byte counts of each 32-bit lane added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> LaneSums32x512(Vector512<byte> a)
    {
        Vector512<ushort> pairs = LaneSums512(a);
        return (pairs.AsUInt32() & Vector512.Create(0xFFFFu)) + Vector512.ShiftRightLogical(pairs.AsUInt32(), 16);
    }

    /// <summary>The 512-bit 32-bit-lane narrow kernel (<see cref="BlockNarrow32x512"/>): same filter layout as
    /// <see cref="KernelNarrow32"/>.</summary>
    internal readonly struct KernelNarrow32x512 : IKernel
    {
        public static int GroupSize => FiltersPerGroupNarrow;

        public static int WordFactor => 1;

        public static int StepWords => 8;

        public static void PackGroups(ulong* filters, int count, int rowStride, int steps, ulong* groups) =>
            PackGroupsNarrow32(filters, count, rowStride, steps, groups);

        public static void PrepareActivations(ulong* source, ulong* destination, int words) =>
            new ReadOnlySpan<ulong>(source, words).CopyTo(new Span<ulong>(destination, words));

        public static void Block(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group, ulong* totalsScratch, int* counts) =>
            BlockNarrow32x512(x0, pixelStride, offsets, steps, group, counts);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> CountBytes512(Vector512<ushort> v, Vector512<byte> table, Vector512<byte> nibble) =>
        Lookup512(table, v.AsByte() & nibble) + Lookup512(table, Vector512.ShiftRightLogical(v, 4).AsByte() & nibble);

    /// <summary>table[nibble] per byte: <c>vpshufb zmm</c> with AVX-512BW; the portable shuffle otherwise (indices &lt; 16
    /// and the table repeated in every 128-bit lane, so both give the same bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Lookup512(Vector512<byte> table, Vector512<byte> nibbles) =>
        Avx512BW.IsSupported ? Avx512BW.Shuffle(table, nibbles) : Vector512.Shuffle(table, nibbles);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ushort> LaneSums512(Vector512<byte> a) =>
        (a.AsUInt16() & Vector512.Create((ushort)0xFF)) + Vector512.ShiftRightLogical(a.AsUInt16(), 8);

    /// <summary>Lanes 0–15 (the first pixel's filters) to <c>counts[0..15]</c>, lanes 16–31 to <c>counts[16..31]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreCounts512(Vector512<ushort> totals, int* counts)
    {
        (Vector512<uint> lower, Vector512<uint> upper) = Vector512.Widen(totals);
        lower.AsInt32().Store(counts);
        upper.AsInt32().Store(counts + FiltersPerGroupNarrow);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> NibbleTable512() =>
        Vector512.Create(Vector256.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));

    /// <summary>The 512-bit narrow kernel (<see cref="BlockNarrow16x512"/>): same filter layout as
    /// <see cref="KernelNarrow16"/>.</summary>
    internal readonly struct KernelNarrow16x512 : IKernel
    {
        public static int GroupSize => FiltersPerGroupNarrow;

        public static int WordFactor => 1;

        public static int StepWords => 4;

        public static void PackGroups(ulong* filters, int count, int rowStride, int steps, ulong* groups) =>
            PackGroupsNarrow16(filters, count, rowStride, steps, groups);

        public static void PrepareActivations(ulong* source, ulong* destination, int words) =>
            new ReadOnlySpan<ulong>(source, words).CopyTo(new Span<ulong>(destination, words));

        public static void Block(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group, ulong* totalsScratch, int* counts) =>
            BlockNarrow16x512(x0, pixelStride, offsets, steps, group, counts);
    }
}
