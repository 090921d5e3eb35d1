using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels.Binary;

public static unsafe partial class XnorConv2D
{
    /// <summary>Direct convolution over a zero-padded, nibble-split copy of one image, filters in vector lanes
    /// (<see cref="FilterLanes"/>): no im2col, no horizontal sums.</summary>
    /// <remarks>
    /// <para>For output row (n, y) and each group of 8 filters, blocks of 4 output pixels run
    /// <see cref="FilterLanes.Block256"/> over the <c>KernelHeight·KernelWidth·WordsPerPixel</c> steps; step
    /// (ky, kx, w) of pixel (y, x) reads word w of padded pixel (y·stride + ky, x·stride + kx), i.e. a fixed offset
    /// from the pixel's base. Padded pixels are zero words, which count <c>popcount(w_{o,t})</c> mismatches against
    /// the filter, so <c>dot = validBits + 2·Σ_{t∉T} popcount(w_{o,t}) − 2·mismatches</c>; the first two terms depend
    /// only on the filter and on which taps of the pixel fall outside, so they are tabulated per filter and per
    /// border class (distinct valid tap ranges of rows and columns: 3 × 3 classes for a 3×3 kernel with padding 1).</para>
    /// <para>Pixels past the row end in the last block are computed from zero slack after the image and dropped.
    /// Work is split over output rows; each thread rebuilds the padded image when its rows enter a new image.</para>
    /// </remarks>
    private static void RunDirect<TKernel, TOutput>(ReadOnlySpan<ulong> input, XnorConv2DShape s, TOutput output, float* scale, float* bias,
                                                    DirectTables t)
        where TKernel : struct, FilterLanes.IKernel
        where TOutput : struct, ITileOutput
    {
        fixed (ulong* pin = input, pg = t.Groups)
        fixed (int* pBase = t.BaseTable, pOffsets = t.Offsets, pRow = t.RowClass, pCol = t.ColClass)
        {
            var plan = new DirectPlan((nint)pin, (nint)pg, (nint)pBase, (nint)pOffsets, (nint)pRow, (nint)pCol,
                                      t.RowClasses, t.ColClasses, t.GroupCount, t.Steps, (nint)scale, (nint)bias);
            int unit = output.RowUnit; // whole row pairs for a pooling store: a unit is never split between threads
            KernelThreads.For(s.Batch * s.OutHeight / unit, 1, new DirectRowsBody<TKernel, TOutput>(plan, s, output));
        }
    }

    /// <summary>What <see cref="RunDirect"/> needs besides the input, derived from the filters and the geometry (not the
    /// batch): the filters packed into the kernel's lanes, the tap offsets, the border classes of rows and columns and
    /// the per-class base table. Kept by an <see cref="XnorConv2DPlan"/>, or taken from the pool for one call (a struct,
    /// so that a call without a plan — every training forward — allocates nothing for it).</summary>
    internal readonly struct DirectTables(ulong[] groups, int[] baseTable, int[] offsets, int[] rowClass, int[] colClass, int[] rowRanges, int[] colRanges,
                                       int rowClasses, int colClasses, int groupCount, int steps, bool pooled)
    {
        public ulong[] Groups { get; } = groups;
        public int[] BaseTable { get; } = baseTable;
        public int[] Offsets { get; } = offsets;
        public int[] RowClass { get; } = rowClass;
        public int[] ColClass { get; } = colClass;
        public int RowClasses { get; } = rowClasses;
        public int ColClasses { get; } = colClasses;
        public int GroupCount { get; } = groupCount;
        public int Steps { get; } = steps;

        /// <summary>Returns pooled arrays to the calling thread's pool (a plan's own arrays stay).</summary>
        public void Return()
        {
            if (!pooled) return;
            ScratchPool<ulong>.ThisThread.Return(Groups);
            ScratchPool<int> ints = ScratchPool<int>.ThisThread;
            ints.Return(BaseTable);
            ints.Return(Offsets);
            ints.Return(RowClass);
            ints.Return(ColClass);
            ints.Return(rowRanges);
            ints.Return(colRanges);
        }
    }

