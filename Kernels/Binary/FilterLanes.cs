using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BinaryGrad.Kernels.Binary;

/// <summary>XOR-popcount with one filter per 64-bit vector lane: the activation word is broadcast to every lane and
/// XORed with the same word of 4 (Vector256) or 8 (Vector512) different filters at once, so every lane accumulates
/// one output's mismatch count and no horizontal sum is ever needed. The Vector256 kernel (<see cref="Block256"/>)
/// counts by nibble lookup on pre-split words, described below; the Vector512 kernel counts by carry-save addition on
/// raw words (<see cref="BlockCsa512"/>, FilterLanes.Csa.cs).</summary>
/// <remarks>
/// <para><b>Why lanes = filters.</b> The classic layout puts consecutive words of one dot product in one vector
/// and sums the vector horizontally at the end. A binary 3×3 convolution over 128 channels has only 18 words per
/// dot product (4.5 vectors of 256 bits), so that final reduction (and the padding of 18 to 20 words) cost as much
/// as the counting. Here a vector holds word j of several filters; after all words the 64-bit lanes already are
/// the per-filter counts, for any number of words.</para>
/// <para><b>Pre-split nibbles.</b> The nibble lookup counts a byte as <c>T[b &amp; 15] + T[b &gt;&gt; 4]</c> with
/// <c>vpshufb</c>. Because <c>(x XOR w) &amp; 15 = (x &amp; 15) XOR (w &amp; 15)</c>, both operands are stored
/// already split into their low nibbles <c>v &amp; 0x0F…</c> and high nibbles <c>(v &gt;&gt; 4) &amp; 0x0F…</c>
/// (the weights once per call, the activations once per image), so a 256-bit step is 6 vector ops —
/// 2 XOR, 2 <c>vpshufb</c>, 2 byte adds — instead of the 8 of the unsplit lookup (which also shifts and masks).
/// Byte counts grow by at most 8 per step (4 per nibble), so up to <see cref="MaxStepsPerChunk"/> = 31 steps
/// (248 ≤ 255) accumulate in bytes before one <c>vpsadbw</c> turns them into 64-bit lane sums.</para>
/// <para><b>Bound</b> (Zen 3: 4 vector ALU pipes, 2 of which shuffle): 6 ops per 256 bits on 4 pipes is
/// 1.5 cycles, i.e. 170.7 bits per cycle per core; the 2 shuffles per step need only 1 cycle on the 2 shuffle
/// pipes. The broadcasts are folded into loads.</para>
/// <para><b>Layouts.</b> Filters come in groups of <see cref="FiltersPerGroup256"/> (8): per step j, 4 vectors —
/// low nibbles of filters {0,2,4,6}, of {1,3,5,7}, then the high nibbles of both — so that
/// <c>sad(even) | sad(odd) &lt;&lt; 32</c> read as 8 ints is filters 0..7 in order. Activations are stored with
/// each word's low- and high-nibble halves adjacent (<c>x[2i]</c>, <c>x[2i+1]</c>), so one pointer per pixel
/// reaches both. Step j of pixel p reads <c>x + base(p) + offset[j]</c>; a GEMM uses <c>offset[j] = 2j</c>,
/// a convolution the tap and word of step j in a zero-padded image.</para>
/// </remarks>
internal static unsafe partial class FilterLanes
{
    /// <summary>Filters per group on the Vector256 path: two vectors of four 64-bit lanes.</summary>
    internal const int FiltersPerGroup256 = 8;

    /// <summary>Pixels (rows of the activation side) per register block: 4 pixels × 2 filter vectors = 8 byte
    /// accumulators, plus the table, 4 weight vectors and 2 broadcasts, within the 16 vector registers.</summary>
    internal const int PixelsPerBlock = 4;

    /// <summary>Steps whose byte counts (≤ 8 each) fit a byte: 31·8 = 248 ≤ 255.</summary>
    internal const int MaxStepsPerChunk = 31;

    private const ulong LowNibbles = 0x0F0F0F0F0F0F0F0FUL;

    /// <summary>Low nibbles of every byte: <c>v &amp; 0x0F…</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Low(ulong v) => v & LowNibbles;

    /// <summary>High nibbles of every byte moved down: <c>(v &gt;&gt; 4) &amp; 0x0F…</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong High(ulong v) => (v >> 4) & LowNibbles;

    /// <summary>Words of one filter group per step: 2 halves (low, high nibbles) × 2 vectors × lanes.</summary>
    internal static int WordsPerGroupStep(int filtersPerGroup) => 2 * filtersPerGroup;

