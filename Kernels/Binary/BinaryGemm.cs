using System.Numerics;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels.Binary;

/// <summary>Matrix product of ±1 matrices packed by <see cref="BitPack.PackRows(ReadOnlySpan{float}, Span{ulong}, int, int)"/>:
/// <c>C[i,j] = Σₖ A[i,k]·B[j,k]</c> for A [M × K] and B [N × K], both K-major (B is the transposed right operand,
/// i.e. a weight matrix stored one output per row).</summary>
/// <remarks>
/// <para><b>Identity.</b> For ±1 values a matching pair adds +1 and a mismatch −1, and bits match exactly where
/// <c>a XOR b</c> is 0, so <c>C[i,j] = K − 2·popcount(A[i] XOR B[j])</c>. Padding bits are zero in both rows
/// (see <see cref="BitPack"/>), so they never count as mismatches and K is the true length.</para>
/// <para><b>Layout.</b> Row i of A starts at word <c>i·BitPack.WordsPerRow(K)</c>, row j of B likewise; outputs
/// are row-major [M × N].</para>
/// <para><b>Paths</b> (<see cref="Simd.Path"/>): Vector256 puts 8 rows of B in the 64-bit lanes of two vectors and
/// broadcasts each word of A against them (<see cref="FilterLanes"/>: pre-split nibbles, 6 ops per 256 bits, no
/// horizontal sums); Vector512 puts 16 rows of B in two 512-bit vectors and counts with Harley–Seal carry-save adders
/// across K (<see cref="FilterLanes.BlockCsa512"/>: 29 ops per 8 × 512 bits, one <c>vpternlogq</c> per adder half);
/// with fewer than 4 rows of A both count along K with
/// nibble-lookup byte counts (<see cref="BitCount"/>). Scalar uses hardware <c>popcnt</c>. All three are exact, so all agree
/// bit for bit with the scalar <c>Reference</c>. Work is split over rows of A with <see cref="KernelThreads"/>.</para>
/// </remarks>
public static unsafe partial class BinaryGemm
{
    /// <summary>Computes <c>C[i,j] = K − 2·popcount(A[i] XOR B[j])</c>, the dot product of the ±1 rows.</summary>
    /// <param name="a">Packed A, [<paramref name="m"/> × WordsPerRow(<paramref name="k"/>)] words.</param>
    /// <param name="b">Packed B, [<paramref name="n"/> × WordsPerRow(<paramref name="k"/>)] words.</param>
    /// <param name="c">Output, row-major [<paramref name="m"/> × <paramref name="n"/>].</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Rows of B, columns of C.</param>
    /// <param name="k">Reduction length in bits (±1 values per row).</param>
    /// <exception cref="ArgumentException">A span is too short for the shape.</exception>
    /// <param name="plan">B prepared once (<see cref="Plan"/>), or null to prepare it in the call.</param>
    public static void Multiply(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<int> c, int m, int n, int k, BinaryGemmPlan? plan = null)
    {
        int stride = Validate(a, b, c.Length, m, n, k);
        fixed (ulong* pa = a, pb = b)
        fixed (int* pc = c)
            Run(pa, pb, m, n, stride, new DotEpilogue(pc, n, k), plan);
    }

    /// <summary>Prepares B [<paramref name="n"/> × <paramref name="k"/>] (a weight matrix multiplied again and again) for
    /// the current SIMD path: its rows interleaved into the kernel's filter lanes, which every call otherwise redoes
    /// (16 K words for a 1 024 × 1 024 layer). A call on another path, or with another B shape, ignores the plan. The plan
    /// holds a copy of B's bits: pass it only with the same B (a layer keeps the two together).</summary>
    /// <exception cref="ArgumentException">B is too short for the shape.</exception>
    public static BinaryGemmPlan Plan(ReadOnlySpan<ulong> b, int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        int stride = BitPack.WordsPerRow(k);
        BitPack.CheckLength(b.Length, (long)n * stride, nameof(b));
        SimdPath path = Simd.Path;
        if (path == SimdPath.Scalar || stride == 0) return new BinaryGemmPlan(path, n, stride, null);
        fixed (ulong* pb = b)
            return new BinaryGemmPlan(path, n, stride, path == SimdPath.Vector512 ? GroupRows<FilterLanes.KernelCsa512>(pb, n, stride) : GroupRows<FilterLanes.Kernel256>(pb, n, stride));
    }

