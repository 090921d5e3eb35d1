using System.Text;
using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Layers.Inference;

/// <summary>A bit-packed inference model: the evaluation forward of a trained network as a flat list of layers,
/// binary layers on XNOR-popcount kernels, batch norms folded into per-channel affine maps, stored in a
/// <c>.bgm</c> file.</summary>
/// <remarks>
/// <para><b>File format</b> (version 2, little-endian):
/// <c>magic "BGMODEL\x1A"</c> (8 bytes), <c>uint32 version</c>, <c>int32 channels, height, width, classes</c>,
/// <c>string dataset</c> (int32 byte length + UTF-8), <c>int32 layerCount</c>, then per layer a kind byte
/// (<see cref="InferenceLayerKind"/>) and its record, then the 4-byte end marker <c>"END\0"</c>. Records: sizes as
/// int32, flags as one byte, float vectors as int32 length + float32 values, optional vectors as a presence byte
/// first. Binary weights are stored as their tight packed rows (<c>ceil(K/64)</c> words per dense row,
/// <c>k²·ceil(C/64)</c> per filter; bit 1 = +1, <see cref="BitPack"/>'s convention) and re-aligned for the kernels at
/// load. A file must parse completely, end with the marker, have no trailing bytes, and its layers must chain from
/// the input shape to [N, classes]; anything else is a <see cref="FormatException"/> naming the file. Version 2 appends
/// the SHA-256 of every preceding byte (32 bytes) after the end marker and is verified before any record is parsed;
/// version 1 files (no checksum) are refused with a message to export again. The reader bounds every layer against
/// the work and memory it would need (<see cref="CheckBounds"/>) before the model can run.</para>
/// <para><b>Exactness.</b> Each layer performs the same float32 arithmetic as the training framework's evaluation
/// forward (see each layer's remarks), so logits — and predictions — are identical, not merely close.</para>
/// </remarks>
public sealed partial class InferenceModel
{
    public static ReadOnlySpan<byte> Magic => "BGMODEL\x1A"u8;
    private static ReadOnlySpan<byte> EndMarker => "END\0"u8;
    public const uint Version = 2;
    private const int ChecksumBytes = 32;

    public InferenceModel(int channels, int height, int width, int classes, string dataset, IReadOnlyList<InferenceLayer> layers)
    {
        (Channels, Height, Width, Classes, Dataset, Layers) = (channels, height, width, classes, dataset, layers);
        int[] shape = [1, channels, height, width];
        foreach (InferenceLayer layer in layers) shape = layer.OutputShape(shape);
        if (shape.Length != 2 || shape[1] != classes)
            throw new FormatException($"the layers end in [{string.Join(",", shape)}], not [N,{classes}] logits.");
    }

    // The layers reuse their output storage from one forward to the next, so forwards of one model run one at a time.
    private readonly Lock _forwardLock = new();
    private float[]? _logits;

    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int Classes { get; }
    public string Dataset { get; }
    public IReadOnlyList<InferenceLayer> Layers { get; }

    /// <summary>Stored parameter bytes (packed binary weights, float32 real weights and per-channel vectors).</summary>
    public long ParameterBytes => Layers.Sum(l => l.ParameterBytes);

