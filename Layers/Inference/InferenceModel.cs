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
public sealed class InferenceModel
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
    private float[]? _input;

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
        lock (_forwardLock) return (float[])RunLayers(Layers, Activation.Float(images, batch, Channels, Height, Width)).ToFloats().Clone();
    }

    /// <summary>Runs <paramref name="layers"/> in order on <paramref name="x"/>, fusing what it can (docs/inference.md):
    /// <list type="bullet">
    /// <item>a Bi-Real unit (residual of a sign-input binary conv + batch norm around an identity shortcut) and the
    /// Hardtanh after it run as one store, <c>clamp(BN(dot) + x)</c>;</item>
    /// <item>a sign-input binary convolution whose batch-normed (and maybe max-pooled) signs feed another binary
    /// convolution writes those bits directly, by integer thresholds (<see cref="SignThresholds"/>), pooling on bits;</item>
    /// <item>otherwise a binary convolution followed by its batch norm runs the float epilogue, packing its signs when a
    /// binary convolution follows;</item>
    /// <item>a binary dense layer with sign input hands its dots to its fused batch norm;</item>
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
            if (layer is ResidualLayer { Shortcut.Count: 0, Main: [BinaryConvLayer { InputSign: true, Bias: null } unitConv, AffineLayer { Fused: false } unitNorm] }
                && x.Floats is not null && unitConv.OutputShape(x.Shape) is [_, _, int uh, int uw] outShape && uh * uw > 1 && outShape.SequenceEqual(x.Shape))
            {
                // a Bi-Real unit: BN(conv(sign x)) + x, and the Hardtanh after it, in the conv's store
                HardTanhLayer? clamp = i + 1 < layers.Count ? layers[i + 1] as HardTanhLayer : null;
                x = unitConv.RunResidual(x, unitNorm, clamp?.Min ?? float.NegativeInfinity, clamp?.Max ?? float.PositiveInfinity);
                i += clamp is null ? 1 : 2;
                timed = unitConv;
            }
            else if (layer is BinaryConvLayer { InputSign: true, Bias: null } binary && ThresholdChain(layers, i, x.Shape) is { } chain
                && binary.ThresholdsFor(chain.Affine, chain.FusedMultiplyAdd) is { } thresholds)
            {
                x = binary.RunThresholds(x, thresholds, chain.Pool);
                i = chain.Next;
            }
            else if (layer is BinaryConvLayer { InputSign: true, Bias: null } conv && affine is { Fused: false }
                && conv.OutputShape(x.Shape) is [_, _, int oh, int ow] && oh * ow > 1) // 1×1 maps: BN evaluates with fma, the epilogue cannot
            {
                int next = i + 2;
                while (next < layers.Count && layers[next] is HardTanhLayer { PreservesSign: true }) next++;
                bool packed = next < layers.Count && layers[next] is BinaryConvLayer { InputSign: true };
                x = conv.RunFused(x, affine, packed);
                i = packed ? next : i + 2;
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

    /// <summary>Whether the first layer from <paramref name="index"/> on that is not a sign-preserving Hardtanh is a binary
    /// layer with sign input.</summary>
    private static bool SignConsumerFollows(IReadOnlyList<InferenceLayer> layers, int index)
    {
        while (index < layers.Count && layers[index] is HardTanhLayer { PreservesSign: true }) index++;
        return index < layers.Count && layers[index] is BinaryConvLayer { InputSign: true } or BinaryDenseLayer { InputSign: true };
    }

    /// <summary>The layers after the binary convolution at <paramref name="index"/> when they are
    /// <c>[MaxPool (no padding)] → BatchNorm2d → [sign-preserving Hardtanh]* → sign-input binary convolution</c>: the
    /// signs that convolution packs are then integer thresholds on this one's dots (<see cref="SignThresholds"/>),
    /// pooled on the bits. Returns the batch norm, whether it evaluates as one fma (1×1 maps), the pool and the index
    /// of the consuming convolution; null for any other sequence.</summary>
    private static (AffineLayer Affine, bool FusedMultiplyAdd, MaxPoolLayer? Pool, int Next)? ThresholdChain(IReadOnlyList<InferenceLayer> layers, int index, int[] input)
    {
        int j = index + 1;
        int[] shape = layers[index].OutputShape(input);
        MaxPoolLayer? pool = j < layers.Count ? layers[j] as MaxPoolLayer : null;
        if (pool is { Padding: 0 })
        {
            shape = pool.OutputShape(shape);
            j++;
        }
        else pool = null;
        if (j >= layers.Count || layers[j] is not AffineLayer { Fused: false } affine) return null;
        j++;
        while (j < layers.Count && layers[j] is HardTanhLayer { PreservesSign: true }) j++;
        if (j >= layers.Count || layers[j] is not BinaryConvLayer { InputSign: true }) return null;
        return (affine, shape[2] * shape[3] == 1, pool, j);
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
            if (_input?.Length != images.Length) _input = new float[images.Length];
            images.CopyTo(_input);
            float[] logits = RunLayers(Layers, Activation.Float(_input, batch, Channels, Height, Width), timing).ToFloats();
            for (int i = 0; i < batch; i++)
            {
                int best = 0;
                for (int c = 1; c < Classes; c++) if (logits[i * Classes + c] > logits[i * Classes + best]) best = c;
                predictions[i] = best;
            }
        }
    }

    // ---- file -----------------------------------------------------------------------------------------------

    /// <summary>Writes the model to <paramref name="path"/> atomically (temporary file, then rename), with its checksum.</summary>
    public void Save(string path)
    {
        using var body = new MemoryStream();
        using (var w = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(Channels); w.Write(Height); w.Write(Width); w.Write(Classes);
            byte[] name = Encoding.UTF8.GetBytes(Dataset);
            w.Write(name.Length); w.Write(name);
            w.Write(Layers.Count);
            foreach (InferenceLayer layer in Layers)
            {
                w.Write((byte)layer.Kind);
                layer.Write(w);
            }
            w.Write(EndMarker);
        }
        byte[] hash = System.Security.Cryptography.SHA256.HashData(body.GetBuffer().AsSpan(0, (int)body.Length));
        Autograd.Serialization.AtomicFile.Write(path, stream =>
        {
            stream.Write(body.GetBuffer(), 0, (int)body.Length);
            stream.Write(hash);
        });
    }

    /// <summary>Reads a model written by <see cref="Save"/>.</summary>
    /// <exception cref="FormatException">The file is not a <c>.bgm</c> model, has another version, is truncated or
    /// inconsistent; the message starts with the path.</exception>
    public static InferenceModel Load(string path)
    {
        byte[] bytes;
        try
        {
            using FileStream stream = Autograd.Serialization.InputFile.OpenRegular(path, "a .bgm inference model written by 'binarygrad export'");
            if (stream.Length > MaxFileBytes) throw new FormatException($"{path}: {stream.Length} bytes is larger than any .bgm model ({MaxFileBytes} bytes at most).");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (IOException e) { throw new FormatException(e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message : $"{path}: {e.Message}", e); }
        try
        {
            var r = new BgmReader(bytes);
            if (bytes.Length < Magic.Length || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
                throw new FormatException("not a BinaryGrad inference model (bad magic; expected \"BGMODEL\\x1A\").");
            r.Skip(Magic.Length);
            uint version = r.UInt();
            if (version == 1) throw new FormatException("format version 1 carries no checksum and is no longer read; export the checkpoint again with 'binarygrad export'.");
            if (version != Version) throw new FormatException($"format version {version} is not supported (this build reads version {Version}).");
            if (bytes.Length < 12 + ChecksumBytes) throw new FormatException($"truncated at byte {bytes.Length}: a version {Version} file ends with a {ChecksumBytes}-byte SHA-256.");
            byte[] stored = bytes[^ChecksumBytes..];
            bytes = bytes[..^ChecksumBytes];
            if (!System.Security.Cryptography.SHA256.HashData(bytes).AsSpan().SequenceEqual(stored))
                throw new FormatException($"the SHA-256 of bytes 0..{bytes.Length} does not match the one stored in the last {ChecksumBytes} bytes: the file is truncated or corrupted.");
            r = new BgmReader(bytes);
            r.Skip(Magic.Length + 4);
            int channels = r.Size("channels"), height = r.Size("height"), width = r.Size("width"), classes = r.Size("classes");
            string dataset = r.String();
            int count = r.Count("layer count");
            var layers = new List<InferenceLayer>(Math.Min(count, 1024));
            for (int i = 0; i < count; i++) layers.Add(ReadLayer(r, $"layer {i}", 0));
            if (!r.Remaining.SequenceEqual(EndMarker))
                throw new FormatException(r.Remaining.Length < EndMarker.Length ? "truncated (end marker missing)." : "unexpected bytes after the last layer.");
            if ((long)channels * height * width > MaxActivation)
                throw new FormatException($"input {channels}×{height}×{width} has more than {MaxActivation} values per image.");
            CheckBounds(layers, [1, channels, height, width]);
            return new InferenceModel(channels, height, width, classes, dataset, layers);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            throw new FormatException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>The largest .bgm file read (1 GiB; a binary ResNet-18 is about 2 MB).</summary>
    private const long MaxFileBytes = 1L << 30;
    /// <summary>Values per image any layer may produce or pad its input to (2²⁶ = 64 Mi floats, 256 MiB).</summary>
    private const long MaxActivation = 1L << 26;
    /// <summary>Comparisons or multiply-adds per image any one pooling or convolution layer may need (2³²).</summary>
    private const long MaxWorkPerImage = 1L << 32;

    /// <summary>Walks the layers from <paramref name="shape"/> and refuses, before any buffer is allocated or any loop
    /// runs, a layer whose padded input or output exceeds <see cref="MaxActivation"/> values per image or whose
    /// windows need more than <see cref="MaxWorkPerImage"/> steps (kernel² per output value), and a padding larger
    /// than half the window (PyTorch's rule, which every exported model meets). So a small file cannot ask for
    /// gigabytes (padding 20000) or minutes of work (a window of 2²⁸ − 1).</summary>
    private static int[] CheckBounds(IReadOnlyList<InferenceLayer> layers, int[] shape)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            InferenceLayer layer = layers[i];
            (int kernel, int padding, int outChannelsFactor) = layer switch
            {
                MaxPoolLayer p => (p.KernelSize, p.Padding, 1),
                ConvLayer c => (c.KernelSize * c.Dilation, c.Padding, c.InChannels),
                BinaryConvLayer b => (b.KernelSize, b.Padding, b.InChannels),
                _ => (0, 0, 0),
            };
            if (kernel > 0)
            {
                if (padding > kernel / 2)
                    throw new FormatException($"layer {i} ({layer}): padding {padding} is more than half its window {kernel}.");
                if (shape.Length == 4 && ((long)shape[2] + 2L * padding) * ((long)shape[3] + 2L * padding) * shape[1] > MaxActivation)
                    throw new FormatException($"layer {i} ({layer}): its padded input {shape[1]}×{(long)shape[2] + 2L * padding}×{(long)shape[3] + 2L * padding} exceeds {MaxActivation} values per image.");
            }
            if (layer is ResidualLayer residual)
            {
                CheckBounds(residual.Main, shape);
                if (residual.Shortcut.Count > 0) CheckBounds(residual.Shortcut, shape);
            }
            int[] next = layer.OutputShape(shape);
            long values = 1;
            foreach (int d in next.AsSpan(1)) values = d <= 0 ? throw new FormatException($"layer {i} ({layer}) gives the empty shape [{string.Join(",", next)}].") : Math.Min(values * d, long.MaxValue / 1024);
            if (values > MaxActivation) throw new FormatException($"layer {i} ({layer}) gives [{string.Join(",", next)}], more than {MaxActivation} values per image.");
            if (kernel > 0 && values * kernel * (long)kernel * outChannelsFactor > MaxWorkPerImage)
                throw new FormatException($"layer {i} ({layer}): {values} outputs × a {kernel}×{kernel} window need more than {MaxWorkPerImage} steps per image.");
            shape = next;
        }
        return shape;
    }

    /// <summary>How deep residual layers may nest in a file (a bound for the reader's recursion).</summary>
    internal const int MaxNesting = 4;

    /// <summary>Reads one layer record (kind byte, then the record); <paramref name="depth"/> counts the residual
    /// layers around it.</summary>
    internal static InferenceLayer ReadLayer(BgmReader r, string what, int depth)
    {
        byte kind = r.Byte();
        return (InferenceLayerKind)kind switch
        {
            InferenceLayerKind.BinaryDense => BinaryDenseLayer.Read(r),
            InferenceLayerKind.BinaryConv => BinaryConvLayer.Read(r),
            InferenceLayerKind.Conv => ConvLayer.Read(r),
            InferenceLayerKind.Dense => DenseLayer.Read(r),
            InferenceLayerKind.Affine => AffineLayer.Read(r),
            InferenceLayerKind.MaxPool => MaxPoolLayer.Read(r),
            InferenceLayerKind.HardTanh => HardTanhLayer.Read(r),
            InferenceLayerKind.ReLU => new ReLULayer(),
            InferenceLayerKind.Flatten => new FlattenLayer(),
            InferenceLayerKind.Residual => ResidualLayer.Read(r, depth),
            InferenceLayerKind.ZeroPadShortcut => ZeroPadShortcutLayer.Read(r),
            InferenceLayerKind.GlobalAvgPool => new GlobalAvgPoolLayer(),
            _ => throw new FormatException($"{what} has unknown kind {kind}."),
        };
    }

    // ---- export ---------------------------------------------------------------------------------------------

    /// <summary>Converts a trained network (in evaluation semantics) to an inference model for
    /// <paramref name="channels"/>×<paramref name="height"/>×<paramref name="width"/> inputs.</summary>
    /// <remarks>Walks <see cref="Sequential"/>, <see cref="FeatureClassifier"/> and <see cref="BinaryClassifier"/>
    /// containers in forward order. Binary layers must quantize their weights to exact ±1 (hard-sign weight
    /// quantizer, e.g. <c>bnn</c>, <c>ste</c>; scaled signs are refused) and their inputs by a hard sign or not at
    /// all; batch norms become <see cref="AffineLayer"/>s, dropout disappears.</remarks>
    /// <exception cref="NotSupportedException">A layer has no inference form; the message names it.</exception>
    public static InferenceModel FromModule(Module model, int channels, int height, int width, int classes, string dataset)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = new List<InferenceLayer>();
        model.Eval();
        using (GradMode.NoGrad())
            foreach (Module m in Leaves(model)) Convert(m, layers);
        return new InferenceModel(channels, height, width, classes, dataset, layers);
    }

    private static IEnumerable<Module> Leaves(Module m)
    {
        if (m is Sequential or FeatureClassifier or BinaryClassifier)
        {
            foreach ((_, Module child) in m.NamedChildren())
                foreach (Module leaf in Leaves(child)) yield return leaf;
        }
        else yield return m;
    }

    private static void Convert(Module m, List<InferenceLayer> layers)
    {
        switch (m)
        {
            case BinaryLinear b:
            {
                Tensor w = QuantizedWeight(b, b.WeightQuantizer, b.LatentWeight, b.InputQuantizer);
                float[] values = w.ToArray<float>();
                var packed = new ulong[(long)b.OutFeatures * BitPack.WordsPerRow(b.InFeatures)];
                BitPack.PackRows(values, packed, b.OutFeatures, b.InFeatures);
                layers.Add(new BinaryDenseLayer(b.InFeatures, b.OutFeatures, b.InputQuantizer is not null, packed, Floats(b.Bias)));
                break;
            }
            case BinaryConv2d b:
            {
                Tensor w = QuantizedWeight(b, b.WeightQuantizer, b.LatentWeight, b.InputQuantizer);
                var shape = new BinaryConv2DShape(1, b.InChannels, b.KernelSize, b.KernelSize, b.OutChannels, b.KernelSize, b.KernelSize, b.Stride, b.Padding);
                var packed = new ulong[(long)b.OutChannels * shape.WeightWordsPerFilter];
                BinaryConv2D.PackWeights(w.ToArray<float>(), packed, shape);
                layers.Add(new BinaryConvLayer(b.InChannels, b.OutChannels, b.KernelSize, b.Stride, b.Padding, b.InputQuantizer is not null, packed, Floats(b.Bias)));
                break;
            }
            case Conv2d c:
                layers.Add(new ConvLayer(c.InChannels, c.OutChannels, c.KernelSize, c.Stride, c.Padding, c.Dilation, c.Weight.Value.To(DType.Float32).ToArray<float>(), Floats(c.Bias)));
                break;
            case Linear l:
                layers.Add(new DenseLayer(l.InFeatures, l.OutFeatures, l.Weight.Value.To(DType.Float32).ToArray<float>(), Floats(l.Bias)));
                break;
            case BatchNormBase bn:
                layers.Add(AffineLayer.FromBatchNorm(Floats(bn.Weight), Floats(bn.Bias), bn.RunningMean.To(DType.Float32).ToArray<float>(),
                    bn.RunningVar.To(DType.Float32).ToArray<float>(), bn.Eps, fused: bn is BatchNorm1d));
                break;
            case MaxPool2d p: layers.Add(new MaxPoolLayer(p.KernelSize, p.Stride, p.Padding)); break;
            case HardTanh h: layers.Add(new HardTanhLayer((float)h.Min, (float)h.Max)); break;
            case ReLU: layers.Add(new ReLULayer()); break;
            case Flatten { StartAxis: 1 }: layers.Add(new FlattenLayer()); break;
            case GlobalAvgPool2d: layers.Add(new GlobalAvgPoolLayer()); break;
            case ZeroPadShortcut z: layers.Add(new ZeroPadShortcutLayer(z.InChannels, z.OutChannels, z.Stride)); break;
            case Residual residual:
            {
                var main = new List<InferenceLayer>();
                foreach (Module leaf in Leaves(residual.Main)) Convert(leaf, main);
                var shortcut = new List<InferenceLayer>();
                if (residual.Shortcut is not null)
                    foreach (Module leaf in Leaves(residual.Shortcut)) Convert(leaf, shortcut);
                layers.Add(new ResidualLayer(main, shortcut));
                break;
            }
            case Dropout: break; // identity in evaluation
            default:
                throw new NotSupportedException($"export: layer {m} has no inference form (supported: BinaryLinear, BinaryConv2d, Conv2d, Linear, BatchNorm1d/2d, MaxPool2d, GlobalAvgPool2d, HardTanh, ReLU, Flatten, Dropout, Residual, ZeroPadShortcut).");
        }
    }

    /// <summary>The ±1 weights q_w(W) in evaluation mode, after checking both quantizers are exported exactly.</summary>
    private static Tensor QuantizedWeight(Module layer, Quantizer? weights, Parameter latent, Quantizer? inputs)
    {
        if (weights is not null) weights.Training = false; // evaluation semantics (e.g. PC++ deploys sign at test time)
        if (inputs is not null) inputs.Training = false;
        if (weights is not { IsHardSign: true })
            throw new NotSupportedException($"export: {layer}: weight quantizer '{weights?.Name ?? "none"}' does not give exact ±1 weights (a hard sign without scale is required).");
        if (inputs is { IsHardSign: false })
            throw new NotSupportedException($"export: {layer}: input quantizer '{inputs.Name}' is not a hard sign.");
        return weights.Apply(latent.Value).To(DType.Float32);
    }

    private static float[]? Floats(Parameter? p) => p?.Value.To(DType.Float32).ToArray<float>();
}

