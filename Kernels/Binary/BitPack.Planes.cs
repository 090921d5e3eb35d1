using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels.Binary;

public static partial class BitPack
{
    /// <summary>Words per plane of sign planes: <c>ceil(pixels/64)</c>. Sign planes [N][C][WordsPerPlane(H·W)] hold bit
    /// p of plane (n, c) = <c>x[n, c, p] ≥ 0</c> (the sign rule of <see cref="Pack(ReadOnlySpan{float}, Span{ulong})"/>,
    /// tail bits 0): what an op that writes NCHW values plane by plane can keep beside them
    /// (<c>ActivationKernels.ScaleShiftAddClampSigns</c>), so that the next binary convolution forms its channels-last
    /// words with <see cref="ChannelsLastFromPlanes"/> instead of reading the float values again.</summary>
    public static int WordsPerPlane(int pixels) => WordsPerPixel(pixels);

    /// <summary>Sign planes [N][C][<see cref="WordsPerPlane"/>(H·W)] → channels-last words [N][H][W][<see cref="WordsPerPixel"/>(C)],
    /// bit c of pixel p = bit p of plane (n, c): exactly <see cref="PackChannelsLast(ReadOnlySpan{float}, Span{ulong}, int, int, int, int)"/>
    /// of the values the planes were packed from.</summary>
    /// <remarks>Per image, 64 pixels and 64 channels at a time: the 64 channels' words for those pixels are a 64×64 bit
    /// matrix (row = channel, bit = pixel) whose transpose (<see cref="Transpose64(Span{ulong})"/>) has pixel j's channel word in
    /// row j. It reads 1/32 of the float tensor's bytes where <see cref="ChannelsLastFloat"/> reads all of them. Images
    /// are split across <see cref="KernelThreads"/> (disjoint words, so the result does not depend on the split). The
    /// Vector512 path transposes with <see cref="Transpose64Vector512"/>, the Vector256 path with the scalar swaps, the
    /// scalar path runs <see cref="ChannelsLastFromPlanesReference"/>.</remarks>
    /// <exception cref="ArgumentException">A span is too short for the shape.</exception>
    public static unsafe void ChannelsLastFromPlanes(ReadOnlySpan<ulong> planes, Span<ulong> bits, int batch, int channels, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfNegative(channels);
        ArgumentOutOfRangeException.ThrowIfNegative(height);
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        int plane = height * width;
        CheckLength(planes.Length, (long)batch * channels * WordsPerPlane(plane), nameof(planes));
        CheckLength(bits.Length, (long)batch * plane * WordsPerPixel(channels), nameof(bits));
        if (Simd.Path == SimdPath.Scalar)
        {
            ChannelsLastFromPlanesReference(planes, bits, batch, channels, plane);
            return;
        }
        fixed (ulong* source = planes, target = bits)
            KernelThreads.For(batch, 1, new FromPlanesBody(source, target, channels, plane, Simd.Path == SimdPath.Vector512 && Vector512.IsHardwareAccelerated));
    }

