using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels.Binary;

/// <summary>Packs the signs of float or double values into 64-bit words, the operand format of
/// <see cref="BinaryGemm"/> and <c>XnorConv2D</c>, and unpacks them back to ±1.</summary>
/// <remarks>
/// <para><b>Bit convention.</b> Value i lands in word <c>i / 64</c>, bit <c>i % 64</c> (bit 0 is the least
/// significant). Bit 1 means +1 (<c>x ≥ 0</c>, so both +0 and −0 give +1), bit 0 means −1 (<c>x &lt; 0</c>, and NaN,
/// since <c>NaN ≥ 0</c> is false). This is Larq's sign convention, so binarize-then-pack equals pack.</para>
/// <para><b>Padding bits are zero.</b> Every bit past the logical length, in the last partial word and in the
/// whole words of row padding, is 0 in every packed operand. The XOR of two zero bits is 0, so padding never adds
/// to a mismatch count, and the kernels compute <c>K − 2·popcount(a XOR b)</c> with the true K.</para>
/// <para><b>Row-major matrices</b> [rows × K] pack to [rows × <see cref="WordsPerRow"/>(K)] words: each row is
/// <c>ceil(K/64)</c> words rounded up to a multiple of <see cref="RowAlignmentWords"/> (4 words = 256 bits), so
/// the GEMM reads whole 256-bit vectors with no tail loop; the Vector512 path takes at most one 256-bit step at the
/// end of a row. (Aligning to 512 bits would waste up to 448 bits per row: a 3×3 filter over 128 channels is
/// 1152 bits, 18 words, which 4-word alignment pads to 20 and 8-word alignment to 24.)</para>
/// <para><b>NCHW activations</b> [N][C][H][W] pack channels-last: [N][H][W][<see cref="WordsPerPixel"/>(C)],
/// pixel (n, h, w) at word offset <c>((n·H + h)·W + w)·WordsPerPixel(C)</c>, channel c at bit c of that pixel's
/// words. The per-pixel stride is tight (<c>ceil(C/64)</c>, not aligned) because the convolution gathers the
/// taps of a receptive field into one aligned row anyway.</para>
/// </remarks>
public static partial class BitPack
{
    /// <summary>Row stride granularity of packed matrices, in words: 4 words = 256 bits = one Vector256.</summary>
    public const int RowAlignmentWords = 4;