/// <summary>Bounds-checked little-endian reader over a <c>.bgm</c> file's bytes; every failure is a one-line
/// <see cref="FormatException"/>.</summary>
internal sealed class BgmReader(byte[] bytes)
{
    private const int MaxElements = 1 << 28;
    private int _position;

    public ReadOnlySpan<byte> Remaining => bytes.AsSpan(_position);

    private ReadOnlySpan<byte> Take(int n, string what)
    {
        if (n < 0 || bytes.Length - _position < n)
            throw new FormatException($"truncated: {what} needs {n} bytes at offset {_position}, {bytes.Length - _position} left.");
        ReadOnlySpan<byte> s = bytes.AsSpan(_position, n);
        _position += n;
        return s;
    }

    public void Skip(int n) => Take(n, "header");
    public byte Byte() => Take(1, "a byte")[0];
    public bool Bool() => Byte() switch { 0 => false, 1 => true, var b => throw new FormatException($"flag byte {b} at offset {_position - 1} is not 0 or 1.") };
    public uint UInt() => BitConverter.ToUInt32(Take(4, "a uint32"));
    public float Float() => BitConverter.ToSingle(Take(4, "a float32"));
    private int Int(string what) => BitConverter.ToInt32(Take(4, what));

    /// <summary>A positive size ≤ 2²⁸.</summary>
    public int Size(string what)
    {
        int v = Int(what);
        return v is >= 1 and <= MaxElements ? v : throw new FormatException($"{what} {v} at offset {_position - 4} is out of range.");
    }