    /// <summary>Interleaves <paramref name="count"/> filters of <paramref name="steps"/> words each (filter o's word j
    /// at <c>filters[o·rowStride + j]</c>) into groups: per group and step, the low nibbles of the even filters, of
    /// the odd filters, then the high nibbles of both. Lanes past <paramref name="count"/> are zero.</summary>
    internal static void PackGroups(ulong* filters, int count, int rowStride, int steps, int filtersPerGroup, ulong* groups)
    {
        int lanes = filtersPerGroup / 2, groupCount = (count + filtersPerGroup - 1) / filtersPerGroup;
        int stepWords = WordsPerGroupStep(filtersPerGroup);
        for (int g = 0; g < groupCount; g++)
            for (int j = 0; j < steps; j++)
            {
                ulong* dst = groups + ((nint)g * steps + j) * stepWords;
                for (int f = 0; f < filtersPerGroup; f++)
                {
                    int o = g * filtersPerGroup + f, lane = f >> 1, parity = f & 1;
                    ulong w = o < count ? filters[(nint)o * rowStride + j] : 0;
                    dst[parity * lanes + lane] = Low(w);
                    dst[2 * lanes + parity * lanes + lane] = High(w);
                }
            }
    }

    /// <summary>Writes word i of <paramref name="source"/> as <c>split[2i] = Low</c>, <c>split[2i+1] = High</c>.</summary>
    internal static void Split(ulong* source, ulong* split, int words)
    {
        for (int i = 0; i < words; i++)
        {
            ulong v = source[i];
            split[2 * i] = Low(v);
            split[2 * i + 1] = High(v);
        }
    }

    /// <summary>Mismatch counts of 4 pixels against the 8 filters of one group (Vector256):
    /// <c>counts[i][f] = Σ_j popcount(x(pᵢ, j) XOR w(f, j))</c> over <paramref name="steps"/> steps.</summary>
    /// <param name="x0">Pixel 0's split words; pixel i's are at <c>x0 + i·pixelStride</c>.</param>
    /// <param name="pixelStride">Distance between the pixels, in ulongs.</param>
    /// <param name="offsets">Per step, the distance (in ulongs) from a pixel's base to its low-nibble word.</param>
    /// <param name="steps">Words per dot product.</param>
    /// <param name="group">The group's interleaved filter words (<see cref="PackGroups"/>).</param>
    /// <param name="totalsScratch">Scratch of <see cref="TotalsScratchWords"/> ulongs (the 64-bit sums across chunks).</param>
    /// <param name="counts">4 × 8 ints: pixel i's mismatch counts for filters 0..7 at <c>counts[8i..8i+7]</c>.</param>
    internal static void Block256(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group,
                                  ulong* totalsScratch, int* counts)
    {
        Vector256<ulong>* totals = (Vector256<ulong>*)totalsScratch;
        Vector256<byte> table = NibbleCounts256();
        for (int k = 0; k < 8; k++) totals[k] = default;
        ulong* x1 = x0 + pixelStride, x2 = x1 + pixelStride, x3 = x2 + pixelStride;
        int chunk = ChunkLength(steps);
        for (int j0 = 0; j0 < steps; j0 += chunk)
        {
            int j1 = Math.Min(steps, j0 + chunk);
            Vector256<byte> a0e = default, a0o = default, a1e = default, a1o = default;
            Vector256<byte> a2e = default, a2o = default, a3e = default, a3o = default;
            // Low-nibble halves of all 4 pixels first, then the high halves: only 2 weight vectors, 1 broadcast
            // and 1 temporary are live beside the 8 accumulators and the table (13 of the 16 ymm registers).
            for (int j = j0; j < j1; j++)
            {
                nint off = offsets[j];
                Vector256<byte>* w = (Vector256<byte>*)(group + (nint)j * 16);
                Vector256<byte> even = w[0], odd = w[1];
                Vector256<byte> x = Vector256.Create(x0[off]).AsByte();
                a0e += Lookup(table, x ^ even); a0o += Lookup(table, x ^ odd);
                x = Vector256.Create(x1[off]).AsByte();
                a1e += Lookup(table, x ^ even); a1o += Lookup(table, x ^ odd);
                x = Vector256.Create(x2[off]).AsByte();
                a2e += Lookup(table, x ^ even); a2o += Lookup(table, x ^ odd);
                x = Vector256.Create(x3[off]).AsByte();
                a3e += Lookup(table, x ^ even); a3o += Lookup(table, x ^ odd);
                even = w[2];
                odd = w[3];
                x = Vector256.Create(x0[off + 1]).AsByte();
                a0e += Lookup(table, x ^ even); a0o += Lookup(table, x ^ odd);
                x = Vector256.Create(x1[off + 1]).AsByte();
                a1e += Lookup(table, x ^ even); a1o += Lookup(table, x ^ odd);
                x = Vector256.Create(x2[off + 1]).AsByte();
                a2e += Lookup(table, x ^ even); a2o += Lookup(table, x ^ odd);
                x = Vector256.Create(x3[off + 1]).AsByte();
                a3e += Lookup(table, x ^ even); a3o += Lookup(table, x ^ odd);
            }
            totals[0] += BitCount.SumBytes(a0e);
            totals[1] += BitCount.SumBytes(a0o);
            totals[2] += BitCount.SumBytes(a1e);
            totals[3] += BitCount.SumBytes(a1o);
            totals[4] += BitCount.SumBytes(a2e);
            totals[5] += BitCount.SumBytes(a2o);
            totals[6] += BitCount.SumBytes(a3e);
            totals[7] += BitCount.SumBytes(a3o);
        }
        // even filters in the low halves, odd ones in the high halves: ints in filter order
        for (int i = 0; i < 4; i++) (totals[2 * i] | (totals[2 * i + 1] << 32)).AsInt32().Store(counts + 8 * i);
    }