    /// <summary>Builds the <see cref="DirectTables"/> of <paramref name="weights"/> for <paramref name="s"/>'s geometry,
    /// in pooled arrays (one call) or new ones (a plan).</summary>
    private static DirectTables BuildDirectTables<TKernel>(ReadOnlySpan<ulong> weights, in XnorConv2DShape s, int[] tapPrefix, bool pooled)
        where TKernel : struct, FilterLanes.IKernel
    {
        int groupSize = TKernel.GroupSize;
        int wpp = BitPack.WordsPerPixel(s.InChannels), taps = s.KernelHeight * s.KernelWidth, steps = taps * wpp;
        int groups = (s.OutChannels + groupSize - 1) / groupSize, stepWords = TKernel.StepWords;
        int paddedWidth = s.Width + 2 * s.Padding;

        (int[] rowClass, int[] rowRanges, int rowClasses) = TapClasses(s.OutHeight, s.KernelHeight, s.Height, s.Stride, s.Padding, pooled);
        (int[] colClass, int[] colRanges, int colClasses) = TapClasses(s.OutWidth, s.KernelWidth, s.Width, s.Stride, s.Padding, pooled);
        int[] baseTable = BorderBaseTable(s, tapPrefix, groups, groupSize, rowRanges, rowClasses, colRanges, colClasses, pooled);

        int[] offsets = NewOrRented<int>(steps, pooled);
        for (int ky = 0; ky < s.KernelHeight; ky++)
            for (int kx = 0; kx < s.KernelWidth; kx++)
                for (int w = 0; w < wpp; w++)
                    offsets[(ky * s.KernelWidth + kx) * wpp + w] = TKernel.WordFactor * ((ky * paddedWidth + kx) * wpp + w);

        ulong[] groupArray = NewOrRented<ulong>(groups * steps * stepWords, pooled);
        fixed (ulong* pw = weights, pg = groupArray)
            TKernel.PackGroups(pw, s.OutChannels, s.WeightWordsPerFilter, steps, pg);
        return new DirectTables(groupArray, baseTable, offsets, rowClass, colClass, rowRanges, colRanges, rowClasses, colClasses, groups, steps, pooled);
    }

    /// <summary>An array of at least <paramref name="length"/> elements: rented from the thread's pool, or new.</summary>
    private static T[] NewOrRented<T>(int length, bool pooled) where T : unmanaged =>
        pooled ? ScratchPool<T>.ThisThread.Rent(length) : new T[length];

    /// <summary>Output pixels per tile handed to the output store (a 16×16 plane of 128 channels: 128 KB of ints, in L2).</summary>
    private const int TilePixels = 256;

    /// <summary>Addresses and sizes shared by every thread of one <see cref="RunDirect"/> call (pinned by it).</summary>
    private readonly record struct DirectPlan(nint Input, nint Groups, nint BaseTable, nint Offsets, nint RowClass, nint ColClass,
                                              int RowClasses, int ColClasses, int GroupCount, int Steps, nint Scale, nint Bias);

    /// <summary>The per-thread body of <see cref="RunDirect"/> as a value, so a call allocates no closure.</summary>
    private readonly struct DirectRowsBody<TKernel, TOutput>(DirectPlan plan, XnorConv2DShape shape, TOutput output) : KernelThreads.IRangeBody
        where TKernel : struct, FilterLanes.IKernel
        where TOutput : struct, ITileOutput
    {
        public void Run(int start, int end) => DirectRows<TKernel, TOutput>(plan, shape, output, start * output.RowUnit, end * output.RowUnit);
    }

