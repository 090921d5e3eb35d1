using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BinaryGrad.Kernels.Binary;

public static unsafe partial class BinaryGemm
{
    /// <summary>Rows of A per micro-kernel call (register block height).</summary>
    internal const int RowsPerKernel = 2;

    /// <summary>Rows of B per micro-kernel call (register block width). 2×2 = 4 independent accumulator chains,
    /// each A and B vector loaded once for two pairs, and still few enough registers (16 ymm) not to spill.</summary>
    internal const int ColsPerKernel = 2;

    /// <summary>Bytes of B kept hot while the rows of A sweep past it: a quarter of a 512 KiB L2, leaving room
    /// for the A rows and the outputs.</summary>
    private const int BBlockBytes = 128 * 1024;

    /// <summary>One register block: the mismatch counts of rows a0, a1 against rows b0, b1, over
    /// <c>words</c> words (a multiple of <see cref="BitPack.RowAlignmentWords"/> = 4), and of one pair.</summary>
    internal interface IMicroKernel
    {
        static abstract void Block2x2(ulong* a0, ulong* a1, ulong* b0, ulong* b1, int words,
                                      out int c00, out int c01, out int c10, out int c11);
        static abstract int Single(ulong* a, ulong* b, int words);
    }

    /// <summary>Cache-blocked driver for rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>) of A against
    /// all n rows of B: B is cut into blocks of <see cref="BBlockBytes"/> that stay in L2 while every A row pair
    /// (in L1) streams over them.</summary>
    internal static void CountMismatches<TEpilogue>(ulong* a, ulong* b, int rowStart, int rowEnd, int n, int stride,
                                                    SimdPath path, TEpilogue epilogue)
        where TEpilogue : struct, IMismatchEpilogue
    {
        switch (path)
        {
            case SimdPath.Vector512: Blocked<Vector512Kernel, TEpilogue>(a, b, rowStart, rowEnd, n, stride, epilogue); break;
            case SimdPath.Vector256: Blocked<Vector256Kernel, TEpilogue>(a, b, rowStart, rowEnd, n, stride, epilogue); break;
            default: Blocked<ScalarKernel, TEpilogue>(a, b, rowStart, rowEnd, n, stride, epilogue); break;
        }
    }

    private static void Blocked<TKernel, TEpilogue>(ulong* a, ulong* b, int rowStart, int rowEnd, int n, int stride, TEpilogue epilogue)
        where TKernel : struct, IMicroKernel
        where TEpilogue : struct, IMismatchEpilogue
    {
        int rowBytes = Math.Max(1, stride * sizeof(ulong));
        int colsPerBlock = Math.Max(ColsPerKernel, BBlockBytes / rowBytes / ColsPerKernel * ColsPerKernel);
        for (int col0 = 0; col0 < n; col0 += colsPerBlock)
        {
            int col1 = Math.Min(n, col0 + colsPerBlock);
            int i = rowStart;
            for (; i + RowsPerKernel <= rowEnd; i += RowsPerKernel)
            {
                ulong* a0 = a + (nint)i * stride, a1 = a0 + stride;
                int j = col0;
                for (; j + ColsPerKernel <= col1; j += ColsPerKernel)
                {
                    ulong* b0 = b + (nint)j * stride;
                    TKernel.Block2x2(a0, a1, b0, b0 + stride, stride, out int c00, out int c01, out int c10, out int c11);
                    epilogue.Store(i, j, c00);
                    epilogue.Store(i, j + 1, c01);
                    epilogue.Store(i + 1, j, c10);
                    epilogue.Store(i + 1, j + 1, c11);
                }
                for (; j < col1; j++)
                {
                    ulong* bj = b + (nint)j * stride;
                    epilogue.Store(i, j, TKernel.Single(a0, bj, stride));
                    epilogue.Store(i + 1, j, TKernel.Single(a1, bj, stride));
                }
            }
            for (; i < rowEnd; i++)
                for (int j = col0; j < col1; j++)
                    epilogue.Store(i, j, TKernel.Single(a + (nint)i * stride, b + (nint)j * stride, stride));
        }
    }

    /// <summary>Hardware <c>popcnt</c> per 64-bit word (<see cref="Popcnt.X64"/>, else the portable
    /// <see cref="BitOperations.PopCount(ulong)"/>): 3 integer ops per word per pair (xor, popcnt, add).</summary>
    internal readonly struct ScalarKernel : IMicroKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static ulong Count(ulong x) => Popcnt.X64.IsSupported ? Popcnt.X64.PopCount(x) : (ulong)BitOperations.PopCount(x);

        public static void Block2x2(ulong* a0, ulong* a1, ulong* b0, ulong* b1, int words,
                                    out int c00, out int c01, out int c10, out int c11)
        {
            ulong s00 = 0, s01 = 0, s10 = 0, s11 = 0;
            for (int w = 0; w < words; w++)
            {
                ulong x0 = a0[w], x1 = a1[w], y0 = b0[w], y1 = b1[w];
                s00 += Count(x0 ^ y0);
                s01 += Count(x0 ^ y1);
                s10 += Count(x1 ^ y0);
                s11 += Count(x1 ^ y1);
            }
            (c00, c01, c10, c11) = ((int)s00, (int)s01, (int)s10, (int)s11);
        }