    /// <summary>Words per packed matrix row: <c>ceil(K/64)</c> rounded up to a multiple of
    /// <see cref="RowAlignmentWords"/>. K = 0 gives 0.</summary>
    public static int WordsPerRow(int bitCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bitCount);
        int words = WordsPerPixel(bitCount);
        return (words + RowAlignmentWords - 1) / RowAlignmentWords * RowAlignmentWords;
    }

    /// <summary>Words per pixel of channels-last packed activations: <c>ceil(channels/64)</c>, no alignment.</summary>
    public static int WordsPerPixel(int channels)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(channels);
        return (int)(((long)channels + 63) / 64);
    }

    /// <summary>Packs <c>sign(x)</c> into <c>ceil(x.Length/64)</c> words; bits past <c>x.Length</c> are zeroed.</summary>
    /// <exception cref="ArgumentException"><paramref name="bits"/> is shorter than <c>ceil(x.Length/64)</c> words.</exception>
    public static void Pack(ReadOnlySpan<float> x, Span<ulong> bits) => PackDispatch(x, bits);

    /// <inheritdoc cref="Pack(ReadOnlySpan{float}, Span{ulong})"/>
    public static void Pack(ReadOnlySpan<double> x, Span<ulong> bits) => PackDispatch(x, bits);

    /// <summary>Packs a row-major [<paramref name="rows"/> × <paramref name="bitCount"/>] matrix into
    /// [rows × <see cref="WordsPerRow"/>(bitCount)] words, padding words included (all zero).</summary>
    /// <exception cref="ArgumentException">A span is too short for the shape.</exception>
    public static void PackRows(ReadOnlySpan<float> x, Span<ulong> bits, int rows, int bitCount) =>
        PackRowsCore(x, bits, rows, bitCount);

    /// <inheritdoc cref="PackRows(ReadOnlySpan{float}, Span{ulong}, int, int)"/>
    public static void PackRows(ReadOnlySpan<double> x, Span<ulong> bits, int rows, int bitCount) =>
        PackRowsCore(x, bits, rows, bitCount);

    /// <summary>Packs NCHW activations [N][C][H][W] channels-last into [N][H][W][<see cref="WordsPerPixel"/>(C)].</summary>
    /// <exception cref="ArgumentException">A span is too short for the shape.</exception>
    public static void PackChannelsLast(ReadOnlySpan<float> x, Span<ulong> bits, int batch, int channels, int height, int width) =>
        PackChannelsLastCore(x, bits, batch, channels, height, width);

    /// <summary>Packs per-channel comparisons of NCHW activations channels-last, as
    /// <see cref="PackChannelsLast(ReadOnlySpan{float}, Span{ulong}, int, int, int, int)"/> does signs: bit c of pixel p
    /// is <c>x[n, c, p] ≤ thresholds[c]</c> where bit c of <paramref name="below"/> is set, else
    /// <c>x[n, c, p] ≥ thresholds[c]</c> (NaN gives 0 either way). Thresholds of 0 and no <paramref name="below"/> bits
    /// are the sign pack. The inference model packs <c>sign(BN(conv))</c> this way in one pass over a real
    /// convolution's output, the batch norm folded into the thresholds (docs/inference.md).</summary>
    /// <exception cref="ArgumentException">A span is too short for the shape.</exception>
    public static void PackChannelsLast(ReadOnlySpan<float> x, Span<ulong> bits, int batch, int channels, int height, int width,
                                        ReadOnlySpan<float> thresholds, ReadOnlySpan<ulong> below)
    {
        CheckLength(thresholds.Length, channels, nameof(thresholds));
        CheckLength(below.Length, WordsPerPixel(channels), nameof(below));
        PackChannelsLastCore(x, bits, batch, channels, height, width, thresholds, below);
    }

    /// <inheritdoc cref="PackChannelsLast(ReadOnlySpan{float}, Span{ulong}, int, int, int, int)"/>
    public static void PackChannelsLast(ReadOnlySpan<double> x, Span<ulong> bits, int batch, int channels, int height, int width) =>
        PackChannelsLastCore(x, bits, batch, channels, height, width);

    /// <summary><see cref="PackRows(ReadOnlySpan{float}, Span{ulong}, int, int)"/> for code written once over the element type.</summary>
    public static void PackRows<T>(ReadOnlySpan<T> x, Span<ulong> bits, int rows, int bitCount) where T : unmanaged, INumber<T> =>
        PackRowsCore(x, bits, rows, bitCount);

    /// <summary><see cref="PackChannelsLast(ReadOnlySpan{float}, Span{ulong}, int, int, int, int)"/> for code written once over the element type.</summary>
    public static void PackChannelsLast<T>(ReadOnlySpan<T> x, Span<ulong> bits, int batch, int channels, int height, int width) where T : unmanaged, INumber<T> =>
        PackChannelsLastCore(x, bits, batch, channels, height, width);

    /// <summary>Writes <c>y[i] = bit i ? +1 : −1</c> for <c>i &lt; y.Length</c>: the inverse of <see cref="Pack(ReadOnlySpan{float}, Span{ulong})"/> on ±1 data.</summary>
    public static void Unpack(ReadOnlySpan<ulong> bits, Span<float> y)
    {
        if (bits.Length < WordsPerPixel(y.Length)) throw new ArgumentException("Too few packed words.", nameof(bits));
        for (int i = 0; i < y.Length; i++) y[i] = ((bits[i >> 6] >> (i & 63)) & 1) != 0 ? 1f : -1f;
    }

    /// <summary>Inverse of <see cref="PackRows(ReadOnlySpan{float}, Span{ulong}, int, int)"/>: ±1 values, row-major.</summary>
    public static void UnpackRows(ReadOnlySpan<ulong> bits, Span<float> y, int rows, int bitCount)
    {
        int stride = WordsPerRow(bitCount);
        CheckLength(bits.Length, (long)rows * stride, nameof(bits));
        CheckLength(y.Length, (long)rows * bitCount, nameof(y));
        for (int r = 0; r < rows; r++)
            Unpack(bits.Slice(r * stride, stride), y.Slice(r * bitCount, bitCount));
    }

    /// <summary>Inverse of <see cref="PackChannelsLast(ReadOnlySpan{float}, Span{ulong}, int, int, int, int)"/>: ±1 values, NCHW.</summary>
    public static void UnpackChannelsLast(ReadOnlySpan<ulong> bits, Span<float> y, int batch, int channels, int height, int width)
    {
        int wpp = WordsPerPixel(channels), plane = height * width;
        CheckLength(bits.Length, (long)batch * plane * wpp, nameof(bits));
        CheckLength(y.Length, (long)batch * channels * plane, nameof(y));
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < plane; p++)
                {
                    ulong word = bits[(n * plane + p) * wpp + (c >> 6)];
                    y[(n * channels + c) * plane + p] = ((word >> (c & 63)) & 1) != 0 ? 1f : -1f;
                }
    }

    // ---- implementation -------------------------------------------------------------------------------------

    private static void PackDispatch<T>(ReadOnlySpan<T> x, Span<ulong> bits) where T : unmanaged, INumber<T>
    {
        int words = WordsPerPixel(x.Length);
        if (bits.Length < words) throw new ArgumentException("Too few packed words.", nameof(bits));
        bits = bits[..words];
        switch (Simd.Path)
        {
            case SimdPath.Vector512: Vectorized512(x, bits); break;
            case SimdPath.Vector256: Vectorized256(x, bits); break;
            default: Reference(x, bits); break;
        }
    }

    private static void PackRowsCore<T>(ReadOnlySpan<T> x, Span<ulong> bits, int rows, int bitCount) where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        int stride = WordsPerRow(bitCount);
        CheckLength(x.Length, (long)rows * bitCount, nameof(x));
        CheckLength(bits.Length, (long)rows * stride, nameof(bits));
        for (int r = 0; r < rows; r++)
        {
            Span<ulong> row = bits.Slice(r * stride, stride);
            PackDispatch(x.Slice(r * bitCount, bitCount), row);
            row[WordsPerPixel(bitCount)..].Clear(); // whole padding words: zero by contract
        }
    }

    /// <summary>The specification: one bit per value, <c>x ≥ 0</c> ⇒ 1. Clears the tail bits of the last word.</summary>
    internal static void Reference<T>(ReadOnlySpan<T> x, Span<ulong> bits) where T : unmanaged, INumber<T>
    {
        bits[..WordsPerPixel(x.Length)].Clear();
        for (int i = 0; i < x.Length; i++)
            if (x[i] >= T.Zero) bits[i >> 6] |= 1UL << (i & 63);
    }

    /// <summary>64 values per word from <c>64 / Vector256&lt;T&gt;.Count</c> comparisons, each giving its lanes'
    /// bits at once through <c>ExtractMostSignificantBits</c> (all-ones lanes have their top bit set).</summary>
    internal static void Vectorized256<T>(ReadOnlySpan<T> x, Span<ulong> bits) where T : unmanaged, INumber<T>
    {
        int lanes = Vector256<T>.Count, full = x.Length / 64;
        ref T xRef = ref MemoryMarshal.GetReference(x);
        for (int w = 0; w < full; w++)
        {
            ulong word = 0;
            for (int j = 0; j < 64; j += lanes)
            {
                Vector256<T> v = Vector256.LoadUnsafe(ref xRef, (nuint)(w * 64 + j));
                word |= (ulong)Vector256.GreaterThanOrEqual(v, Vector256<T>.Zero).ExtractMostSignificantBits() << j;
            }
            bits[w] = word;
        }
        Reference(x[(full * 64)..], bits[full..]); // fewer than 64 values left
    }

    /// <summary>As <see cref="Vectorized256"/> with 512-bit comparisons.</summary>
    internal static void Vectorized512<T>(ReadOnlySpan<T> x, Span<ulong> bits) where T : unmanaged, INumber<T>
    {
        int lanes = Vector512<T>.Count, full = x.Length / 64;
        ref T xRef = ref MemoryMarshal.GetReference(x);
        for (int w = 0; w < full; w++)
        {
            ulong word = 0;
            for (int j = 0; j < 64; j += lanes)
            {
                Vector512<T> v = Vector512.LoadUnsafe(ref xRef, (nuint)(w * 64 + j));
                word |= Vector512.GreaterThanOrEqual(v, Vector512<T>.Zero).ExtractMostSignificantBits() << j;
            }
            bits[w] = word;
        }
        Reference(x[(full * 64)..], bits[full..]);
    }

    private static void PackChannelsLastCore<T>(ReadOnlySpan<T> x, Span<ulong> bits, int batch, int channels, int height, int width)
        where T : unmanaged, INumber<T> => PackChannelsLastCore(x, bits, batch, channels, height, width, default, default);

    /// <summary>Empty <paramref name="thresholds"/> and <paramref name="below"/>: the sign pack (thresholds 0, none below).</summary>
    private static void PackChannelsLastCore<T>(ReadOnlySpan<T> x, Span<ulong> bits, int batch, int channels, int height, int width,
                                                ReadOnlySpan<T> thresholds, ReadOnlySpan<ulong> below)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfNegative(channels);
        ArgumentOutOfRangeException.ThrowIfNegative(height);
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        int wpp = WordsPerPixel(channels), plane = height * width;
        CheckLength(x.Length, (long)batch * channels * plane, nameof(x));
        CheckLength(bits.Length, (long)batch * plane * wpp, nameof(bits));
        if (Simd.Path == SimdPath.Scalar) ChannelsLastReference(x, bits, batch, channels, plane, thresholds, below);
        else ChannelsLastVectorized(x, bits, batch, channels, plane, thresholds, below);
    }

    /// <summary>The specification of the channels-last layout: bit c of pixel p's words is <c>x[n, c, p] ≥ 0</c>.</summary>
    internal static void ChannelsLastReference<T>(ReadOnlySpan<T> x, Span<ulong> bits, int batch, int channels, int plane)
        where T : unmanaged, INumber<T> => ChannelsLastReference(x, bits, batch, channels, plane, default, default);

    /// <summary>The specification of the threshold pack: bit c of pixel p is <c>x[n, c, p] ≤ thresholds[c]</c> where bit c of
    /// <paramref name="below"/> is set, else <c>x[n, c, p] ≥ thresholds[c]</c>; empty spans mean thresholds 0, none below.</summary>
    internal static void ChannelsLastReference<T>(ReadOnlySpan<T> x, Span<ulong> bits, int batch, int channels, int plane,
                                                  ReadOnlySpan<T> thresholds, ReadOnlySpan<ulong> below)
        where T : unmanaged, INumber<T>
    {
        int wpp = WordsPerPixel(channels);
        bits[..(batch * plane * wpp)].Clear();
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
            {
                T t = thresholds.IsEmpty ? T.Zero : thresholds[c];
                bool isBelow = !below.IsEmpty && ((below[c >> 6] >> (c & 63)) & 1) != 0;
                for (int p = 0; p < plane; p++)
                {
                    T v = x[(n * channels + c) * plane + p];
                    if (isBelow ? v <= t : v >= t)
                        bits[(n * plane + p) * wpp + (c >> 6)] |= 1UL << (c & 63);
                }
            }
    }

    /// <summary>Float images go through <see cref="ChannelsLastFloat"/> (with or without per-channel thresholds). Other
    /// element types (double): channels are strided in NCHW, so the bits cannot be formed a word at a time. With
    /// <see cref="TransposeMinChannels"/> channels or more, per image and 64 pixels at a time: each channel's plane
    /// row is packed with the vectorized row pack into one 64-bit word (bit j = pixel p0 + j), 64 channels of those
    /// words form a 64×64 bit matrix, and its transpose (<see cref="Transpose64(Span{ulong})"/>, six rounds of masked swaps) holds
    /// in row j exactly pixel p0 + j's channel word. Fewer channels go through <see cref="ScatterChannels"/>. Images
    /// are split across <see cref="KernelThreads"/> (their words are disjoint, so the result does not depend on the
    /// split).</summary>
    internal static unsafe void ChannelsLastVectorized<T>(ReadOnlySpan<T> x, Span<ulong> bits, int batch, int channels, int plane,
                                                          ReadOnlySpan<T> thresholds = default, ReadOnlySpan<ulong> below = default)
        where T : unmanaged, INumber<T>
    {
        fixed (T* px = x, pt = thresholds)
        fixed (ulong* pb = bits, pl = below)
            KernelThreads.For(batch, 1, new ChannelsLastBody<T>(px, pb, channels, plane, pt, pl));
    }

    /// <summary>Images [first, end) of <see cref="ChannelsLastVectorized"/>, as a value so that a call allocates nothing.</summary>
    private readonly unsafe struct ChannelsLastBody<T>(T* x, ulong* bits, int channels, int plane, T* thresholds, ulong* below) : KernelThreads.IRangeBody
        where T : unmanaged, INumber<T>
    {
        public void Run(int first, int end)
        {
            int wpp = WordsPerPixel(channels), imageValues = channels * plane, imageWords = plane * wpp;
            Span<ulong> block = stackalloc ulong[64];
            for (int n = first; n < end; n++)
            {
                if (typeof(T) == typeof(float))
                {
                    // floats: channel planes OR-ed into pixel words a vector of pixels at a time (no transpose)
                    ChannelsLastFloat((float*)(x + (nint)n * imageValues), bits + (nint)n * imageWords, channels, plane, (float*)thresholds, below);
                    continue;
                }
                var image = new ReadOnlySpan<T>(x + (nint)n * imageValues, imageValues);
                var words = new Span<ulong>(bits + (nint)n * imageWords, imageWords);
                Debug.Assert(thresholds is null && below is null, "thresholds are packed from float images only");
                if (channels < TransposeMinChannels)
                {
                    ScatterChannels(image, words, channels, plane);
                    continue;
                }
                for (int p0 = 0; p0 < plane; p0 += 64)
                {
                    int pixels = Math.Min(64, plane - p0);
                    for (int w = 0; w < wpp; w++)
                    {
                        int c0 = w * 64, count = Math.Min(64, channels - c0);
                        block.Clear();
                        for (int c = 0; c < count; c++) PackDispatch(image.Slice((c0 + c) * plane + p0, pixels), block.Slice(c, 1));
                        Transpose64(block);
                        for (int j = 0; j < pixels; j++) words[(p0 + j) * wpp + w] = block[j];
                    }
                }
            }
        }
    }

    /// <summary>Channels below which <see cref="ScatterChannels"/> beats the 64×64 transpose (whose cost does not shrink
    /// with the channel count). Best of 15 for 128 images on 2 Zen 5 cores: 16 channels of 32×32, scatter 2.4 ms against
    /// transpose 3.6 ms; 64 channels of 8×8, transpose 0.6 ms against 1.4 ms for the single-threaded scatter it replaced.</summary>
    private const int TransposeMinChannels = 32;

    /// <summary>One image, few channels: each channel plane is packed into a bitmap (one bit per pixel), then each
    /// pixel's bit is or-ed into bit c of that pixel's word.</summary>
    private static void ScatterChannels<T>(ReadOnlySpan<T> image, Span<ulong> words, int channels, int plane) where T : unmanaged, INumber<T>
    {
        int wpp = WordsPerPixel(channels), planeWords = WordsPerPixel(plane);
        words.Clear();
        ulong[]? rented = planeWords > 256 ? ScratchPool<ulong>.ThisThread.Rent(planeWords) : null;
        Span<ulong> planeBits = rented is null ? stackalloc ulong[256] : rented;
        planeBits = planeBits[..planeWords];
        for (int c = 0; c < channels; c++)
        {
            PackDispatch(image.Slice(c * plane, plane), planeBits);
            ref ulong pixel0 = ref words[c >> 6];
            int shift = c & 63;
            for (int p = 0; p < plane; p++)
                Unsafe.Add(ref pixel0, p * wpp) |= ((planeBits[p >> 6] >> (p & 63)) & 1) << shift;
        }
        if (rented is not null) ScratchPool<ulong>.ThisThread.Return(rented);
    }

    /// <summary>Whether channel c compares <c>x ≤ threshold</c> (false without a mask).</summary>
    private static unsafe bool IsBelow(ulong* below, int c) => below is not null && ((below[c >> 6] >> (c & 63)) & 1) != 0;

    /// <summary>Transposes a 64×64 bit matrix in place, row r = <c>m[r]</c>, column c = bit c (so afterwards bit c of
    /// row r is the former bit r of row c): recursive block swaps of 32, 16, …, 1 (Hacker's Delight §7-3).</summary>
    internal static unsafe void Transpose64(Span<ulong> m)
    {
        if (m.Length < 64) throw new ArgumentException($"A 64×64 bit matrix needs 64 words, got {m.Length}.", nameof(m));
        fixed (ulong* rows = m) Transpose64(rows);
    }

    internal static void CheckLength(int actual, long required, string name)
    {
        if (actual < required) throw new ArgumentException($"Span is too short: {actual} < {required}.", name);
    }
}