    /// <summary>Output rows [start, end) (flattened over batch and output height).</summary>
    private static void DirectRows<TKernel, TOutput>(DirectPlan plan, in XnorConv2DShape s, TOutput output, int start, int end)
        where TKernel : struct, FilterLanes.IKernel
        where TOutput : struct, ITileOutput
    {
        const int block = FilterLanes.PixelsPerBlock;
        int groupSize = TKernel.GroupSize;
        int wpp = BitPack.WordsPerPixel(s.InChannels), ow = s.OutWidth, oh = s.OutHeight;
        int paddedWidth = s.Width + 2 * s.Padding, paddedHeight = s.Height + 2 * s.Padding;
        int oPad = plan.GroupCount * groupSize, stepWords = TKernel.StepWords, factor = TKernel.WordFactor;
        nint pixelStride = factor * (nint)s.Stride * wpp;
        // zero slack past the image for the dropped pixels of a last partial block
        int imageWords = paddedHeight * paddedWidth * wpp * factor, scratchWords = imageWords + (block * s.Stride + s.KernelWidth) * wpp * factor;
        ulong[] scratchArray = ScratchPool<ulong>.ThisThread.Rent(scratchWords);
        // Several output rows per tile, so that the NCHW store writes runs of TilePixels ints per channel plane
        // instead of one row's: with one 16-pixel row per store, 128 planes took 64 bytes each and the store
        // (write-allocate misses on 128 interleaved streams) cost a third of the 128-channel 16×16 layer.
        int unit = output.RowUnit, tileRows = Math.Clamp(TilePixels / Math.Max(1, ow), 1, oh);
        tileRows = Math.Max(unit, tileRows / unit * unit); // tiles of whole units (the caller's range is whole units)
        int[] tileArray = ScratchPool<int>.ThisThread.Rent(tileRows * ow * oPad);
        ulong* totals = stackalloc ulong[FilterLanes.TotalsScratchWords];
        int* counts = stackalloc int[block * FilterLanes.MaxGroupSize];
        ulong* input = (ulong*)plan.Input, groups = (ulong*)plan.Groups;
        int* baseTable = (int*)plan.BaseTable, offsets = (int*)plan.Offsets, rowClass = (int*)plan.RowClass, colClass = (int*)plan.ColClass;
        fixed (ulong* scratch = scratchArray)
        fixed (int* tile = tileArray)
        {
            new Span<ulong>(scratch, scratchWords).Clear();
            int image = -1, tileStart = start;
            for (int row = start; row < end; row++)
            {
                int* rowTile = tile + (nint)(row - tileStart) * ow * oPad;
                int n = row / oh, y = row % oh;
                if (n != image)
                {
                    PreparePaddedImage<TKernel>(input, s, n, scratch);
                    image = n;
                }
                ulong* rowBase = scratch + (nint)y * s.Stride * paddedWidth * wpp * factor;
                for (int g = 0; g < plan.GroupCount; g++)
                {
                    ulong* group = groups + (nint)g * plan.Steps * stepWords;
                    int* baseRow = baseTable + ((nint)g * plan.RowClasses + rowClass[y]) * plan.ColClasses * groupSize;
                    for (int x0 = 0; x0 < ow; x0 += block)
                    {
                        TKernel.Block(rowBase + x0 * pixelStride, pixelStride, offsets, plan.Steps, group, totals, counts);
                        int valid = Math.Min(block, ow - x0);
                        for (int i = 0; i < valid; i++)
                        {
                            int x = x0 + i;
                            for (int f = 0; f < groupSize; f += 8)
                            {
                                Vector256<int> dots = Vector256.Load(baseRow + colClass[x] * groupSize + f) - (Vector256.Load(counts + i * groupSize + f) << 1);
                                dots.Store(rowTile + (nint)x * oPad + g * groupSize + f);
                            }
                        }
                    }
                }
                if (row + 1 - tileStart == tileRows || row + 1 == end)
                {
                    output.Store(s, tileStart * ow, (row + 1 - tileStart) * ow, tile, oPad, (float*)plan.Scale, (float*)plan.Bias);
                    tileStart = row + 1;
                }
            }
        }
        ScratchPool<ulong>.ThisThread.Return(scratchArray);
        ScratchPool<int>.ThisThread.Return(tileArray);
    }