    /// <summary>Equal chunks of at most <see cref="MaxStepsPerChunk"/> steps (64 steps: 22 + 21 + 21, not 31 + 31 + 2).</summary>
    private static int ChunkLength(int steps)
    {
        int chunks = Math.Max(1, (steps + MaxStepsPerChunk - 1) / MaxStepsPerChunk);
        return (steps + chunks - 1) / chunks;
    }

    /// <summary>ulongs of scratch a block needs for its cross-chunk sums: 8 vectors of the widest path.</summary>
    internal const int TotalsScratchWords = 8 * 8;

    /// <summary>The widest group of any kernel (counts scratch is <see cref="PixelsPerBlock"/> times this).</summary>
    internal const int MaxGroupSize = 16;

    /// <summary>One of the block kernels (<see cref="Kernel256"/>, <see cref="KernelCsa512"/>), chosen once per call by the drivers (a generic parameter, so the
    /// call is direct).</summary>
    internal interface IKernel
    {
        /// <summary>Filters per group: two vectors of 64-bit lanes.</summary>
        static abstract int GroupSize { get; }

        /// <summary>ulongs an activation word occupies once prepared: 2 when split into nibble halves, 1 raw.</summary>
        static abstract int WordFactor { get; }

        /// <summary>ulongs of one group per step.</summary>
        static abstract int StepWords { get; }

        /// <summary>Interleaves filters into this kernel's group layout (lanes past <c>count</c> zero).</summary>
        static abstract void PackGroups(ulong* filters, int count, int rowStride, int steps, ulong* groups);

        /// <summary>Writes <c>words</c> activation words in this kernel's layout (<see cref="WordFactor"/> ulongs each).</summary>
        static abstract void PrepareActivations(ulong* source, ulong* destination, int words);

        /// <summary><see cref="Block256"/> or <see cref="BlockCsa512"/>.</summary>
        static abstract void Block(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group, ulong* totalsScratch, int* counts);
    }

    /// <summary>The Vector256 kernel (<see cref="Block256"/>).</summary>
    internal readonly struct Kernel256 : IKernel
    {
        public static int GroupSize => FiltersPerGroup256;

        public static int WordFactor => 2;

        public static int StepWords => WordsPerGroupStep(FiltersPerGroup256);

        public static void PackGroups(ulong* filters, int count, int rowStride, int steps, ulong* groups) =>
            FilterLanes.PackGroups(filters, count, rowStride, steps, FiltersPerGroup256, groups);

        public static void PrepareActivations(ulong* source, ulong* destination, int words) => Split(source, destination, words);

        public static void Block(ulong* x0, nint pixelStride, int* offsets, int steps, ulong* group, ulong* totalsScratch, int* counts) =>
            Block256(x0, pixelStride, offsets, steps, group, totalsScratch, counts);
    }

    /// <summary>Popcount (0..4) of each byte holding a nibble value 0..15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Lookup(Vector256<byte> table, Vector256<byte> nibbles) =>
        Avx2.IsSupported ? Avx2.Shuffle(table, nibbles) : Vector256.Shuffle(table, nibbles); // indices < 16: same bytes

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> NibbleCounts256() =>
        Vector256.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
}