    /// <summary>Logits [N × Classes] of NCHW float images (already normalized).</summary>
    /// <exception cref="ArgumentException">The image data length is not a multiple of the model's image size.</exception>
    public float[] Forward(float[] images, int batch)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Length != (long)batch * Channels * Height * Width)
            throw new ArgumentException($"InferenceModel: {images.Length} values are not {batch} images of {Channels}×{Height}×{Width}.");
        var logits = new float[(long)batch * Classes];
        lock (_forwardLock) RunBatch(images, logits, batch, null);
        return logits;
    }

    /// <summary>Runs <paramref name="layers"/> in order on <paramref name="x"/>, fusing what it can (docs/inference.md):
    /// <list type="bullet">
    /// <item>a Bi-Real unit (residual of a sign-input binary conv + batch norm around an identity shortcut) and the
    /// Hardtanh after it run as one store, <c>clamp(BN(dot) + x)</c>;</item>
    /// <item>a sign-input binary convolution whose batch-normed (and maybe max-pooled) signs feed another binary
    /// convolution writes those bits directly, by integer thresholds (<see cref="SignThresholds"/>), pooling on bits;</item>
    /// <item>otherwise a binary convolution followed by its batch norm runs the float epilogue, packing its signs when a
    /// binary convolution follows;</item>
    /// <item>a binary dense layer with sign input whose batch-normed signs feed another writes them as packed rows, by
    /// integer thresholds in the GEMM's epilogue; otherwise it hands its dots to its fused batch norm;</item>
    /// <item>a binary convolution followed by a 2×2 max-pool and a batch norm whose output stays float (VGG-Small's last)
    /// pools the dots and applies the batch norm in its store, at the pooled size;</item>
    /// <item>a sign-preserving Hardtanh right before a sign-input binary layer is skipped;</item>
    /// <item>every other layer runs on its own.</item>
    /// </list></summary>
    internal static Activation RunLayers(IReadOnlyList<InferenceLayer> layers, Activation x, InferenceTiming? timing = null)
    {
        for (int i = 0; i < layers.Count;)
        {
            InferenceLayer layer = layers[i];
            InferenceLayer? timed = layer; // the layer the step's time counts under (null: a residual timed its own parts)
            long start = timing is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            AffineLayer? affine = i + 1 < layers.Count ? layers[i + 1] as AffineLayer : null;
            if (x.Floats is not null && IdentityUnit(layer, x.Shape) is ({ } unitConv, { } unitNorm))
            {
                // a Bi-Real unit: BN(conv(sign x)) + x, and the Hardtanh after it, in the conv's store
                HardTanhLayer? clamp = i + 1 < layers.Count ? layers[i + 1] as HardTanhLayer : null;
                int next = clamp is null ? i + 1 : i + 2;
                // the next unit's binary convolution takes the signs of this output: pack them in the same store
                bool signsNext = next < layers.Count && layers[next] is ResidualLayer { Main: [BinaryConvLayer { InputSign: true }, ..] };
                // another such unit next: keep the stream channels-last between them (cheaper stores, same values)
                bool chain = next < layers.Count && ChannelsLastUnit(layers[next], x.Shape[1], x.Shape[2], x.Shape[3]);
                x = unitConv.RunResidual(x, unitNorm, clamp?.Min ?? float.NegativeInfinity, clamp?.Max ?? float.PositiveInfinity, signsNext, chain);
                i = next;
                timed = unitConv;
            }
            else if (x.ChannelsLast && DownsampleUnit(layer, x.Shape[1], x.Shape[2], x.Shape[3]) is ({ } downConv, { } downNorm, { } zeroPad))
            {
                // a downsampling Bi-Real unit inside a channels-last chain: the zero-padded, strided shortcut in the store
                HardTanhLayer? clamp = i + 1 < layers.Count ? layers[i + 1] as HardTanhLayer : null;
                int next = clamp is null ? i + 1 : i + 2;
                bool signsNext = next < layers.Count && layers[next] is ResidualLayer { Main: [BinaryConvLayer { InputSign: true }, ..] };
                (int oh, int ow) = downConv.OutputSize(x.Shape[2], x.Shape[3]);
                bool chain = next < layers.Count && ChannelsLastUnit(layers[next], downConv.OutChannels, oh, ow);
                x = downConv.RunDownsampleResidual(x, downNorm, zeroPad.InChannels, clamp?.Min ?? float.NegativeInfinity, clamp?.Max ?? float.PositiveInfinity, signsNext, chain);
                i = next;
                timed = downConv;
            }
            else if (layer is BinaryConvLayer { InputSign: true, Bias: null } binary && ThresholdChain(layers, i, x.Shape) is { } chain
                && binary.ThresholdsFor(chain.Affine, chain.FusedMultiplyAdd) is { } thresholds)
            {
                x = binary.RunThresholds(x, thresholds, chain.Pool);
                i = chain.Next;
            }
            else if (layer is BinaryConvLayer { InputSign: true, Bias: null } pooling && PooledNorm(layers, i, x.Shape) is { } pooledNorm)
            {
                // conv → 2×2 max-pool → BatchNorm2d whose output is not signs (VGG-Small's last conv): pooled in the store
                x = pooling.RunPooledAffine(x, pooledNorm);
                i += 3;
            }
            else if (layer is BinaryConvLayer { InputSign: true, Bias: null } conv && affine is { Fused: false }
                && conv.OutputSize(x.Shape[2], x.Shape[3]) is (int oh, int ow) && oh * ow > 1) // 1×1 maps: BN evaluates with fma, the epilogue cannot
            {
                (int next, InferenceLayer? consumer) = PastSignClamps(layers, i + 2);
                bool packed = consumer is BinaryConvLayer { InputSign: true };
                x = conv.RunFused(x, affine, packed);
                i = packed ? next : i + 2;
            }
            else if (layer is ConvLayer real && affine is { Fused: false } && x.Floats is not null && !x.ChannelsLast
                && PastSignClamps(layers, i + 2) is (int consumer, BinaryConvLayer { InputSign: true })
                && real.OutputSize(x.Shape[2], x.Shape[3]) is (int rh, int rw)
                && real.SignsFor(affine, rh * rw == 1) is { } signs)
            {
                // a real convolution whose batch-normed signs feed a binary convolution: only the bits are stored
                x = real.RunSigns(x, signs);
                i = consumer;
            }
            else if (layer is BinaryDenseLayer { InputSign: true, Bias: null } chained && affine is { Fused: true }
                && PastSignClamps(layers, i + 2) is (int denseConsumer, BinaryDenseLayer { InputSign: true })
                && chained.ThresholdsFor(affine) is { } denseThresholds)
            {
                // a binary dense layer whose batch-normed signs feed another: integer thresholds, packed rows
                x = chained.RunThresholds(x, denseThresholds);
                i = denseConsumer;
            }
            else if (layer is BinaryDenseLayer { InputSign: true, Bias: null } dense && affine is { Fused: true })
            {
                x = affine.RunOnDots(dense.Dots(x), x.Batch);
                i += 2;
            }
            else if (layer is HardTanhLayer { PreservesSign: true } && SignConsumerFollows(layers, i + 1))
            {
                i++; // the next binary layer takes only the signs, which this clamp keeps
                continue;
            }
            else
            {
                if (layer is ResidualLayer residual)
                {
                    x = residual.Run(x, timing);
                    timed = null;
                }
                else x = layer.Run(x);
                i++;
            }
            if (start != 0 && timed is not null) timing!.Add(timed, System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }
        return x;
    }

    /// <summary>The convolution and batch norm of a Bi-Real unit with an identity shortcut, <c>BN(conv(sign x)) + x</c>,
    /// that keeps <paramref name="shape"/> (so its output is a valid input of the same test), or nulls.</summary>
    private static (BinaryConvLayer? Conv, AffineLayer? Norm) IdentityUnit(InferenceLayer layer, int[] shape) =>
        shape is [_, int c, int h, int w] ? IdentityUnit(layer, c, h, w) : (null, null);

    private static (BinaryConvLayer? Conv, AffineLayer? Norm) IdentityUnit(InferenceLayer layer, int c, int h, int w) =>
        layer is ResidualLayer { Shortcut.Count: 0, Main: [BinaryConvLayer { InputSign: true, Bias: null } conv, AffineLayer { Fused: false } norm] }
        && conv.OutputSize(h, w) is (int oh, int ow) && oh * ow > 1 && (conv.OutChannels, oh, ow) == (c, h, w)
            ? (conv, norm) : (null, null);

    /// <summary>The parts of a downsampling Bi-Real unit <c>BN(conv(sign x)) + zeroPad(x)</c> on a [N, c, h, w] input whose
    /// option-A shortcut matches the convolution (same stride, same output channels and size), or nulls.</summary>
    private static (BinaryConvLayer? Conv, AffineLayer? Norm, ZeroPadShortcutLayer? Shortcut) DownsampleUnit(InferenceLayer layer, int c, int h, int w) =>
        layer is ResidualLayer { Shortcut: [ZeroPadShortcutLayer zeroPad], Main: [BinaryConvLayer { InputSign: true, Bias: null } conv, AffineLayer { Fused: false } norm] }
        && zeroPad.InChannels == c && conv.InChannels == c && zeroPad.OutChannels == conv.OutChannels && zeroPad.Stride == conv.Stride
        && conv.OutputSize(h, w) is (int oh, int ow) && oh * ow > 1 && oh == (h + zeroPad.Stride - 1) / zeroPad.Stride && ow == (w + zeroPad.Stride - 1) / zeroPad.Stride
            ? (conv, norm, zeroPad) : (null, null, null);

    /// <summary>Whether <paramref name="layer"/>, on a [N, c, h, w] input, is a unit that takes the channels-last stream.</summary>
    private static bool ChannelsLastUnit(InferenceLayer layer, int c, int h, int w) =>
        IdentityUnit(layer, c, h, w).Conv is not null || DownsampleUnit(layer, c, h, w).Conv is not null;

    /// <summary>The first layer from <paramref name="index"/> on that is not a sign-preserving Hardtanh, and its index
    /// (<c>(Count, null)</c> past the end): a layer that takes only signs sees through such clamps.</summary>
    private static (int Index, InferenceLayer? Layer) PastSignClamps(IReadOnlyList<InferenceLayer> layers, int index)
    {
        while (index < layers.Count && layers[index] is HardTanhLayer { PreservesSign: true }) index++;
        return (index, index < layers.Count ? layers[index] : null);
    }

    /// <summary>Whether the first layer from <paramref name="index"/> on that is not a sign-preserving Hardtanh is a binary
    /// layer with sign input.</summary>
    private static bool SignConsumerFollows(IReadOnlyList<InferenceLayer> layers, int index) =>
        PastSignClamps(layers, index).Layer is BinaryConvLayer { InputSign: true } or BinaryDenseLayer { InputSign: true };

    /// <summary>The layers after the binary convolution at <paramref name="index"/> when they are
    /// <c>[MaxPool (no padding)] → BatchNorm2d → [sign-preserving Hardtanh]* → sign-input binary convolution</c>: the
    /// signs that convolution packs are then integer thresholds on this one's dots (<see cref="SignThresholds"/>),
    /// pooled on the bits. Returns the batch norm, whether it evaluates as one fma (1×1 maps), the pool and the index
    /// of the consuming convolution; null for any other sequence.</summary>
    private static (AffineLayer Affine, bool FusedMultiplyAdd, MaxPoolLayer? Pool, int Next)? ThresholdChain(IReadOnlyList<InferenceLayer> layers, int index, int[] input)
    {
        int j = index + 1;
        (int height, int width) = ((BinaryConvLayer)layers[index]).OutputSize(input[2], input[3]);
        MaxPoolLayer? pool = j < layers.Count ? layers[j] as MaxPoolLayer : null;
        if (pool is { Padding: 0 } && height >= pool.KernelSize && width >= pool.KernelSize)
        {
            (height, width) = (pool.OutputSide(height), pool.OutputSide(width));
            j++;
        }
        else pool = null;
        if (j >= layers.Count || layers[j] is not AffineLayer { Fused: false } affine) return null;
        if (PastSignClamps(layers, j + 1) is not (int next, BinaryConvLayer { InputSign: true })) return null;
        return (affine, height * width == 1, pool, next);
    }

    /// <summary>The batch norm after the binary convolution at <paramref name="index"/> when the layers are
    /// <c>MaxPool(2, stride 2, no padding) → BatchNorm2d</c> on an even output size whose pooled map has more than one
    /// pixel (on 1×1 maps BatchNorm2d evaluates as an fma, which the store does not), or null.</summary>
    private static AffineLayer? PooledNorm(IReadOnlyList<InferenceLayer> layers, int index, int[] input)
    {
        if (index + 2 >= layers.Count || layers[index + 1] is not MaxPoolLayer { KernelSize: 2, Stride: 2, Padding: 0 }
            || layers[index + 2] is not AffineLayer { Fused: false } norm) return null;
        (int height, int width) = ((BinaryConvLayer)layers[index]).OutputSize(input[2], input[3]);
        return height % 2 == 0 && width % 2 == 0 && height * width > 4 ? norm : null;
    }

    /// <summary>Arg-max class per image (first index on ties, as the trainer counts).</summary>
    public int[] Predict(float[] images, int batch)
    {
        var predictions = new int[batch];
        Predict(images.AsSpan(0, Math.Min(images.Length, batch * Channels * Height * Width)), predictions);
        return predictions;
    }

    /// <summary>Classifies <c>predictions.Length</c> NCHW images (already normalized) into
    /// <paramref name="predictions"/>: the arg-max class of each (first index on ties, as the trainer counts).</summary>
    /// <exception cref="ArgumentException">The image data is not <c>predictions.Length</c> images of the model's size.</exception>
    public void Predict(ReadOnlySpan<float> images, Span<int> predictions) => Predict(images, predictions, null);

    /// <summary><see cref="Predict(ReadOnlySpan{float}, Span{int})"/>, adding each layer's wall time to
    /// <paramref name="timing"/> (<c>bench infer</c>'s breakdown).</summary>
    public void Predict(ReadOnlySpan<float> images, Span<int> predictions, InferenceTiming? timing)
    {
        int batch = predictions.Length;
        if (images.Length != (long)batch * Channels * Height * Width)
            throw new ArgumentException($"InferenceModel: {images.Length} values are not {batch} images of {Channels}×{Height}×{Width}.");
        lock (_forwardLock)
        {
            if (_logits?.Length != (long)batch * Classes) _logits = new float[(long)batch * Classes];
            RunBatch(images, _logits, batch, timing);
            for (int i = 0; i < batch; i++)
            {
                int best = 0;
                for (int c = 1; c < Classes; c++) if (_logits[i * Classes + c] > _logits[i * Classes + best]) best = c;
                predictions[i] = best;
            }
        }
    }
}