    /// <summary>Copies image n into the padded scratch (its border stays zero) in the kernel's activation layout
    /// (split into low and high nibbles, <see cref="FilterLanes.Split"/>, or raw).</summary>
    private static void PreparePaddedImage<TKernel>(ulong* input, in XnorConv2DShape s, int n, ulong* scratch)
        where TKernel : struct, FilterLanes.IKernel
    {
        int wpp = BitPack.WordsPerPixel(s.InChannels), paddedWidth = s.Width + 2 * s.Padding, rowWords = s.Width * wpp;
        for (int iy = 0; iy < s.Height; iy++)
            TKernel.PrepareActivations(input + ((nint)n * s.Height + iy) * rowWords,
                                       scratch + ((nint)(iy + s.Padding) * paddedWidth + s.Padding) * wpp * TKernel.WordFactor, rowWords);
    }

    /// <summary>For each output coordinate along one axis, the range [start, end) of kernel taps that fall inside
    /// the image, numbered by distinct range: <c>Ranges[2·r]</c>, <c>Ranges[2·r + 1]</c> are range r's start and end.
    /// Both arrays come from the pool (returned by <see cref="DirectTables.Return"/>) or are new.</summary>
    private static (int[] Class, int[] Ranges, int Count) TapClasses(int outSize, int kernel, int size, int stride, int padding, bool pooled)
    {
        int[] classes = NewOrRented<int>(outSize, pooled);
        int[] ranges = NewOrRented<int>(2 * outSize, pooled);
        int count = 0;
        for (int o = 0; o < outSize; o++)
        {
            int k0 = Math.Max(0, padding - o * stride), k1 = Math.Max(k0, Math.Min(kernel, size + padding - o * stride));
            int index = 0;
            while (index < count && (ranges[2 * index] != k0 || ranges[2 * index + 1] != k1)) index++;
            if (index == count)
            {
                (ranges[2 * count], ranges[2 * count + 1]) = (k0, k1);
                count++;
            }
            classes[o] = index;
        }
        return (classes, ranges, count);
    }

    /// <summary><c>base[g][r][c][f] = validBits + 2·popcount of filter (g·8 + f)'s taps outside the image</c> for row
    /// class r and column class c, from the 2-D prefix sums of the tap popcounts.</summary>
    private static int[] BorderBaseTable(in XnorConv2DShape s, int[] tapPrefix, int groups, int groupSize,
                                         int[] rows, int rowCount, int[] cols, int colCount, bool pooled)
    {
        int kh = s.KernelHeight, kw = s.KernelWidth, pw = kw + 1, prefixStride = (kh + 1) * pw;
        int length = groups * rowCount * colCount * groupSize;
        int[] table = NewOrRented<int>(length, pooled);
        Array.Clear(table, 0, length); // padding filters stay zero
        for (int g = 0; g < groups; g++)
            for (int r = 0; r < rowCount; r++)
                for (int c = 0; c < colCount; c++)
                    for (int f = 0; f < groupSize; f++)
                    {
                        int o = g * groupSize + f;
                        if (o >= s.OutChannels) continue;
                        (int ky0, int ky1) = (rows[2 * r], rows[2 * r + 1]);
                        (int kx0, int kx1) = (cols[2 * c], cols[2 * c + 1]);
                        int p = o * prefixStride;
                        int valid = tapPrefix[p + ky1 * pw + kx1] - tapPrefix[p + ky0 * pw + kx1] - tapPrefix[p + ky1 * pw + kx0] + tapPrefix[p + ky0 * pw + kx0];
                        int padded = tapPrefix[p + kh * pw + kw] - valid;
                        table[((g * rowCount + r) * colCount + c) * groupSize + f] = (ky1 - ky0) * (kx1 - kx0) * s.InChannels + 2 * padded;
                    }
        return table;
    }
}