    /// <summary>B's rows interleaved into filter lanes, in a new array.</summary>
    private static ulong[] GroupRows<TKernel>(ulong* b, int n, int stride) where TKernel : struct, FilterLanes.IKernel
    {
        int groups = (n + TKernel.GroupSize - 1) / TKernel.GroupSize, groupWords = stride * TKernel.StepWords;
        var grouped = new ulong[Math.Max(1, groups * groupWords)];
        fixed (ulong* pg = grouped) KernelThreads.For(groups, 1, new PackGroupsBody<TKernel>(b, pg, n, stride, groupWords));
        return grouped;
    }

    /// <summary>Fused epilogue: <c>y[i,j] = scale[j]·(K − 2·popcount(A[i] XOR B[j])) + bias[j]</c>, a binary dense
    /// layer with its folded batch norm (per-output-column scale and bias), written straight to float.</summary>
    /// <remarks>Computed as <c>scale[j] * (float)dot + bias[j]</c> (a multiply then an add, never fused), so it equals
    /// the same float expression evaluated on the exact integer dot.</remarks>
    /// <exception cref="ArgumentException">A span is too short for the shape.</exception>
    public static void Multiply(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<float> y, int m, int n, int k,
                                ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, BinaryGemmPlan? plan = null)
    {
        int stride = Validate(a, b, y.Length, m, n, k);
        BitPack.CheckLength(scale.Length, n, nameof(scale));
        BitPack.CheckLength(bias.Length, n, nameof(bias));
        fixed (ulong* pa = a, pb = b)
        fixed (float* py = y, ps = scale, pbias = bias)
            Run(pa, pb, m, n, stride, new ScaledDotEpilogue(py, n, k, ps, pbias), plan);
    }

    /// <summary>A binary dense layer whose batch-normed signs feed another one: bit j of packed row i is
    /// <c>(K − 2·popcount(A[i] XOR B[j]) ≥ thresholds[j]) XOR flip_j</c> (flip_j = bit j of <paramref name="flips"/>), rows
    /// [<paramref name="m"/> × <see cref="BitPack.WordsPerRow"/>(<paramref name="n"/>)] with zero padding bits: exactly what
    /// <see cref="BitPack.PackRows(ReadOnlySpan{float}, Span{ulong}, int, int)"/> makes of the signs, so the next layer
    /// takes them as its packed input. The thresholds are the batch norm and sign folded into integers
    /// (docs/inference.md).</summary>
    /// <exception cref="ArgumentException">A span is too short for the shape, or a flip bit past n is set.</exception>
    public static void MultiplyPackedThreshold(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> bits, int m, int n, int k,
                                               ReadOnlySpan<int> thresholds, ReadOnlySpan<ulong> flips, BinaryGemmPlan? plan = null)
    {
        int stride = ValidateOperands(a, b, m, n, k);
        int outStride = BitPack.WordsPerRow(n);
        BitPack.CheckLength(bits.Length, (long)m * outStride, nameof(bits));
        BitPack.CheckLength(thresholds.Length, n, nameof(thresholds));
        BitPack.CheckLength(flips.Length, BitPack.WordsPerPixel(n), nameof(flips));
        if (n % 64 != 0 && flips[BitPack.WordsPerPixel(n) - 1] >> (n % 64) != 0)
            throw new ArgumentException($"BinaryGemm: flip bits past column {n} must be zero.", nameof(flips));
        bits[..(m * outStride)].Clear(); // the epilogue sets the bits of columns < n; padding stays zero
        fixed (ulong* pa = a, pb = b, pbits = bits, pf = flips)
        fixed (int* pt = thresholds)
            Run(pa, pb, m, n, stride, new PackedThresholdEpilogue(pbits, outStride, k, pt, pf), plan);
    }

    /// <summary>The specification of <see cref="MultiplyPackedThreshold"/>: the reference dots, compared and flipped
    /// one at a time.</summary>
    internal static void ReferencePackedThreshold(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> bits, int m, int n, int k,
                                                  ReadOnlySpan<int> thresholds, ReadOnlySpan<ulong> flips)
    {
        int[] dots = new int[m * n];
        Reference(a, b, dots, m, n, k);
        int outStride = BitPack.WordsPerRow(n);
        bits[..(m * outStride)].Clear();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                if ((dots[i * n + j] >= thresholds[j]) != (((flips[j >> 6] >> (j & 63)) & 1) != 0))
                    bits[i * outStride + (j >> 6)] |= 1UL << (j & 63);
    }