        public static int Single(ulong* a, ulong* b, int words)
        {
            ulong s0 = 0, s1 = 0;
            for (int w = 0; w < words; w += 2) // words is a multiple of 4
            {
                s0 += Count(a[w] ^ b[w]);
                s1 += Count(a[w + 1] ^ b[w + 1]);
            }
            return (int)(s0 + s1);
        }
    }

    /// <summary>Nibble-lookup byte counts on 256-bit vectors (<see cref="BitCount.ByteCounts(Vector256{ulong})"/>),
    /// accumulated per byte for up to 31 vectors (31·8 = 248 fits a byte) before one <c>vpsadbw</c>.</summary>
    internal readonly struct Vector256Kernel : IMicroKernel
    {
        private const int MaxVectorsPerByteSum = 31;

        public static void Block2x2(ulong* a0, ulong* a1, ulong* b0, ulong* b1, int words,
                                    out int c00, out int c01, out int c10, out int c11)
        {
            Vector256<ulong> t00 = default, t01 = default, t10 = default, t11 = default;
            Vector256<byte> table = BitCount.NibbleTable256, low = Vector256.Create((byte)0x0F);
            for (int w = 0; w < words;)
            {
                int end = Math.Min(words, w + 4 * MaxVectorsPerByteSum);
                Vector256<byte> s00 = default, s01 = default, s10 = default, s11 = default;
                for (; w < end; w += 4)
                {
                    Vector256<ulong> x0 = Vector256.Load(a0 + w), x1 = Vector256.Load(a1 + w);
                    Vector256<ulong> y0 = Vector256.Load(b0 + w), y1 = Vector256.Load(b1 + w);
                    s00 += BitCount.ByteCounts(x0 ^ y0, table, low);
                    s01 += BitCount.ByteCounts(x0 ^ y1, table, low);
                    s10 += BitCount.ByteCounts(x1 ^ y0, table, low);
                    s11 += BitCount.ByteCounts(x1 ^ y1, table, low);
                }
                t00 += BitCount.SumBytes(s00);
                t01 += BitCount.SumBytes(s01);
                t10 += BitCount.SumBytes(s10);
                t11 += BitCount.SumBytes(s11);
            }
            (c00, c01, c10, c11) = ((int)Vector256.Sum(t00), (int)Vector256.Sum(t01), (int)Vector256.Sum(t10), (int)Vector256.Sum(t11));
        }

        public static int Single(ulong* a, ulong* b, int words)
        {
            Vector256<ulong> total = default;
            Vector256<byte> table = BitCount.NibbleTable256, low = Vector256.Create((byte)0x0F);
            for (int w = 0; w < words;)
            {
                int end = Math.Min(words, w + 4 * MaxVectorsPerByteSum);
                Vector256<byte> sum = default;
                for (; w < end; w += 4) sum += BitCount.ByteCounts(Vector256.Load(a + w) ^ Vector256.Load(b + w), table, low);
                total += BitCount.SumBytes(sum);
            }
            return (int)Vector256.Sum(total);
        }
    }

    /// <summary>As <see cref="Vector256Kernel"/> on 512-bit vectors: <c>vpshufb zmm</c> with AVX-512BW, SWAR byte
    /// counts otherwise (so the path is exact, if slow, under software emulation).</summary>
    internal readonly struct Vector512Kernel : IMicroKernel
    {
        private const int MaxVectorsPerByteSum = 31;

        public static void Block2x2(ulong* a0, ulong* a1, ulong* b0, ulong* b1, int words,
                                    out int c00, out int c01, out int c10, out int c11)
        {
            Vector512<ulong> t00 = default, t01 = default, t10 = default, t11 = default;
            Vector512<byte> table = BitCount.NibbleTable512, low = Vector512.Create((byte)0x0F);
            for (int w = 0; w + 8 <= words;)
            {
                int end = Math.Min(words, w + 8 * MaxVectorsPerByteSum);
                Vector512<byte> s00 = default, s01 = default, s10 = default, s11 = default;
                for (; w + 8 <= end; w += 8)
                {
                    Vector512<ulong> x0 = Vector512.Load(a0 + w), x1 = Vector512.Load(a1 + w);
                    Vector512<ulong> y0 = Vector512.Load(b0 + w), y1 = Vector512.Load(b1 + w);
                    s00 += BitCount.ByteCounts(x0 ^ y0, table, low);
                    s01 += BitCount.ByteCounts(x0 ^ y1, table, low);
                    s10 += BitCount.ByteCounts(x1 ^ y0, table, low);
                    s11 += BitCount.ByteCounts(x1 ^ y1, table, low);
                }
                t00 += BitCount.SumBytes(s00);
                t01 += BitCount.SumBytes(s01);
                t10 += BitCount.SumBytes(s10);
                t11 += BitCount.SumBytes(s11);
            }
            (c00, c01, c10, c11) = ((int)Vector512.Sum(t00), (int)Vector512.Sum(t01), (int)Vector512.Sum(t10), (int)Vector512.Sum(t11));
            if (words % 8 != 0) // rows are aligned to 4 words: at most one 256-bit step left
            {
                int w = words - 4;
                c00 += Vector256Kernel.Single(a0 + w, b0 + w, 4);
                c01 += Vector256Kernel.Single(a0 + w, b1 + w, 4);
                c10 += Vector256Kernel.Single(a1 + w, b0 + w, 4);
                c11 += Vector256Kernel.Single(a1 + w, b1 + w, 4);
            }
        }

        public static int Single(ulong* a, ulong* b, int words)
        {
            Vector512<ulong> total = default;
            Vector512<byte> table = BitCount.NibbleTable512, low = Vector512.Create((byte)0x0F);
            for (int w = 0; w + 8 <= words;)
            {
                int end = Math.Min(words, w + 8 * MaxVectorsPerByteSum);
                Vector512<byte> sum = default;
                for (; w + 8 <= end; w += 8) sum += BitCount.ByteCounts(Vector512.Load(a + w) ^ Vector512.Load(b + w), table, low);
                total += BitCount.SumBytes(sum);
            }
            int count = (int)Vector512.Sum(total);
            return words % 8 == 0 ? count : count + Vector256Kernel.Single(a + words - 4, b + words - 4, 4);
        }
    }
}