    /// <summary>A non-negative count ≤ 2²⁸.</summary>
    public int Count(string what)
    {
        int v = Int(what);
        return v is >= 0 and <= MaxElements ? v : throw new FormatException($"{what} {v} at offset {_position - 4} is out of range.");
    }

    public string String()
    {
        int n = Count("string length");
        return Encoding.UTF8.GetString(Take(n, "a string"));
    }

    public float[] Floats(int expected)
    {
        int n = Count("vector length");
        if (n != expected) throw new FormatException($"vector of {n} values at offset {_position - 4}, expected {expected}.");
        float[] v = new float[n];
        Take(checked(n * 4), "a float32 vector").CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()));
        return v;
    }

    public float[]? OptionalFloats(int expected) => Bool() ? Floats(expected) : null;

    /// <summary>Reads <paramref name="rows"/> tight rows of <paramref name="tight"/> words into rows of
    /// <paramref name="stride"/> words (the padding words zero).</summary>
    public ulong[] PackedRows(int rows, int stride, int tight)
    {
        ReadOnlySpan<byte> raw = Take(checked(rows * tight * 8), "packed weights");
        var packed = new ulong[checked((long)rows * stride)];
        for (int r = 0; r < rows; r++)
            raw.Slice(r * tight * 8, tight * 8).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(packed.AsSpan(r * stride, tight)));
        return packed;
    }
}

/// <summary>Writers shared by the layer records.</summary>
internal static class BgmIo
{
    public static void WriteFloats(BinaryWriter w, float[] v)
    {
        w.Write(v.Length);
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()));
    }

    public static void WriteOptional(BinaryWriter w, float[]? v)
    {
        w.Write(v is not null);
        if (v is not null) WriteFloats(w, v);
    }

    /// <summary>Writes the first <paramref name="tight"/> words of each <paramref name="stride"/>-word row.</summary>
    public static void WritePackedRows(BinaryWriter w, ulong[] packed, int rows, int stride, int tight)
    {
        for (int r = 0; r < rows; r++)
            w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(packed.AsSpan(r * stride, tight)));
    }
}