    /// <summary>The specification: one popcount per word, no blocking, no threads.</summary>
    internal static void Reference(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<int> c, int m, int n, int k)
    {
        int stride = BitPack.WordsPerRow(k);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                int mismatches = 0;
                for (int w = 0; w < stride; w++) mismatches += BitOperations.PopCount(a[i * stride + w] ^ b[j * stride + w]);
                c[i * n + j] = k - 2 * mismatches;
            }
    }

    /// <summary>The specification of the fused epilogue: <see cref="Reference(ReadOnlySpan{ulong}, ReadOnlySpan{ulong}, Span{int}, int, int, int)"/> then scale and bias.</summary>
    internal static void Reference(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<float> y, int m, int n, int k,
                                   ReadOnlySpan<float> scale, ReadOnlySpan<float> bias)
    {
        int[] dots = new int[m * n];
        Reference(a, b, dots, m, n, k);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) y[i * n + j] = scale[j] * dots[i * n + j] + bias[j];
    }

    private static int Validate(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, int outputLength, int m, int n, int k)
    {
        int stride = ValidateOperands(a, b, m, n, k);
        BitPack.CheckLength(outputLength, (long)m * n, "c");
        return stride;
    }

    /// <summary>Checks the shape and both operands; returns the words per packed row.</summary>
    private static int ValidateOperands(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, int m, int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        int stride = BitPack.WordsPerRow(k);
        BitPack.CheckLength(a.Length, (long)m * stride, nameof(a));
        BitPack.CheckLength(b.Length, (long)n * stride, nameof(b));
        return stride;
    }

    /// <summary>Splits rows of A over <see cref="KernelThreads"/>; each thread runs the blocked kernel on its rows.</summary>
    private static void Run<TEpilogue>(ulong* a, ulong* b, int m, int n, int stride, TEpilogue epilogue, BinaryGemmPlan? plan = null)
        where TEpilogue : struct, IMismatchEpilogue
    {
        if (m == 0 || n == 0) return;
        SimdPath path = Simd.Path;
        if (path != SimdPath.Scalar && stride > 0 && m >= FilterLanes.PixelsPerBlock) // fewer rows would waste lanes
        {
            ulong[]? grouped = plan is not null && plan.Fits(n, stride) ? plan.Grouped : null;
            if (path == SimdPath.Vector512) RunFilterLanes<FilterLanes.KernelCsa512, TEpilogue>(a, b, m, n, stride, epilogue, grouped);
            else RunFilterLanes<FilterLanes.Kernel256, TEpilogue>(a, b, m, n, stride, epilogue, grouped);
            return;
        }
        KernelThreads.For(m, RowsPerKernel, new RowsBody<TEpilogue>(a, b, n, stride, path, epilogue));
    }

    /// <summary>Rows [start, end) of the popcnt path, as a value so that a call allocates nothing.</summary>
    private readonly struct RowsBody<TEpilogue>(ulong* a, ulong* b, int n, int stride, SimdPath path, TEpilogue epilogue) : KernelThreads.IRangeBody
        where TEpilogue : struct, IMismatchEpilogue
    {
        public void Run(int start, int end) => CountMismatches(a, b, start, end, n, stride, path, epilogue);
    }

    /// <summary>Groups [g0, g1) of B packed into filter lanes.</summary>
    private readonly struct PackGroupsBody<TKernel>(ulong* b, ulong* grouped, int n, int stride, int groupWords) : KernelThreads.IRangeBody
        where TKernel : struct, FilterLanes.IKernel
    {
        public void Run(int g0, int g1) =>
            TKernel.PackGroups(b + (nint)g0 * TKernel.GroupSize * stride, Math.Min(n, g1 * TKernel.GroupSize) - g0 * TKernel.GroupSize,
                               stride, stride, grouped + (nint)g0 * groupWords);
    }

    /// <summary>Rows [start, end) of A against every group of B.</summary>
    private readonly struct FilterLaneRowsBody<TKernel, TEpilogue>(ulong* a, ulong* grouped, int* offsets, int n, int stride, TEpilogue epilogue) : KernelThreads.IRangeBody
        where TKernel : struct, FilterLanes.IKernel
        where TEpilogue : struct, IMismatchEpilogue
    {
        public void Run(int start, int end) => FilterLaneRows<TKernel, TEpilogue>(a, grouped, offsets, start, end, n, stride, epilogue);
    }

    /// <summary>Filter-lane paths: B's rows grouped 8 (Vector256) or 16 (Vector512) per lane set
    /// (<c>TKernel.PackGroups</c>, split over the threads), then each thread prepares chunks of its A rows in the
    /// kernel's layout (nibble halves, or raw words; a chunk stays in L2) and runs every group (in L1) over the chunk,
    /// 4 rows per <c>TKernel.Block</c>. Rows past the chunk in a last
    /// partial block read zero slack rows and are dropped, as are lanes past n.</summary>
    private static void RunFilterLanes<TKernel, TEpilogue>(ulong* a, ulong* b, int m, int n, int stride, TEpilogue epilogue, ulong[]? planned)
        where TKernel : struct, FilterLanes.IKernel
        where TEpilogue : struct, IMismatchEpilogue
    {
        int groupSize = TKernel.GroupSize;
        int groups = (n + groupSize - 1) / groupSize, groupWords = stride * TKernel.StepWords;
        ulong[] groupArray = planned ?? ScratchPool<ulong>.ThisThread.Rent(groups * groupWords);
        int[] offsets = ScratchPool<int>.ThisThread.Rent(stride);
        for (int j = 0; j < stride; j++) offsets[j] = TKernel.WordFactor * j;
        try
        {
            fixed (ulong* pg = groupArray)
            fixed (int* po = offsets)
            {
                if (planned is null) KernelThreads.For(groups, 1, new PackGroupsBody<TKernel>(b, pg, n, stride, groupWords));
                KernelThreads.For(m, FilterLanes.PixelsPerBlock, new FilterLaneRowsBody<TKernel, TEpilogue>(a, pg, po, n, stride, epilogue));
            }
        }
        finally
        {
            if (planned is null) ScratchPool<ulong>.ThisThread.Return(groupArray);
            ScratchPool<int>.ThisThread.Return(offsets);
        }
    }

    private static void FilterLaneRows<TKernel, TEpilogue>(ulong* a, ulong* grouped, int* offsets, int start, int end, int n, int stride, TEpilogue epilogue)
        where TKernel : struct, FilterLanes.IKernel
        where TEpilogue : struct, IMismatchEpilogue
    {
        const int block = FilterLanes.PixelsPerBlock;
        int groupSize = TKernel.GroupSize;
        // 256 KB of prepared A rows per chunk (a quarter of a 1 MB L2, half of a 512 KB one): every group of B is then
        // loaded once per chunk, and each thread's share of a 1024-row GEMM is one chunk. With 128 KB chunks of split
        // words (64 KB raw) the 512 KB of grouped B streamed through L2 four times per thread: 2 threads, K = 4096,
        // 4.1 → 3.2 ms on Zen 4.
        const int chunkBytes = 256 * 1024;
        int groups = (n + groupSize - 1) / groupSize, groupWords = stride * TKernel.StepWords;
        int chunkRows = Math.Max(block, chunkBytes / (TKernel.WordFactor * sizeof(ulong) * stride) / block * block);
        int factor = TKernel.WordFactor;
        ulong[] scratchArray = ScratchPool<ulong>.ThisThread.Rent((chunkRows + block) * factor * stride);
        ulong* totals = stackalloc ulong[FilterLanes.TotalsScratchWords];
        int* counts = stackalloc int[block * FilterLanes.MaxGroupSize];
        fixed (ulong* scratch = scratchArray)
        {
            for (int r0 = start; r0 < end; r0 += chunkRows)
            {
                int rows = Math.Min(chunkRows, end - r0);
                TKernel.PrepareActivations(a + (nint)r0 * stride, scratch, rows * stride);
                new Span<ulong>(scratch + (nint)rows * factor * stride, block * factor * stride).Clear(); // slack rows
                for (int g = 0; g < groups; g++)
                {
                    int col = g * groupSize, cols = Math.Min(groupSize, n - col);
                    for (int i0 = 0; i0 < rows; i0 += block)
                    {
                        TKernel.Block(scratch + (nint)i0 * factor * stride, factor * stride, offsets, stride,
                                      grouped + (nint)g * groupWords, totals, counts);
                        int valid = Math.Min(block, rows - i0);
                        for (int i = 0; i < valid; i++)
                        {
                            int row = r0 + i0 + i, f = 0;
                            int* rowCounts = counts + i * groupSize;
                            for (; f + 8 <= cols; f += 8) epilogue.Store8(row, col + f, Vector256.Load(rowCounts + f));
                            for (; f < cols; f++) epilogue.Store(row, col + f, rowCounts[f]);
                        }
                    }
                }
            }
        }
        ScratchPool<ulong>.ThisThread.Return(scratchArray);
    }

    /// <summary>Receives each output's mismatch count <c>popcount(A[row] XOR B[col])</c> once, from the kernel
    /// that computed it, while it is still in a register: this is where int and float outputs differ.</summary>
    internal interface IMismatchEpilogue
    {
        void Store(int row, int col, int mismatches);

        /// <summary>The mismatch counts of columns col..col+7 of one row at once.</summary>
        void Store8(int row, int col, Vector256<int> mismatches);
    }

    /// <summary>Stores <c>K − 2·mismatches</c> to an int [rows × ld] matrix.</summary>
    internal readonly struct DotEpilogue(int* c, int ld, int k) : IMismatchEpilogue
    {
        public void Store(int row, int col, int mismatches) => c[(nint)row * ld + col] = k - 2 * mismatches;

        public void Store8(int row, int col, Vector256<int> mismatches) =>
            (Vector256.Create(k) - (mismatches << 1)).Store(c + (nint)row * ld + col);
    }

    /// <summary>Stores <c>scale[col]·(K − 2·mismatches) + bias[col]</c> to a float [rows × ld] matrix.</summary>
    internal readonly struct ScaledDotEpilogue(float* y, int ld, int k, float* scale, float* bias) : IMismatchEpilogue
    {
        public void Store(int row, int col, int mismatches) =>
            y[(nint)row * ld + col] = scale[col] * (float)(k - 2 * mismatches) + bias[col];

        /// <summary>Multiply then add, never fused: the same floats as <see cref="Store"/>.</summary>
        public void Store8(int row, int col, Vector256<int> mismatches)
        {
            Vector256<float> dots = Vector256.ConvertToSingle(Vector256.Create(k) - (mismatches << 1));
            Vector256.Add(Vector256.Multiply(Vector256.Load(scale + col), dots), Vector256.Load(bias + col)).Store(y + (nint)row * ld + col);
        }
    }

    /// <summary>Sets bit col of packed row <c>row</c> to <c>(K − 2·mismatches ≥ threshold[col]) XOR flip_col</c> in
    /// zeroed rows of <paramref name="ld"/> words. Columns come in groups of 8 from byte 0 of a row (the filter-lane paths)
    /// or one at a time (the popcnt path); a row is written by one thread only.</summary>
    internal readonly struct PackedThresholdEpilogue(ulong* bits, int ld, int k, int* thresholds, ulong* flips) : IMismatchEpilogue
    {
        public void Store(int row, int col, int mismatches)
        {
            bool bit = (k - 2 * mismatches >= thresholds[col]) != (((flips[col >> 6] >> (col & 63)) & 1) != 0);
            if (bit) bits[(nint)row * ld + (col >> 6)] |= 1UL << (col & 63);
        }

        /// <summary>Columns col..col+7 (col a multiple of 8): one byte of the row.</summary>
        public void Store8(int row, int col, Vector256<int> mismatches)
        {
            Vector256<int> dots = Vector256.Create(k) - (mismatches << 1);
            uint set = Vector256.GreaterThanOrEqual(dots, Vector256.Load(thresholds + col)).ExtractMostSignificantBits();
            byte flip = ((byte*)flips)[col >> 3];
            ((byte*)(bits + (nint)row * ld))[col >> 3] = (byte)(set ^ flip);
        }
    }

    /// <summary>Stores the raw mismatch count to an int [rows × ld] matrix (the convolution corrects it itself).</summary>
    internal readonly struct MismatchEpilogue(int* counts, int ld) : IMismatchEpilogue
    {
        public void Store(int row, int col, int mismatches) => counts[(nint)row * ld + col] = mismatches;

        public void Store8(int row, int col, Vector256<int> mismatches) => mismatches.Store(counts + (nint)row * ld + col);
    }
}
