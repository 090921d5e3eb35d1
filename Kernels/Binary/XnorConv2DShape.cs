namespace BinaryGrad.Kernels.Binary;

/// <summary>Geometry of a binary 2-D convolution: NCHW input [Batch, InChannels, Height, Width], filters
/// [OutChannels, InChannels, KernelHeight, KernelWidth], the same <see cref="Stride"/> and zero
/// <see cref="Padding"/> on both spatial axes.</summary>
public readonly record struct XnorConv2DShape(int Batch, int InChannels, int Height, int Width,
                                                int OutChannels, int KernelHeight, int KernelWidth, int Stride = 1, int Padding = 0)
{
    /// <summary><c>(Height + 2·Padding − KernelHeight) / Stride + 1</c>.</summary>
    public int OutHeight => (Height + 2 * Padding - KernelHeight) / Stride + 1;

    /// <summary><c>(Width + 2·Padding − KernelWidth) / Stride + 1</c>.</summary>
    public int OutWidth => (Width + 2 * Padding - KernelWidth) / Stride + 1;

    /// <summary>Packed input words: [Batch][Height][Width][WordsPerPixel(InChannels)] (channels-last, <see cref="BitPack"/>).</summary>
    public long InputWords => (long)Batch * Height * Width * BitPack.WordsPerPixel(InChannels);

    /// <summary>Packed words per filter: <c>KernelHeight·KernelWidth·WordsPerPixel(InChannels)</c> rounded up to
    /// <see cref="BitPack.RowAlignmentWords"/>, so a filter is one aligned GEMM row.</summary>
    public int WeightWordsPerFilter =>
        (KernelHeight * KernelWidth * BitPack.WordsPerPixel(InChannels) + BitPack.RowAlignmentWords - 1)
        / BitPack.RowAlignmentWords * BitPack.RowAlignmentWords;

    /// <summary>Outputs: Batch·OutChannels·OutHeight·OutWidth.</summary>
    public long OutputCount => (long)Batch * OutChannels * OutHeight * OutWidth;

    /// <summary>Packed sign-output words: [Batch][OutHeight][OutWidth][WordsPerPixel(OutChannels)], the input format of the next layer.</summary>
    public long PackedOutputWords => (long)Batch * OutHeight * OutWidth * BitPack.WordsPerPixel(OutChannels);

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(Batch, nameof(Batch));
        ArgumentOutOfRangeException.ThrowIfLessThan(InChannels, 1, nameof(InChannels));
        ArgumentOutOfRangeException.ThrowIfLessThan(OutChannels, 1, nameof(OutChannels));
        ArgumentOutOfRangeException.ThrowIfLessThan(KernelHeight, 1, nameof(KernelHeight));
        ArgumentOutOfRangeException.ThrowIfLessThan(KernelWidth, 1, nameof(KernelWidth));
        ArgumentOutOfRangeException.ThrowIfLessThan(Stride, 1, nameof(Stride));
        ArgumentOutOfRangeException.ThrowIfNegative(Padding, nameof(Padding));
        if (Height + 2 * Padding < KernelHeight || Width + 2 * Padding < KernelWidth)
            throw new ArgumentException("The kernel is larger than the padded input.");
    }
}
