namespace BinaryGrad.Kernels.Binary;

/// <summary>Max pooling of a monotone function of a value, on packed channels-last bits.</summary>
/// <remarks>If a channel's bit is <c>b = P(v)</c> for a predicate P that is non-decreasing in v, then
/// <c>P(max_window v) = OR_window P(v)</c>; if P is non-increasing, <c>P(max_window v) = AND_window P(v)</c>. A sign
/// after a batch norm is such a predicate of the integer dot of a binary layer, non-decreasing where the folded scale
/// is positive, so a binary layer's max-pooled, batch-normed signs are its per-pixel signs pooled with OR or AND per
/// channel — 64 channels per word operation, no float values at all.</remarks>
public static class BitPool
{
    /// <summary>Pools [Batch][Height][Width][WordsPerPixel(Channels)] into
    /// [Batch][OutHeight][OutWidth][WordsPerPixel(Channels)], <c>Out = (In − kernel)/stride + 1</c> (no padding):
    /// per word, <c>(OR_window &amp; orMask) | (AND_window &amp; ~orMask)</c>.</summary>
    /// <exception cref="ArgumentException">A span is too short or the window does not fit.</exception>
    public static void MaxPoolChannelsLast(ReadOnlySpan<ulong> bits, Span<ulong> output, int batch, int channels, int height, int width,
                                           int kernel, int stride, ReadOnlySpan<ulong> orMask)
    {
        if (kernel < 1 || stride < 1 || height < kernel || width < kernel || batch < 0)
            throw new ArgumentException($"BitPool: a {kernel}×{kernel} window with stride {stride} does not fit a {height}×{width} map.");
        int wpp = BitPack.WordsPerPixel(channels), oh = (height - kernel) / stride + 1, ow = (width - kernel) / stride + 1;
        BitPack.CheckLength(bits.Length, (long)batch * height * width * wpp, nameof(bits));
        BitPack.CheckLength(output.Length, (long)batch * oh * ow * wpp, nameof(output));
        BitPack.CheckLength(orMask.Length, wpp, nameof(orMask));
        for (int n = 0; n < batch; n++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    Span<ulong> dst = output.Slice(((n * oh + i) * ow + j) * wpp, wpp);
                    for (int w = 0; w < wpp; w++)
                    {
                        ulong any = 0, all = ~0UL;
                        for (int ky = 0; ky < kernel; ky++)
                        {
                            int row = (n * height + i * stride + ky) * width + j * stride;
                            for (int kx = 0; kx < kernel; kx++)
                            {
                                ulong b = bits[(row + kx) * wpp + w];
                                any |= b;
                                all &= b;
                            }
                        }
                        dst[w] = (any & orMask[w]) | (all & ~orMask[w]);
                    }
                }
    }
}
