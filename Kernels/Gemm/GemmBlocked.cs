using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BinaryGrad.Kernels;

/// <summary>The cache-blocked GEMM driver (the BLIS/Goto loop nest) for any micro-kernel.</summary>
/// <remarks>
/// <code>
/// for jc in n step NC            // B panel KC×NC is packed once and stays in L3
///   for pc in k step KC          // β applies on the first KC block only, later blocks add (β = 1)
///     pack op(B)[pc.., jc..] into NR-wide k-major slivers
///     for ic in m step MC        // A block MC×KC is packed and stays in L2
///       pack op(A)[ic.., pc..] into MR-tall k-major slivers (zero-padded to whole slivers)
///       for jr in NC step NR     // the B sliver (KC×NR) stays in L1 across the ir loop
///         for ir in MC step MR   micro-kernel: C[ir.., jr..] (MR×NR) = α·Asliver·Bsliver + β·C
/// </code>
/// Packing turns any transpose combination into unit-stride streams for the micro-kernel and pads edges with
/// zeros; edge tiles are computed into a stack tile and only the valid part is copied out. Sizes: KC = 256 keeps
/// a float B sliver (256×16×4 B = 16 KiB) in half of a 32 KiB L1; MC = 144 (float) / 72 (double) keeps the A
/// block (≈ 144 KiB) in a 512 KiB L2; NC bounds the B panel to 4 MiB. The packing buffers are rented for the call
/// from a <see cref="ScratchPool{T}"/> shared by all threads, grown on demand and then reused, so steady-state calls
/// do not allocate.
/// Threads: C is cut into <see cref="KernelThreads.Count"/> contiguous strips along its longer side (in whole
/// tiles), and each thread runs this sequential driver on its strip — no synchronisation inside, and the
/// summation order of every element is independent of the thread count.
/// </remarks>
internal static class GemmBlocked<T> where T : unmanaged, INumber<T>
{
    public const int DepthBlock = 256; // KC
    public static readonly int RowBlock = Unsafe.SizeOf<T>() == 4 ? 144 : 72; // MC: a multiple of every MR (4, 6)
    public static readonly int ColumnBlock = Unsafe.SizeOf<T>() == 4 ? 4096 : 2048; // NC: a multiple of every NR

    private static readonly ScratchPool<T> s_packedA = new(pinned: true), s_packedB = new(pinned: true);

    /// <summary>Multiplies on <see cref="KernelThreads.Count"/> threads (arguments already validated).</summary>
    public static unsafe void MultiplyParallel<TKernel>(bool transA, bool transB, int m, int n, int k, T alpha,
        ref T a, int lda, ref T b, int ldb, T beta, ref T c, int ldc, int threads, Prepacked prepacked = default)
        where TKernel : IGemmMicroKernel<T>
    {
        if (threads <= 1)
        {
            Multiply<TKernel>(transA, transB, m, n, k, alpha, ref a, lda, ref b, ldb, beta, ref c, ldc, prepacked, 0);
            return;
        }
        MultiplySplit<TKernel>(transA, transB, m, n, k, alpha, (nint)Unsafe.AsPointer(ref a), lda, (nint)Unsafe.AsPointer(ref b), ldb, beta,
            (nint)Unsafe.AsPointer(ref c), ldc, prepacked);
    }

    /// <summary>op(B) already packed for the whole product (<see cref="GemmPackedB"/>): the KC-deep panel of rows
    /// [pc, pc + KC) starts at <c>Data + pc·PanelColumns</c> and holds every column's NR-wide sliver in order, so a strip
    /// of columns starting at a multiple of NR finds its slivers at an offset. <c>Data = 0</c>: pack per call.</summary>
    internal readonly record struct Prepacked(nint Data, int PanelColumns);

    /// <summary>The threaded part of <see cref="MultiplyParallel{TKernel}"/>, in its own method because a worker lambda's
    /// closure is allocated on entry to the method that declares the captured variables: inlined above, every
    /// single-threaded call (e.g. one per image of a convolution) would allocate it for nothing.</summary>
    private static unsafe void MultiplySplit<TKernel>(bool transA, bool transB, int m, int n, int k, T alpha,
        nint pa, int lda, nint pb, int ldb, T beta, nint pc, int ldc, Prepacked prepacked)
        where TKernel : IGemmMicroKernel<T>
    {
        // Spans cannot be held by the body; the caller's spans are pinned for the whole call.
        var body = new SplitBody<TKernel>(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, prepacked);
        if ((long)n * TKernel.Rows >= (long)m * TKernel.Columns) KernelThreads.For(n, TKernel.Columns, body with { ByColumns = true });
        else KernelThreads.For(m, TKernel.Rows, body);
    }

