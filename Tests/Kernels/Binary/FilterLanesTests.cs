using System.Numerics;
using BinaryGrad.Kernels.Binary;
using NUnit.Framework;

namespace BinaryGrad.Tests.Kernels.Binary;

/// <summary>The lanes-are-filters kernel against one <see cref="BitOperations.PopCount(ulong)"/> per word on the
/// unsplit words: step counts below, at and past one byte-sum chunk (31), odd filter counts (zero lanes), scattered
/// per-step offsets and a pixel stride that is not a multiple of anything.</summary>
[TestFixture, Category("Kernels")]
public unsafe class FilterLanesTests
{
    /// <summary>Block256 (nibble lookup on split words) and BlockCsa512 (carry-save adders on raw words; the portable
    /// bitwise form when AVX-512F is absent). Step counts cover no carry-save block (1, 5), whole blocks (8, 64), blocks
    /// plus a tail (18, 31, 63), a full byte-sum chunk (250 = 31 blocks of 8 + 2) and three chunks of either kernel
    /// (521 = 65 blocks + 1).</summary>
    [Test]
    public void Block_EqualsPopcountOfXorPerPixelAndFilter([Values(1, 5, 8, 18, 31, 32, 63, 64, 250, 521)] int steps, [Values(8, 5)] int filters,
                                                           [Values(256, 512)] int bits)
    {
        bool csa = bits == 512;
        int groupSize = csa ? FilterLanes.FiltersPerGroupCsa : FilterLanes.FiltersPerGroup256, factor = csa ? 1 : 2;
        filters = csa ? filters * 2 - 1 : filters; // 15 and 9 of a 16-filter group
        var random = new Random(steps * 10 + filters);
        const int wordStride = 7, pixels = FilterLanes.PixelsPerBlock;
        int[] wordOffsets = Enumerable.Range(0, steps).Select(j => 3 * j + random.Next(3)).ToArray(); // distinct, increasing
        int rawWords = wordOffsets[^1] + 1 + (pixels - 1) * wordStride;
        ulong[] raw = Enumerable.Range(0, rawWords).Select(_ => (ulong)random.NextInt64() ^ ((ulong)random.Next() << 40)).ToArray();
        ulong[] weights = Enumerable.Range(0, filters * steps).Select(_ => (ulong)random.NextInt64() * 3).ToArray();
        ulong[] prepared = new ulong[rawWords * factor], totals = new ulong[FilterLanes.TotalsScratchWords];
        ulong[] groups = new ulong[steps * (csa ? FilterLanes.KernelCsa512.StepWords : FilterLanes.Kernel256.StepWords)];
        int[] offsets = [.. wordOffsets.Select(o => factor * o)];
        int[] counts = new int[pixels * groupSize];
        fixed (ulong* pRaw = raw, pPrepared = prepared, pW = weights, pG = groups)
        fixed (int* pOff = offsets)
        fixed (ulong* pTotals = totals)
        fixed (int* pCounts = counts)
        {
            if (csa)
            {
                FilterLanes.KernelCsa512.PrepareActivations(pRaw, pPrepared, raw.Length);
                FilterLanes.KernelCsa512.PackGroups(pW, filters, steps, steps, pG);
                FilterLanes.KernelCsa512.Block(pPrepared, wordStride, pOff, steps, pG, pTotals, pCounts);
            }
            else
            {
                FilterLanes.Kernel256.PrepareActivations(pRaw, pPrepared, raw.Length);
                FilterLanes.Kernel256.PackGroups(pW, filters, steps, steps, pG);
                FilterLanes.Kernel256.Block(pPrepared, 2 * wordStride, pOff, steps, pG, pTotals, pCounts);
            }
        }
        for (int p = 0; p < pixels; p++)
            for (int f = 0; f < groupSize; f++)
            {
                int expected = 0;
                for (int j = 0; j < steps; j++)
                {
                    ulong x = raw[p * wordStride + wordOffsets[j]], w = f < filters ? weights[f * steps + j] : 0;
                    expected += BitOperations.PopCount(x ^ w);
                }
                Assert.That(counts[p * groupSize + f], Is.EqualTo(expected), $"pixel {p} filter {f}");
            }
    }

    /// <summary>All-ones words against zero weights: every step adds 64 per lane, the largest counts the carry-save
    /// counters and byte sums can meet (ones, twos, fours all set; eights bytes at their 248 limit at 31 blocks).</summary>
    [Test]
    public void BlockCsa512_SaturatedInputs_CountEveryBit([Values(7, 8, 248, 255)] int steps)
    {
        ulong[] x = [.. Enumerable.Repeat(ulong.MaxValue, steps + 3)], groups = new ulong[steps * FilterLanes.FiltersPerGroupCsa];
        ulong[] totals = new ulong[FilterLanes.TotalsScratchWords];
        int[] offsets = [.. Enumerable.Range(0, steps)], counts = new int[FilterLanes.PixelsPerBlock * FilterLanes.FiltersPerGroupCsa];
        fixed (ulong* px = x, pg = groups, pt = totals)
        fixed (int* po = offsets, pc = counts)
            FilterLanes.BlockCsa512(px, 1, po, steps, pg, pt, pc);
        Assert.That(counts, Is.All.EqualTo(64 * steps));
    }

    [Test]
    public void Split_KeepsLowAndHighNibblesOfEveryByte()
    {
        ulong[] raw = [0xF1E2D3C4B5A69788UL], split = new ulong[2];
        fixed (ulong* r = raw, s = split) FilterLanes.Split(r, s, 1);
        Assert.That(split[0], Is.EqualTo(0x0102030405060708UL));
        Assert.That(split[1], Is.EqualTo(0x0F0E0D0C0B0A0908UL));
    }
}
