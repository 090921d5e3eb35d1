namespace BinaryGrad.Kernels;

/// <summary>Shapes of a 2-D convolution over NCHW tensors: input N×C_in×H×W, weight C_out×C_in×kH×kW,
/// output N×C_out×H_out×W_out with
/// <c>H_out = ⌊(H + 2·padH − dilationH·(kH − 1) − 1) / strideH⌋ + 1</c> (and the same for W).</summary>
/// <remarks>Output element (n, o, y, x) reads input rows <c>y·strideH − padH + i·dilationH</c> for i &lt; kH
/// (columns likewise); positions outside the image read zero (zero padding).</remarks>
public readonly record struct Conv2DGeometry
{
    /// <summary>Validates and stores the shapes; see the properties for meanings.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size, kernel, stride or dilation is below 1, a padding is
    /// negative, the dilated kernel does not fit in the padded input (the message gives the sizes), or a tensor
    /// would exceed 2³¹ − 1 elements.</exception>
    public Conv2DGeometry(int batch, int inChannels, int inHeight, int inWidth, int outChannels, int kernelHeight, int kernelWidth,
        int strideHeight = 1, int strideWidth = 1, int padHeight = 0, int padWidth = 0, int dilationHeight = 1, int dilationWidth = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(strideHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(strideWidth, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(padHeight);
        ArgumentOutOfRangeException.ThrowIfNegative(padWidth);
        ArgumentOutOfRangeException.ThrowIfLessThan(dilationHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dilationWidth, 1);
        (Batch, InChannels, InHeight, InWidth, OutChannels) = (batch, inChannels, inHeight, inWidth, outChannels);
        (KernelHeight, KernelWidth, StrideHeight, StrideWidth) = (kernelHeight, kernelWidth, strideHeight, strideWidth);
        (PadHeight, PadWidth, DilationHeight, DilationWidth) = (padHeight, padWidth, dilationHeight, dilationWidth);
        int spanH = dilationHeight * (kernelHeight - 1) + 1, spanW = dilationWidth * (kernelWidth - 1) + 1;
        if (inHeight + 2 * padHeight < spanH)
            throw new ArgumentOutOfRangeException(nameof(kernelHeight), $"The dilated kernel height {spanH} (kH {kernelHeight}, dilation {dilationHeight}) exceeds the padded input height {inHeight} + 2·{padHeight}.");
        if (inWidth + 2 * padWidth < spanW)
            throw new ArgumentOutOfRangeException(nameof(kernelWidth), $"The dilated kernel width {spanW} (kW {kernelWidth}, dilation {dilationWidth}) exceeds the padded input width {inWidth} + 2·{padWidth}.");
        OutHeight = (inHeight + 2 * padHeight - spanH) / strideHeight + 1;
        OutWidth = (inWidth + 2 * padWidth - spanW) / strideWidth + 1;
        // Spans are int-indexed: every tensor and the per-image column matrix must have fewer than 2³¹ elements.
        long largest = Math.Max(Math.Max((long)batch * inChannels * inHeight * inWidth, (long)batch * outChannels * OutHeight * OutWidth),
            Math.Max((long)outChannels * inChannels * kernelHeight * kernelWidth, (long)inChannels * kernelHeight * kernelWidth * OutHeight * OutWidth));
        if (largest > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(batch), $"A tensor of this convolution would have {largest} elements, more than a span can index.");
    }

    public int Batch { get; }
    public int InChannels { get; }
    public int InHeight { get; }
    public int InWidth { get; }
    public int OutChannels { get; }
    public int KernelHeight { get; }
    public int KernelWidth { get; }
    public int StrideHeight { get; }
    public int StrideWidth { get; }
    public int PadHeight { get; }
    public int PadWidth { get; }
    public int DilationHeight { get; }
    public int DilationWidth { get; }
    public int OutHeight { get; }
    public int OutWidth { get; }

    /// <summary>C_in·H·W: one input image.</summary>
    public int InputImageLength => InChannels * InHeight * InWidth;
    /// <summary>C_out·H_out·W_out: one output image.</summary>
    public int OutputImageLength => OutChannels * OutHeight * OutWidth;
    /// <summary>N·C_in·H·W.</summary>
    public int InputLength => Batch * InputImageLength;
    /// <summary>N·C_out·H_out·W_out.</summary>
    public int OutputLength => Batch * OutputImageLength;
    /// <summary>C_out·C_in·kH·kW.</summary>
    public int WeightLength => OutChannels * PatchLength;
    /// <summary>C_in·kH·kW: rows of the im2col matrix, the GEMM depth of the forward pass.</summary>
    public int PatchLength => InChannels * KernelHeight * KernelWidth;
    /// <summary>H_out·W_out: columns of the im2col matrix.</summary>
    public int OutputPlaneLength => OutHeight * OutWidth;

    /// <summary>1×1 kernel, stride 1, no padding: the input image already is its im2col matrix (C_in × H·W).</summary>
    public bool IsPointwise => KernelHeight == 1 && KernelWidth == 1 && StrideHeight == 1 && StrideWidth == 1 && PadHeight == 0 && PadWidth == 0;

    /// <summary>Shapes in the usual notation, for messages.</summary>
    public override string ToString() =>
        $"input {Batch}×{InChannels}×{InHeight}×{InWidth}, weight {OutChannels}×{InChannels}×{KernelHeight}×{KernelWidth}, " +
        $"stride {StrideHeight}×{StrideWidth}, pad {PadHeight}×{PadWidth}, dilation {DilationHeight}×{DilationWidth} → output {Batch}×{OutChannels}×{OutHeight}×{OutWidth}";

    internal void CheckLength(int actual, int needed, string argument, string what)
    {
        if (actual < needed)
            throw new ArgumentException($"{what} needs {needed} elements for {this}, but the span has {actual}.", argument);
    }
}