    /// <summary>One thread's columns [j0, j1) of C (<see cref="ByColumns"/>) or rows [i0, i1), as a value so that a call
    /// allocates nothing.</summary>
    private readonly record struct SplitBody<TKernel>(bool TransA, bool TransB, int M, int N, int K, T Alpha,
        nint A, int Lda, nint B, int Ldb, T Beta, nint C, int Ldc, Prepacked Prepacked) : KernelThreads.IRangeBody
        where TKernel : IGemmMicroKernel<T>
    {
        public bool ByColumns { get; init; }

        public unsafe void Run(int start, int end)
        {
            int size = Unsafe.SizeOf<T>();
            if (ByColumns)
                Multiply<TKernel>(TransA, TransB, M, end - start, K, Alpha, ref Unsafe.AsRef<T>((void*)A), Lda,
                    ref Unsafe.AsRef<T>((void*)(B + (nint)(TransB ? (long)start * Ldb : start) * size)), Ldb, Beta,
                    ref Unsafe.AsRef<T>((void*)(C + (nint)start * size)), Ldc, Prepacked, start);
            else
                Multiply<TKernel>(TransA, TransB, end - start, N, K, Alpha,
                    ref Unsafe.AsRef<T>((void*)(A + (nint)(TransA ? start : (long)start * Lda) * size)), Lda,
                    ref Unsafe.AsRef<T>((void*)B), Ldb, Beta, ref Unsafe.AsRef<T>((void*)(C + (nint)((long)start * Ldc) * size)), Ldc, Prepacked, 0);
        }
    }

    /// <summary>The sequential blocked product on the calling thread (m, n, k ≥ 1, α ≠ 0, arguments validated).
    /// The referenced memory must stay put (pinned or on the stack) during the call. With <c>prepacked</c> (op(B) packed
    /// beforehand for all columns of the whole product) the panels are read from it, this product's column 0 being
    /// column <c>firstColumn</c> there (a multiple of NR), instead of packed here.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: no slow tier-0 code while tiering catches up
    public static unsafe void Multiply<TKernel>(bool transA, bool transB, int m, int n, int k, T alpha,
        ref T a, int lda, ref T b, int ldb, T beta, ref T c, int ldc, Prepacked prepacked = default, int firstColumn = 0)
        where TKernel : IGemmMicroKernel<T>
    {
        int mr = TKernel.Rows, nr = TKernel.Columns;
        int nc0 = Math.Min(ColumnBlock, RoundUp(n, nr)), kc0 = Math.Min(DepthBlock, k), mc0 = Math.Min(RowBlock, RoundUp(m, mr));
        int slack = 64 / Unsafe.SizeOf<T>();
        T[] arrayA = s_packedA.Rent(mc0 * kc0 + slack), arrayB = prepacked.Data == 0 ? s_packedB.Rent(nc0 * kc0 + slack) : [];
        Span<T> packedA = Aligned(arrayA, mc0 * kc0);
        Span<T> packedB = prepacked.Data == 0 ? Aligned(arrayB, nc0 * kc0) : default;
        Span<T> edgeTile = stackalloc T[mr * nr];
        for (int jc = 0; jc < n; jc += ColumnBlock)
        {
            int nc = Math.Min(ColumnBlock, n - jc);
            for (int pc = 0; pc < k; pc += DepthBlock)
            {
                int kc = Math.Min(DepthBlock, k - pc);
                T blockBeta = pc == 0 ? beta : T.One;
                if (prepacked.Data == 0) PackB(transB, ref b, ldb, pc, jc, kc, nc, nr, packedB);
                else packedB = new Span<T>((T*)prepacked.Data + (nint)pc * prepacked.PanelColumns + (nint)(firstColumn + jc) * kc, RoundUp(nc, nr) * kc);
                for (int ic = 0; ic < m; ic += RowBlock)
                {
                    int mc = Math.Min(RowBlock, m - ic);
                    PackA(transA, ref a, lda, ic, pc, mc, kc, mr, packedA);
                    MacroKernel<TKernel>(mc, nc, kc, alpha, blockBeta, packedA, packedB,
                        ref Unsafe.Add(ref c, (nint)ic * ldc + jc), ldc, edgeTile);
                }
            }
        }
        s_packedA.Return(arrayA);
        if (prepacked.Data == 0) s_packedB.Return(arrayB);
    }

