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
    /// <summary>Block256 natively; Block512 through the portable shuffle when AVX-512BW is absent (emulated).</summary>
    [Test]
    public void Block_EqualsPopcountOfXorPerPixelAndFilter([Values(1, 5, 31, 32, 63)] int steps, [Values(8, 5)] int filters,
                                                           [Values(256, 512)] int bits)
    {
        int groupSize = bits == 256 ? FilterLanes.FiltersPerGroup256 : FilterLanes.FiltersPerGroup512;
        filters = bits == 256 ? filters : filters * 2 - 1; // 16 and 9 of a 16-filter group
        var random = new Random(steps * 10 + filters);
        const int pixelStride = 2 * 7, pixels = FilterLanes.PixelsPerBlock;
        int[] offsets = Enumerable.Range(0, steps).Select(j => 2 * (3 * j + random.Next(3))).ToArray(); // distinct, increasing
        int span = offsets[^1] + 2 + (pixels - 1) * pixelStride;
        ulong[] raw = Enumerable.Range(0, span / 2).Select(_ => (ulong)random.NextInt64() ^ ((ulong)random.Next() << 40)).ToArray();
        ulong[] weights = Enumerable.Range(0, filters * steps).Select(_ => (ulong)random.NextInt64() * 3).ToArray();
        ulong[] split = new ulong[span], groups = new ulong[steps * FilterLanes.WordsPerGroupStep(groupSize)], totals = new ulong[FilterLanes.TotalsScratchWords];
        int[] counts = new int[pixels * groupSize];
        fixed (ulong* pRaw = raw, pSplit = split, pW = weights, pG = groups)
        fixed (int* pOff = offsets)
        fixed (ulong* pTotals = totals)
        fixed (int* pCounts = counts)
        {
            FilterLanes.Split(pRaw, pSplit, raw.Length);
            FilterLanes.PackGroups(pW, filters, steps, steps, groupSize, pG);
            if (bits == 256) FilterLanes.Block256(pSplit, pixelStride, pOff, steps, pG, pTotals, pCounts);
            else FilterLanes.Block512(pSplit, pixelStride, pOff, steps, pG, pTotals, pCounts);
        }
        for (int p = 0; p < pixels; p++)
            for (int f = 0; f < groupSize; f++)
            {
                int expected = 0;
                for (int j = 0; j < steps; j++)
                {
                    ulong x = raw[(p * pixelStride + offsets[j]) / 2], w = f < filters ? weights[f * steps + j] : 0;
                    expected += BitOperations.PopCount(x ^ w);
                }
                Assert.That(counts[p * groupSize + f], Is.EqualTo(expected), $"pixel {p} filter {f}");
            }
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