    /// <summary>The specification of <see cref="ChannelsLastFromPlanes"/>, one bit at a time.</summary>
    internal static void ChannelsLastFromPlanesReference(ReadOnlySpan<ulong> planes, Span<ulong> bits, int batch, int channels, int plane)
    {
        int wpp = WordsPerPixel(channels), planeWords = WordsPerPlane(plane);
        bits[..(batch * plane * wpp)].Clear();
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < plane; p++)
                    if (((planes[(n * channels + c) * planeWords + (p >> 6)] >> (p & 63)) & 1) != 0)
                        bits[(n * plane + p) * wpp + (c >> 6)] |= 1UL << (c & 63);
    }

    /// <summary>Images [first, end) of <see cref="ChannelsLastFromPlanes"/>, as a value so that a call allocates nothing.</summary>
    private readonly unsafe struct FromPlanesBody(ulong* planes, ulong* bits, int channels, int plane, bool vector512) : KernelThreads.IRangeBody
    {
        public void Run(int first, int end)
        {
            int wpp = WordsPerPixel(channels), planeWords = WordsPerPlane(plane);
            ulong* block = stackalloc ulong[64];
            for (int n = first; n < end; n++)
            {
                ulong* image = planes + (nint)n * channels * planeWords, words = bits + (nint)n * plane * wpp;
                for (int b = 0; b < planeWords; b++)
                {
                    int pixels = Math.Min(64, plane - 64 * b);
                    for (int w = 0; w < wpp; w++)
                    {
                        int c0 = w * 64, count = Math.Min(64, channels - c0);
                        for (int c = 0; c < count; c++) block[c] = image[(nint)(c0 + c) * planeWords + b];
                        for (int c = count; c < 64; c++) block[c] = 0;
                        if (vector512) Transpose64Vector512(block); else Transpose64(block);
                        ulong* pixel = words + (nint)64 * b * wpp + w;
                        for (int j = 0; j < pixels; j++) pixel[(nint)j * wpp] = block[j];
                    }
                }
            }
        }
    }

    /// <summary>The 64×64 bit transpose of <see cref="Transpose64(Span{ulong})"/> on 64 words at <paramref name="m"/>:
    /// recursive block swaps of 32, 16, …, 1 (Hacker's Delight §7-3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Transpose64(ulong* m)
    {
        ulong mask = 0x00000000FFFFFFFFUL;
        for (int j = 32; j != 0; j >>= 1, mask ^= mask << j)
            for (int k = 0; k < 64; k = ((k | j) + 1) & ~j)
            {
                // swap the upper-right block (bits j.. of rows k) with the lower-left block (bits ..j of rows k + j)
                ulong t = ((m[k] >> j) ^ m[k + j]) & mask;
                m[k] ^= t << j;
                m[k + j] ^= t;
            }
    }

    /// <summary><see cref="Transpose64(Span{ulong})"/> on eight Vector512 rows of 8 words: the swap rounds of 32, 16 and
    /// 8 pair rows in different vectors at the same lane (plain vector operations), those of 4, 2 and 1 pair lanes of
    /// the same vector (a lane permutation brings each row's partner alongside, a blend keeps each half's result):
    /// about 200 vector operations where the word-by-word swaps take about 1 200.</summary>
    internal static unsafe void Transpose64Vector512(ulong* m)
    {
        Vector512<ulong> v0 = Vector512.Load(m), v1 = Vector512.Load(m + 8), v2 = Vector512.Load(m + 16), v3 = Vector512.Load(m + 24);
        Vector512<ulong> v4 = Vector512.Load(m + 32), v5 = Vector512.Load(m + 40), v6 = Vector512.Load(m + 48), v7 = Vector512.Load(m + 56);
        Vector512<ulong> mask = Vector512.Create(0x00000000FFFFFFFFUL);
        Swap(ref v0, ref v4, 32, mask); Swap(ref v1, ref v5, 32, mask); Swap(ref v2, ref v6, 32, mask); Swap(ref v3, ref v7, 32, mask);
        mask = Vector512.Create(0x0000FFFF0000FFFFUL);
        Swap(ref v0, ref v2, 16, mask); Swap(ref v1, ref v3, 16, mask); Swap(ref v4, ref v6, 16, mask); Swap(ref v5, ref v7, 16, mask);
        mask = Vector512.Create(0x00FF00FF00FF00FFUL);
        Swap(ref v0, ref v1, 8, mask); Swap(ref v2, ref v3, 8, mask); Swap(ref v4, ref v5, 8, mask); Swap(ref v6, ref v7, 8, mask);
        v0 = SwapLanes(v0); v1 = SwapLanes(v1); v2 = SwapLanes(v2); v3 = SwapLanes(v3);
        v4 = SwapLanes(v4); v5 = SwapLanes(v5); v6 = SwapLanes(v6); v7 = SwapLanes(v7);
        v0.Store(m); v1.Store(m + 8); v2.Store(m + 16); v3.Store(m + 24);
        v4.Store(m + 32); v5.Store(m + 40); v6.Store(m + 48); v7.Store(m + 56);

        // rows k (in a) and k + j (in b, same lane): swap a's bits j.. (masked) with b's bits ..j
        static void Swap(ref Vector512<ulong> a, ref Vector512<ulong> b, int j, Vector512<ulong> mask)
        {
            Vector512<ulong> t = ((a >> j) ^ b) & mask;
            a ^= t << j;
            b ^= t;
        }

        // the rounds of 4, 2 and 1 within one vector of 8 rows: lane l pairs with lane l ^ j
        static Vector512<ulong> SwapLanes(Vector512<ulong> v)
        {
            v = SwapWithin(v, 4, Vector512.Create(4UL, 5, 6, 7, 0, 1, 2, 3), Vector512.Create(~0UL, ~0UL, ~0UL, ~0UL, 0, 0, 0, 0), 0x0F0F0F0F0F0F0F0FUL);
            v = SwapWithin(v, 2, Vector512.Create(2UL, 3, 0, 1, 6, 7, 4, 5), Vector512.Create(~0UL, ~0UL, 0, 0, ~0UL, ~0UL, 0, 0), 0x3333333333333333UL);
            return SwapWithin(v, 1, Vector512.Create(1UL, 0, 3, 2, 5, 4, 7, 6), Vector512.Create(~0UL, 0, ~0UL, 0, ~0UL, 0, ~0UL, 0), 0x5555555555555555UL);
        }

        // t = ((row k >> j) ^ row k+j) & mask, valid in the lanes of rows k (lowLanes); row k ^= t << j there, row k+j ^= t
        // moved over to its lane
        static Vector512<ulong> SwapWithin(Vector512<ulong> v, int j, Vector512<ulong> partner, Vector512<ulong> lowLanes, ulong mask)
        {
            Vector512<ulong> t = ((v >> j) ^ Vector512.Shuffle(v, partner)) & Vector512.Create(mask);
            return v ^ Vector512.ConditionalSelect(lowLanes, t << j, Vector512.Shuffle(t, partner));
        }
    }
}