    /// <summary>Packs op(B) [k × n] whole, as <see cref="Multiply{TKernel}"/> packs it panel by panel: KC-deep panels one
    /// after the other, each every column's NR-wide slivers (<see cref="Prepacked"/>), into <paramref name="packed"/>
    /// (at least <c>k · RoundUp(n, NR)</c> elements, 64-byte aligned).</summary>
    public static void PackWhole(bool transB, int k, int n, int nr, ref T b, int ldb, Span<T> packed)
    {
        int panelColumns = RoundUp(n, nr);
        for (int pc = 0; pc < k; pc += DepthBlock)
        {
            int kc = Math.Min(DepthBlock, k - pc);
            PackB(transB, ref b, ldb, pc, 0, kc, n, nr, packed.Slice(pc * panelColumns, kc * panelColumns));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MacroKernel<TKernel>(int mc, int nc, int kc, T alpha, T beta, Span<T> packedA, Span<T> packedB,
        ref T c, int ldc, Span<T> edgeTile) where TKernel : IGemmMicroKernel<T>
    {
        int mr = TKernel.Rows, nr = TKernel.Columns;
        ref T aStart = ref MemoryMarshal.GetReference(packedA);
        ref T bStart = ref MemoryMarshal.GetReference(packedB);
        ref T tile = ref MemoryMarshal.GetReference(edgeTile);
        for (int jr = 0; jr < nc; jr += nr)
        {
            int columns = Math.Min(nr, nc - jr);
            ref T bSliver = ref Unsafe.Add(ref bStart, (nint)jr * kc);
            for (int ir = 0; ir < mc; ir += mr)
            {
                int rows = Math.Min(mr, mc - ir);
                ref T aSliver = ref Unsafe.Add(ref aStart, (nint)ir * kc);
                ref T cTile = ref Unsafe.Add(ref c, (nint)ir * ldc + jr);
                if (rows == mr && columns == nr)
                {
                    TKernel.Run(kc, ref aSliver, ref bSliver, ref cTile, ldc, alpha, beta);
                    continue;
                }
                // Edge: the micro-kernel always writes a whole tile, so let it write α·A·B to the stack tile
                // and combine the valid part with β·C here (β = 0 never reads C).
                TKernel.Run(kc, ref aSliver, ref bSliver, ref tile, nr, alpha, T.Zero);
                for (int r = 0; r < rows; r++)
                for (int j = 0; j < columns; j++)
                {
                    ref T target = ref Unsafe.Add(ref cTile, (nint)r * ldc + j);
                    T product = Unsafe.Add(ref tile, r * nr + j);
                    target = beta == T.Zero ? product : product + beta * target;
                }
            }
        }
    }

    /// <summary>Packs op(A)[i0 .. i0+mc, p0 .. p0+kc] as MR-tall slivers: sliver s, step p, row r at
    /// <c>s·MR·kc + p·MR + r</c>; rows past mc are zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(bool transA, ref T a, int lda, int i0, int p0, int mc, int kc, int mr, Span<T> packed)
    {
        ref T dst = ref MemoryMarshal.GetReference(packed);
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            ref T sliver = ref Unsafe.Add(ref dst, (nint)ir * kc);
            if (rows < mr) MemoryMarshal.CreateSpan(ref sliver, mr * kc).Clear();
            if (!transA && rows == 6 && mr == 6)
            {
                // op(A)(i, p) = A[i·lda + p] with a whole 6-row sliver (the AVX2 tile height): walk the 6 rows side by
                // side, so the sliver is written sequentially and the 6 row streams are in flight at once (row after
                // row exposes the miss latency at the start of every 1 KiB row piece). Measured: packing A was
                // ≈ 13 % (n = 512) / 6 % (n = 2048) of a 1-thread product; this order recovers about 2/3 of it.
                ref T r0 = ref Unsafe.Add(ref a, (nint)(i0 + ir) * lda + p0);
                ref T r1 = ref Unsafe.Add(ref r0, lda);
                ref T r2 = ref Unsafe.Add(ref r1, lda);
                ref T r3 = ref Unsafe.Add(ref r2, lda);
                ref T r4 = ref Unsafe.Add(ref r3, lda);
                ref T r5 = ref Unsafe.Add(ref r4, lda);
                ref T d = ref sliver;
                for (nint p = 0; p < kc; p++)
                {
                    d = Unsafe.Add(ref r0, p);
                    Unsafe.Add(ref d, 1) = Unsafe.Add(ref r1, p);
                    Unsafe.Add(ref d, 2) = Unsafe.Add(ref r2, p);
                    Unsafe.Add(ref d, 3) = Unsafe.Add(ref r3, p);
                    Unsafe.Add(ref d, 4) = Unsafe.Add(ref r4, p);
                    Unsafe.Add(ref d, 5) = Unsafe.Add(ref r5, p);
                    d = ref Unsafe.Add(ref d, 6);
                }
            }
            else if (!transA)
            {
                // op(A)(i, p) = A[i·lda + p]: each row is contiguous, scattered into the sliver with stride MR.
                for (int r = 0; r < rows; r++)
                {
                    ref T source = ref Unsafe.Add(ref a, (nint)(i0 + ir + r) * lda + p0);
                    for (int p = 0; p < kc; p++) Unsafe.Add(ref sliver, p * mr + r) = Unsafe.Add(ref source, p);
                }
            }
            else
            {
                // op(A)(i, p) = A[p·lda + i]: each k step's MR values are already contiguous.
                for (int p = 0; p < kc; p++)
                {
                    ref T source = ref Unsafe.Add(ref a, (nint)(p0 + p) * lda + i0 + ir);
                    MemoryMarshal.CreateReadOnlySpan(ref source, rows).CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref sliver, p * mr), rows));
                }
            }
        }
    }

    /// <summary>Packs op(B)[p0 .. p0+kc, j0 .. j0+nc] as NR-wide slivers: sliver s, step p, column j at
    /// <c>s·NR·kc + p·NR + j</c>; columns past nc are zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(bool transB, ref T b, int ldb, int p0, int j0, int kc, int nc, int nr, Span<T> packed)
    {
        ref T dst = ref MemoryMarshal.GetReference(packed);
        int fullColumns = nc / nr * nr;
        if (!transB)
        {
            // op(B)(p, j) = B[p·ldb + j]. Walk B row by row (sequential reads the prefetcher follows; reading one
            // sliver at a time would touch a new row, ldb elements apart, for every NR values) and deal each row's
            // NR-wide pieces out to the slivers.
            for (int p = 0; p < kc; p++)
            {
                ref T row = ref Unsafe.Add(ref b, (nint)(p0 + p) * ldb + j0);
                for (int jr = 0; jr < fullColumns; jr += nr)
                    MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref row, jr), nr)
                        .CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref dst, (nint)jr * kc + p * nr), nr));
            }
            if (fullColumns < nc)
            {
                int columns = nc - fullColumns;
                ref T sliver = ref Unsafe.Add(ref dst, (nint)fullColumns * kc);
                MemoryMarshal.CreateSpan(ref sliver, nr * kc).Clear();
                for (int p = 0; p < kc; p++)
                    MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref b, (nint)(p0 + p) * ldb + j0 + fullColumns), columns)
                        .CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref sliver, p * nr), columns));
            }
            return;
        }
        for (int jr = 0; jr < nc; jr += nr)
        {
            int columns = Math.Min(nr, nc - jr);
            ref T sliver = ref Unsafe.Add(ref dst, (nint)jr * kc);
            if (typeof(T) == typeof(float) && columns == nr && nr % 8 == 0 && Simd.Path != SimdPath.Scalar && Avx.IsSupported)
            {
                PackTransposedSliver(ref Unsafe.As<T, float>(ref Unsafe.Add(ref b, (nint)(j0 + jr) * ldb + p0)), ldb, kc, nr,
                    ref Unsafe.As<T, float>(ref sliver));
                continue;
            }
            if (columns < nr) MemoryMarshal.CreateSpan(ref sliver, nr * kc).Clear();
            // op(B)(p, j) = B[j·ldb + p]: each column of op(B) is a contiguous row of B.
            for (int j = 0; j < columns; j++)
            {
                ref T source = ref Unsafe.Add(ref b, (nint)(j0 + jr + j) * ldb + p0);
                for (int p = 0; p < kc; p++) Unsafe.Add(ref sliver, p * nr + j) = Unsafe.Add(ref source, p);
            }
        }
    }

    /// <summary>One full float sliver of a transposed B: <c>sliver[p·NR + j] = source[j·ldb + p]</c> for j &lt; NR,
    /// p &lt; kc, by 8×8 register transposes (8 rows of B read 8 values at a time, written as 8 runs of 8 along the
    /// sliver). Why: the element loop below wrote one float per store, NR floats apart, and made packing a transposed
    /// B (a linear layer's xWᵀ, a convolution's weight gradient) a fifth of a 1-thread product; this moves the same values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposedSliver(ref float source, int ldb, int kc, int nr, ref float sliver)
    {
        int whole = kc & ~7;
        for (int j = 0; j < nr; j += 8)
        {
            ref float rows = ref Unsafe.Add(ref source, (nint)j * ldb);
            for (int p = 0; p < whole; p += 8)
            {
                ref float at = ref Unsafe.Add(ref rows, p);
                Vector256<float> r0 = Vector256.LoadUnsafe(ref at), r1 = Vector256.LoadUnsafe(ref at, (nuint)ldb);
                Vector256<float> r2 = Vector256.LoadUnsafe(ref at, (nuint)(2 * ldb)), r3 = Vector256.LoadUnsafe(ref at, (nuint)(3 * ldb));
                Vector256<float> r4 = Vector256.LoadUnsafe(ref at, (nuint)(4 * ldb)), r5 = Vector256.LoadUnsafe(ref at, (nuint)(5 * ldb));
                Vector256<float> r6 = Vector256.LoadUnsafe(ref at, (nuint)(6 * ldb)), r7 = Vector256.LoadUnsafe(ref at, (nuint)(7 * ldb));
                Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
                Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
                Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
                Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
                ref float target = ref Unsafe.Add(ref sliver, (nint)p * nr + j);
                Avx.Permute2x128(u0, u4, 0x20).StoreUnsafe(ref target);
                Avx.Permute2x128(u1, u5, 0x20).StoreUnsafe(ref target, (nuint)nr);
                Avx.Permute2x128(u2, u6, 0x20).StoreUnsafe(ref target, (nuint)(2 * nr));
                Avx.Permute2x128(u3, u7, 0x20).StoreUnsafe(ref target, (nuint)(3 * nr));
                Avx.Permute2x128(u0, u4, 0x31).StoreUnsafe(ref target, (nuint)(4 * nr));
                Avx.Permute2x128(u1, u5, 0x31).StoreUnsafe(ref target, (nuint)(5 * nr));
                Avx.Permute2x128(u2, u6, 0x31).StoreUnsafe(ref target, (nuint)(6 * nr));
                Avx.Permute2x128(u3, u7, 0x31).StoreUnsafe(ref target, (nuint)(7 * nr));
            }
            for (int r = 0; r < 8; r++)
            {
                ref float row = ref Unsafe.Add(ref rows, (nint)r * ldb);
                for (int p = whole; p < kc; p++) Unsafe.Add(ref sliver, (nint)p * nr + j + r) = Unsafe.Add(ref row, p);
            }
        }
    }

    /// <summary>This thread's buffer, as a 64-byte-aligned span of at least <paramref name="length"/> elements.
    /// Alignment matters: the micro-kernel loads two vectors per k step from packed B, and with an 8- or 16-byte
    /// aligned base every other ymm load would straddle two cache lines. The array lives on the pinned-object heap,
    /// so the aligned offset computed at allocation stays valid.</summary>
    /// <summary><paramref name="length"/> elements of the pinned <paramref name="buffer"/> (which has 64 bytes of slack)
    /// starting on a 64-byte boundary, so packed slivers load without cache-line splits.</summary>
    private static unsafe Span<T> Aligned(T[] buffer, int length)
    {
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        int offset = (int)((64 - (address & 63)) & 63) / Unsafe.SizeOf<T>();
        return buffer.AsSpan(offset, length);
    }

    internal static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}
