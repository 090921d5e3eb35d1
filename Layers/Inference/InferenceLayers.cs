using System.Numerics.Tensors;
using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Layers.Inference;

/// <summary>Values flowing between inference layers: float NCHW / [N,F], or signs packed channels-last
/// ([N][H][W][WordsPerPixel(C)], <see cref="BitPack"/>) when a binary convolution feeds another one.</summary>
public sealed class Activation
{
    private Activation(int[] shape, float[]? floats, ulong[]? bits) => (Shape, Floats, Bits) = (shape, floats, bits);

    /// <summary>Logical shape: [N,C,H,W] or [N,F].</summary>
    public int[] Shape { get; }

    /// <summary>Float values (row-major), or null when packed.</summary>
    public float[]? Floats { get; }

    /// <summary>Packed channels-last signs, or null when float.</summary>
    public ulong[]? Bits { get; }

    public int Batch => Shape[0];

    public static Activation Float(float[] values, params int[] shape) => new(shape, values, null);

    public static Activation Packed(ulong[] bits, params int[] shape) => new(shape, null, bits);

    /// <summary>The float values; packed signs unpack to ±1.</summary>
    public float[] ToFloats()
    {
        if (Floats is not null) return Floats;
        var y = new float[Shape.Aggregate(1L, (a, b) => a * b)];
        BitPack.UnpackChannelsLast(Bits!, y, Shape[0], Shape[1], Shape[2], Shape[3]);
        return y;
    }
}

/// <summary>Layer kinds of the <c>.bgm</c> format (the byte that starts each layer record).</summary>
public enum InferenceLayerKind : byte
{
    BinaryDense = 1, BinaryConv = 2, Conv = 3, Dense = 4, Affine = 5, MaxPool = 6, HardTanh = 7, ReLU = 8, Flatten = 9,
    Residual = 10, ZeroPadShortcut = 11, GlobalAvgPool = 12,
}

/// <summary>One layer of an <see cref="InferenceModel"/>: its shape rule, its computation and its record in the file.</summary>
public abstract class InferenceLayer
{
    public abstract InferenceLayerKind Kind { get; }

    /// <summary>The output shape for <paramref name="input"/> (batch axis included); throws
    /// <see cref="FormatException"/> naming the layer when the shapes do not fit.</summary>
    public abstract int[] OutputShape(int[] input);

    /// <summary>Computes the layer on a float or packed input.</summary>
    public abstract Activation Run(Activation x);

    /// <summary>Writes the record after the kind byte.</summary>
    internal abstract void Write(BinaryWriter w);

    /// <summary>Stored bytes of weights and per-channel vectors (for the size report).</summary>
    public abstract long ParameterBytes { get; }

    private float[]? _floatOutput, _floatScratch;
    private ulong[]? _bitOutput, _inputBits, _bitScratch;
    private int[]? _intScratch;

    // Storage reused from one forward to the next, so that steady-state forwards allocate nothing: a layer runs once
    // per forward and its output is consumed before it runs again. The contents are stale; every user overwrites
    // all of it. The model serializes forwards (one at a time per model).
    private protected float[] FloatOutput(long length) => Reuse(ref _floatOutput, length);
    private protected float[] FloatScratch(long length) => Reuse(ref _floatScratch, length);
    private protected ulong[] BitOutput(long length) => Reuse(ref _bitOutput, length);
    private protected ulong[] InputBits(long length) => Reuse(ref _inputBits, length);
    private protected ulong[] BitScratch(long length) => Reuse(ref _bitScratch, length);
    private protected int[] IntScratch(long length) => Reuse(ref _intScratch, length);

    private static T[] Reuse<T>(ref T[]? buffer, long length) => buffer is { } b && b.Length == length ? b : (buffer = new T[length]);

    private protected static FormatException Mismatch(InferenceLayer layer, int[] input, string expected) =>
        new($"{layer}: input [{string.Join(",", input)}] does not fit (expected {expected}).");
}

/// <summary>Binary dense layer <c>y = dot(x̂, ŵ) (+ b)</c> with ±1 weights ŵ [Out,In], bit-packed; x̂ = sign(x)
/// (≥ 0 ⇒ +1) when <see cref="InputSign"/>, else the real input (a float GEMM on the unpacked ±1 weights, as the
/// training forward of a binary-weight layer over real pixels). A following fused <see cref="AffineLayer"/> (the
/// folded BatchNorm1d) is applied by the model as <c>fma(dot, scale, shift)</c>, the same single rounding as the
/// training evaluation of BatchNorm1d (<c>TensorPrimitives.FusedMultiplyAdd</c>); the GEMM's own float epilogue
/// rounds twice (multiply, then add), so it is not used there.</summary>
public sealed class BinaryDenseLayer : InferenceLayer
{
    private readonly ulong[] _packed;   // [Out × WordsPerRow(In)], aligned for the GEMM
    private float[]? _unpacked;          // ±1 [Out × In] for a real input

    public BinaryDenseLayer(int inFeatures, int outFeatures, bool inputSign, ulong[] packedRows, float[]? bias)
    {
        (In, Out, InputSign, Bias) = (inFeatures, outFeatures, inputSign, bias);
        _packed = packedRows;
        if (packedRows.Length != (long)outFeatures * BitPack.WordsPerRow(inFeatures)) throw new ArgumentException($"{this}: packed weights have {packedRows.Length} words.");
    }

    public int In { get; }
    public int Out { get; }
    public bool InputSign { get; }
    public float[]? Bias { get; }
    public override InferenceLayerKind Kind => InferenceLayerKind.BinaryDense;
    public override long ParameterBytes => (long)Out * BitPack.WordsPerPixel(In) * 8 + (Bias?.Length ?? 0) * 4L;

    public override int[] OutputShape(int[] input) =>
        input.Length == 2 && input[1] == In ? [input[0], Out] : throw Mismatch(this, input, $"[N,{In}]");

    /// <summary>Integer dots of the packed input with the packed weights, [N × Out].</summary>
    internal int[] Dots(Activation x)
    {
        int n = x.Batch;
        ulong[] packedX = InputBits((long)n * BitPack.WordsPerRow(In));
        BitPack.PackRows(x.ToFloats(), packedX, n, In);
        int[] dots = IntScratch(n * Out);
        BinaryGemm.Multiply(packedX, _packed, dots, n, Out, In);
        return dots;
    }

    public override Activation Run(Activation x)
    {
        int n = x.Batch;
        float[] y = FloatOutput(n * Out);
        if (InputSign)
        {
            int[] dots = Dots(x);
            for (int i = 0; i < y.Length; i++) y[i] = Bias is null ? dots[i] : dots[i] + Bias[i % Out];
        }
        else
        {
            _unpacked ??= Unpack();
            if (Bias is not null) for (int r = 0; r < n; r++) Bias.CopyTo(y, r * Out);
            else Array.Clear(y);
            Gemm.Multiply(false, true, n, Out, In, 1f, x.ToFloats(), In, _unpacked, In, Bias is null ? 0f : 1f, y, Out);
        }
        return Activation.Float(y, n, Out);
    }

    private float[] Unpack()
    {
        var w = new float[Out * In];
        BitPack.UnpackRows(_packed, w, Out, In);
        return w;
    }

    internal override void Write(BinaryWriter w)
    {
        w.Write(In); w.Write(Out); w.Write(InputSign);
        BgmIo.WritePackedRows(w, _packed, Out, BitPack.WordsPerRow(In), BitPack.WordsPerPixel(In));
        BgmIo.WriteOptional(w, Bias);
    }

    internal static BinaryDenseLayer Read(BgmReader r)
    {
        int inF = r.Size("in-features"), outF = r.Size("out-features");
        bool sign = r.Bool();
        ulong[] packed = r.PackedRows(outF, BitPack.WordsPerRow(inF), BitPack.WordsPerPixel(inF));
        return new BinaryDenseLayer(inF, outF, sign, packed, r.OptionalFloats(outF));
    }

    public override string ToString() => $"BinaryDense({In}→{Out}{(InputSign ? ", sign input" : ", real input")})";
}

/// <summary>Binary 3-D-filter convolution on ±1 filters (packed in <see cref="BinaryConv2D"/>'s layout), zero
/// padding contributing 0. With <see cref="InputSign"/> it runs on <see cref="BinaryConv2D"/>, consuming packed input
/// directly; the model fuses a following <see cref="AffineLayer"/> (folded BatchNorm2d, whose evaluation on maps
/// larger than 1×1 is <c>x·scale</c> then <c>+ shift</c>) into the kernel's float epilogue <c>scale·dot + bias</c> (the same two
/// roundings), and when the next consumer is another sign-input binary convolution (possibly through a
/// sign-preserving Hardtanh) into the packed-sign epilogue, whose bits are the signs of that very float.</summary>
public sealed class BinaryConvLayer : InferenceLayer
{
    private readonly ulong[] _packed;   // [Out × WeightWordsPerFilter]
    private float[]? _unpacked;

    public BinaryConvLayer(int inChannels, int outChannels, int kernelSize, int stride, int padding, bool inputSign, ulong[] packed, float[]? bias)
    {
        (InChannels, OutChannels, KernelSize, Stride, Padding, InputSign, Bias) = (inChannels, outChannels, kernelSize, stride, padding, inputSign, bias);
        _packed = packed;
        if (packed.Length != (long)outChannels * FilterWords) throw new ArgumentException($"{this}: packed filters have {packed.Length} words.");
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }
    public bool InputSign { get; }
    public float[]? Bias { get; }
    public override InferenceLayerKind Kind => InferenceLayerKind.BinaryConv;
    private int TightFilterWords => KernelSize * KernelSize * BitPack.WordsPerPixel(InChannels);
    private int FilterWords => Shape(1, KernelSize, KernelSize).WeightWordsPerFilter;
    public override long ParameterBytes => (long)OutChannels * TightFilterWords * 8 + (Bias?.Length ?? 0) * 4L;

    internal BinaryConv2DShape Shape(int batch, int height, int width) =>
        new(batch, InChannels, height, width, OutChannels, KernelSize, KernelSize, Stride, Padding);

    public override int[] OutputShape(int[] input)
    {
        if (input.Length != 4 || input[1] != InChannels || input[2] + 2 * Padding < KernelSize || input[3] + 2 * Padding < KernelSize)
            throw Mismatch(this, input, $"[N,{InChannels},H,W] with H, W ≥ {KernelSize - 2 * Padding}");
        BinaryConv2DShape s = Shape(input[0], input[2], input[3]);
        return [input[0], OutChannels, s.OutHeight, s.OutWidth];
    }

    /// <summary>The packed channels-last input (packing a float input).</summary>
    internal ulong[] PackedInput(Activation x)
    {
        if (x.Bits is not null) return x.Bits;
        ulong[] bits = InputBits(Shape(x.Batch, x.Shape[2], x.Shape[3]).InputWords);
        BitPack.PackChannelsLast(x.Floats!, bits, x.Batch, InChannels, x.Shape[2], x.Shape[3]);
        return bits;
    }

    public override Activation Run(Activation x)
    {
        BinaryConv2DShape s = Shape(x.Batch, x.Shape[2], x.Shape[3]);
        float[] y = FloatOutput(s.OutputCount);
        int plane = s.OutHeight * s.OutWidth;
        if (InputSign)
        {
            int[] dots = IntScratch(s.OutputCount);
            BinaryConv2D.Forward(PackedInput(x), _packed, dots, s);
            for (int i = 0; i < y.Length; i++) y[i] = Bias is null ? dots[i] : dots[i] + Bias[i / plane % OutChannels];
        }
        else
        {
            _unpacked ??= UnpackFilters();
            var g = new Conv2DGeometry(x.Batch, InChannels, x.Shape[2], x.Shape[3], OutChannels, KernelSize, KernelSize, Stride, Stride, Padding, Padding);
            Conv2DKernels.Forward(g, x.ToFloats(), _unpacked, Bias ?? default(ReadOnlySpan<float>), y);
        }
        return Activation.Float(y, x.Batch, OutChannels, s.OutHeight, s.OutWidth);
    }

    /// <summary>The fused folded-BN epilogue: float <c>scale·dot + bias</c>, or its signs packed channels-last.</summary>
    internal Activation RunFused(Activation x, AffineLayer affine, bool packedSign)
    {
        BinaryConv2DShape s = Shape(x.Batch, x.Shape[2], x.Shape[3]);
        ulong[] input = PackedInput(x);
        if (packedSign)
        {
            ulong[] bits = BitOutput(s.PackedOutputWords);
            BinaryConv2D.ForwardPackedSign(input, _packed, bits, s, affine.Scale, affine.Shift);
            return Activation.Packed(bits, x.Batch, OutChannels, s.OutHeight, s.OutWidth);
        }
        float[] y = FloatOutput(s.OutputCount);
        BinaryConv2D.Forward(input, _packed, y, s, affine.Scale, affine.Shift);
        return Activation.Float(y, x.Batch, OutChannels, s.OutHeight, s.OutWidth);
    }

    /// <summary>A Bi-Real unit with an identity shortcut in one pass: <c>clamp(BN(conv(sign x)) + x, low, high)</c>,
    /// float NCHW (<see cref="BinaryConv2D.ForwardResidual"/>); <paramref name="x"/> is float.</summary>
    internal Activation RunResidual(Activation x, AffineLayer affine, float low, float high)
    {
        BinaryConv2DShape s = Shape(x.Batch, x.Shape[2], x.Shape[3]);
        float[] y = FloatOutput(s.OutputCount);
        BinaryConv2D.ForwardResidual(PackedInput(x), _packed, y, s, affine.Scale, affine.Shift, x.Floats!, low, high);
        return Activation.Float(y, x.Batch, OutChannels, s.OutHeight, s.OutWidth);
    }

    private (AffineLayer Affine, bool Fma, SignThresholds? Thresholds)? _thresholdCache;

    /// <summary>The integer thresholds of <paramref name="affine"/> + sign on this layer's dots (derived once and
    /// cached), or null when some channel is not a single step (the float epilogue is used then).</summary>
    internal SignThresholds? ThresholdsFor(AffineLayer affine, bool fusedMultiplyAdd)
    {
        if (_thresholdCache is { } cached && cached.Affine == affine && cached.Fma == fusedMultiplyAdd) return cached.Thresholds;
        SignThresholds.TryDerive(affine, KernelSize * KernelSize * InChannels, fusedMultiplyAdd, out SignThresholds? thresholds);
        _thresholdCache = (affine, fusedMultiplyAdd, thresholds);
        return thresholds;
    }

    /// <summary>The layer's signs after a folded batch norm as integer thresholds, packed channels-last, then max-pooled
    /// on the bits (OR where the sign rises with the dot, AND where it falls; <see cref="BitPool"/>) when
    /// <paramref name="pool"/> is given — exactly the bits the next binary layer would pack from
    /// <c>sign(BN(maxpool(conv)))</c> in float.</summary>
    internal Activation RunThresholds(Activation x, SignThresholds thresholds, MaxPoolLayer? pool)
    {
        BinaryConv2DShape s = Shape(x.Batch, x.Shape[2], x.Shape[3]);
        ulong[] bits = pool is null ? BitOutput(s.PackedOutputWords) : BitScratch(s.PackedOutputWords);
        BinaryConv2D.ForwardPackedThreshold(PackedInput(x), _packed, bits, s, thresholds.Thresholds, thresholds.Flips);
        if (pool is null) return Activation.Packed(bits, x.Batch, OutChannels, s.OutHeight, s.OutWidth);
        int[] pooled = pool.OutputShape([x.Batch, OutChannels, s.OutHeight, s.OutWidth]);
        ulong[] output = BitOutput((long)pooled[0] * pooled[2] * pooled[3] * BitPack.WordsPerPixel(OutChannels));
        BitPool.MaxPoolChannelsLast(bits, output, x.Batch, OutChannels, s.OutHeight, s.OutWidth, pool.KernelSize, pool.Stride, thresholds.NonDecreasing);
        return Activation.Packed(output, pooled);
    }

    private float[] UnpackFilters()
    {
        // the packed layout is [o][tap][channel words]; the float layout OIHW
        int taps = KernelSize * KernelSize, wpp = BitPack.WordsPerPixel(InChannels), row = FilterWords;
        var w = new float[OutChannels * InChannels * taps];
        for (int o = 0; o < OutChannels; o++)
            for (int c = 0; c < InChannels; c++)
                for (int t = 0; t < taps; t++)
                    w[(o * InChannels + c) * taps + t] = ((_packed[o * row + t * wpp + (c >> 6)] >> (c & 63)) & 1) != 0 ? 1f : -1f;
        return w;
    }

    internal override void Write(BinaryWriter w)
    {
        w.Write(InChannels); w.Write(OutChannels); w.Write(KernelSize); w.Write(Stride); w.Write(Padding); w.Write(InputSign);
        BgmIo.WritePackedRows(w, _packed, OutChannels, FilterWords, TightFilterWords);
        BgmIo.WriteOptional(w, Bias);
    }

    internal static BinaryConvLayer Read(BgmReader r)
    {
        int c = r.Size("in-channels"), o = r.Size("out-channels"), k = r.Size("kernel"), stride = r.Size("stride"), pad = r.Count("padding");
        bool sign = r.Bool();
        var probe = new BinaryConv2DShape(1, c, k, k, o, k, k, stride, pad);
        ulong[] packed = r.PackedRows(o, probe.WeightWordsPerFilter, k * k * BitPack.WordsPerPixel(c));
        return new BinaryConvLayer(c, o, k, stride, pad, sign, packed, r.OptionalFloats(o));
    }

    public override string ToString() => $"BinaryConv({InChannels}→{OutChannels}, k={KernelSize}, stride={Stride}, padding={Padding}{(InputSign ? ", sign input" : ", real input")})";
}

/// <summary>Real convolution, float32 weights OIHW (<see cref="Conv2DKernels"/>, the training forward's kernel).</summary>
public sealed class ConvLayer(int inChannels, int outChannels, int kernelSize, int stride, int padding, int dilation, float[] weight, float[]? bias) : InferenceLayer
{
    public int InChannels { get; } = inChannels;
    public int OutChannels { get; } = outChannels;
    public int KernelSize { get; } = kernelSize;
    public int Stride { get; } = stride;
    public int Padding { get; } = padding;
    public int Dilation { get; } = dilation;
    public float[] Weight { get; } = weight.Length == outChannels * inChannels * kernelSize * kernelSize ? weight : throw new ArgumentException("ConvLayer: weight length.");
    public float[]? Bias { get; } = bias;
    public override InferenceLayerKind Kind => InferenceLayerKind.Conv;
    public override long ParameterBytes => (Weight.Length + (Bias?.Length ?? 0)) * 4L;

    private int Out(int side) => (side + 2 * Padding - Dilation * (KernelSize - 1) - 1) / Stride + 1;

    public override int[] OutputShape(int[] input) =>
        input.Length == 4 && input[1] == InChannels && Out(input[2]) >= 1 && Out(input[3]) >= 1
            ? [input[0], OutChannels, Out(input[2]), Out(input[3])]
            : throw Mismatch(this, input, $"[N,{InChannels},H,W]");

    public override Activation Run(Activation x)
    {
        var g = new Conv2DGeometry(x.Batch, InChannels, x.Shape[2], x.Shape[3], OutChannels, KernelSize, KernelSize, Stride, Stride, Padding, Padding, Dilation, Dilation);
        float[] y = FloatOutput((long)x.Batch * OutChannels * g.OutHeight * g.OutWidth);
        Conv2DKernels.Forward(g, x.ToFloats(), Weight, Bias ?? default(ReadOnlySpan<float>), y);
        return Activation.Float(y, x.Batch, OutChannels, g.OutHeight, g.OutWidth);
    }

    internal override void Write(BinaryWriter w)
    {
        w.Write(InChannels); w.Write(OutChannels); w.Write(KernelSize); w.Write(Stride); w.Write(Padding); w.Write(Dilation);
        BgmIo.WriteFloats(w, Weight);
        BgmIo.WriteOptional(w, Bias);
    }

    internal static ConvLayer Read(BgmReader r)
    {
        int c = r.Size("in-channels"), o = r.Size("out-channels"), k = r.Size("kernel"), s = r.Size("stride"), p = r.Count("padding"), d = r.Size("dilation");
        return new ConvLayer(c, o, k, s, p, d, r.Floats(checked(o * c * k * k)), r.OptionalFloats(o));
    }

    public override string ToString() => $"Conv({InChannels}→{OutChannels}, k={KernelSize}, stride={Stride}, padding={Padding})";
}

/// <summary>Real dense layer <c>y = x·Wᵀ + b</c>, float32 (bias rows then an accumulating GEMM, as <c>Ops.Linear</c>).</summary>
public sealed class DenseLayer(int inFeatures, int outFeatures, float[] weight, float[]? bias) : InferenceLayer
{
    public int In { get; } = inFeatures;
    public int Out { get; } = outFeatures;
    public float[] Weight { get; } = weight.Length == inFeatures * outFeatures ? weight : throw new ArgumentException("DenseLayer: weight length.");
    public float[]? Bias { get; } = bias;
    public override InferenceLayerKind Kind => InferenceLayerKind.Dense;
    public override long ParameterBytes => (Weight.Length + (Bias?.Length ?? 0)) * 4L;

    public override int[] OutputShape(int[] input) =>
        input.Length == 2 && input[1] == In ? [input[0], Out] : throw Mismatch(this, input, $"[N,{In}]");

    public override Activation Run(Activation x)
    {
        int n = x.Batch;
        float[] y = FloatOutput(n * Out);
        if (Bias is not null) for (int r = 0; r < n; r++) Bias.CopyTo(y, r * Out);
        else Array.Clear(y);
        Gemm.Multiply(false, true, n, Out, In, 1f, x.ToFloats(), In, Weight, In, Bias is null ? 0f : 1f, y, Out);
        return Activation.Float(y, n, Out);
    }

    internal override void Write(BinaryWriter w)
    {
        w.Write(In); w.Write(Out);
        BgmIo.WriteFloats(w, Weight);
        BgmIo.WriteOptional(w, Bias);
    }

    internal static DenseLayer Read(BgmReader r)
    {
        int i = r.Size("in-features"), o = r.Size("out-features");
        return new DenseLayer(i, o, r.Floats(checked(i * o)), r.OptionalFloats(o));
    }

    public override string ToString() => $"Dense({In}→{Out})";
}

/// <summary>A folded batch norm: <c>y = x·scale + shift</c> per channel, with <c>scale = γ/√(σ² + ε)</c> and
/// <c>shift = β − μ·scale</c> computed in float64 and rounded to float32 exactly as the training evaluation does.
/// The arithmetic follows <c>Ops.BatchNorm</c> in evaluation: when each channel has one value per image
/// (BatchNorm1d [N,C], or BatchNorm2d on 1×1 maps) one rounding, <c>fma(x, scale, shift)</c>; otherwise multiply,
/// round, add, round. <see cref="Fused"/> records BatchNorm1d (input rank 2) versus BatchNorm2d (rank 4).</summary>
public sealed class AffineLayer(float[] scale, float[] shift, bool fused) : InferenceLayer
{
    public float[] Scale { get; } = scale;
    public float[] Shift { get; } = shift.Length == scale.Length ? shift : throw new ArgumentException("AffineLayer: scale and shift lengths differ.");
    public bool Fused { get; } = fused;
    public int Channels => Scale.Length;
    public override InferenceLayerKind Kind => InferenceLayerKind.Affine;
    public override long ParameterBytes => Scale.Length * 8L;

    /// <summary>Folds batch-norm statistics (float32 values) the way <c>Ops.BatchNorm</c> evaluates them.</summary>
    public static AffineLayer FromBatchNorm(float[]? gamma, float[]? beta, float[] mean, float[] variance, double eps, bool fused)
    {
        var scale = new float[mean.Length];
        var shift = new float[mean.Length];
        for (int c = 0; c < mean.Length; c++)
        {
            double invStd = 1 / Math.Sqrt((double)variance[c] + eps);
            double s = (gamma is null ? 1 : (double)gamma[c]) * invStd;
            scale[c] = (float)s;
            shift[c] = (float)((beta is null ? 0 : (double)beta[c]) - (double)mean[c] * s);
        }
        return new AffineLayer(scale, shift, fused);
    }

    public override int[] OutputShape(int[] input) =>
        (Fused ? input.Length == 2 : input.Length == 4) && input[1] == Channels ? input
            : throw Mismatch(this, input, Fused ? $"[N,{Channels}]" : $"[N,{Channels},H,W]");

    public override Activation Run(Activation x)
    {
        float[] v = x.ToFloats();
        float[] y = FloatOutput(v.Length);
        int n = x.Batch, c = Channels, plane = v.Length / Math.Max(1, n * c);
        for (int i = 0; i < n; i++)
        {
            if (plane == 1) TensorPrimitives.FusedMultiplyAdd(v.AsSpan(i * c, c), Scale, Shift, y.AsSpan(i * c, c));
            else
                for (int ch = 0; ch < c; ch++)
                {
                    Span<float> yPlane = y.AsSpan((i * c + ch) * plane, plane);
                    TensorPrimitives.Multiply(v.AsSpan((i * c + ch) * plane, plane), Scale[ch], yPlane);
                    TensorPrimitives.Add(yPlane, Shift[ch], yPlane);
                }
        }
        return Activation.Float(y, x.Shape);
    }

    /// <summary><c>fma(dot, scale, shift)</c> per row of integer dots [N × C] (a binary dense layer's folded BN).</summary>
    internal Activation RunOnDots(int[] dots, int n)
    {
        int c = Channels;
        float[] v = FloatScratch(dots.Length);
        for (int i = 0; i < v.Length; i++) v[i] = dots[i];
        float[] y = FloatOutput(v.Length);
        for (int i = 0; i < n; i++) TensorPrimitives.FusedMultiplyAdd(v.AsSpan(i * c, c), Scale, Shift, y.AsSpan(i * c, c));
        return Activation.Float(y, n, c);
    }

    internal override void Write(BinaryWriter w)
    {
        w.Write(Channels); w.Write(Fused);
        BgmIo.WriteFloats(w, Scale);
        BgmIo.WriteFloats(w, Shift);
    }

    internal static AffineLayer Read(BgmReader r)
    {
        int c = r.Size("channels");
        bool fused = r.Bool();
        return new AffineLayer(r.Floats(c), r.Floats(c), fused);
    }

    public override string ToString() => $"Affine({Channels}{(Fused ? ", fma" : "")})";
}

/// <summary>Max pooling, square window, padding never selected (−∞).</summary>
public sealed class MaxPoolLayer(int kernelSize, int stride, int padding) : InferenceLayer
{
    public int KernelSize { get; } = kernelSize;
    public int Stride { get; } = stride;
    public int Padding { get; } = padding;
    public override InferenceLayerKind Kind => InferenceLayerKind.MaxPool;
    public override long ParameterBytes => 0;

    private int Out(int side) => (side + 2 * Padding - KernelSize) / Stride + 1;

    public override int[] OutputShape(int[] input) =>
        input.Length == 4 && input[2] + 2 * Padding >= KernelSize && input[3] + 2 * Padding >= KernelSize
            ? [input[0], input[1], Out(input[2]), Out(input[3])]
            : throw Mismatch(this, input, $"[N,C,H,W] with H, W ≥ {KernelSize - 2 * Padding}");

    public override Activation Run(Activation x)
    {
        float[] v = x.ToFloats();
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3], oh = Out(h), ow = Out(w);
        float[] y = FloatOutput(n * c * oh * ow);
        // the training op's kernel (Ops.MaxPool2d), so the pooled floats are the evaluation's exactly
        var g = new Pool2DGeometry(n, c, h, w, KernelSize, KernelSize, Stride, Stride, Padding, Padding);
        Pool2DKernels.MaxForward(g, v, y, IntScratch(y.Length));
        return Activation.Float(y, n, c, oh, ow);
    }

    internal override void Write(BinaryWriter w) { w.Write(KernelSize); w.Write(Stride); w.Write(Padding); }

    internal static MaxPoolLayer Read(BgmReader r) => new(r.Size("kernel"), r.Size("stride"), r.Count("padding"));

    public override string ToString() => $"MaxPool({KernelSize}, stride={Stride})";
}

/// <summary><c>clamp(x, min, max)</c>. With <c>min &lt; 0 ≤ max</c> it preserves the sign test <c>x ≥ 0</c>, so it
/// disappears between a binary layer and a sign.</summary>
public sealed class HardTanhLayer(float min, float max) : InferenceLayer
{
    public float Min { get; } = min;
    public float Max { get; } = max;
    public bool PreservesSign => Min < 0 && Max >= 0;
    public override InferenceLayerKind Kind => InferenceLayerKind.HardTanh;
    public override long ParameterBytes => 0;
    public override int[] OutputShape(int[] input) => input;

    public override Activation Run(Activation x)
    {
        float[] v = x.ToFloats();
        float[] y = FloatOutput(v.Length);
        // the training op's vector clamp, then the same scalar expression for the tail
        for (int i = ActivationKernels.ClampForward<float>(v, y, Min, Max); i < v.Length; i++) y[i] = v[i] < Min ? Min : v[i] > Max ? Max : v[i];
        return Activation.Float(y, x.Shape);
    }

    internal override void Write(BinaryWriter w) { w.Write(Min); w.Write(Max); }

    internal static HardTanhLayer Read(BgmReader r) => new(r.Float(), r.Float());

    public override string ToString() => $"HardTanh({Min}, {Max})";
}

/// <summary><c>max(x, 0)</c>.</summary>
public sealed class ReLULayer : InferenceLayer
{
    public override InferenceLayerKind Kind => InferenceLayerKind.ReLU;
    public override long ParameterBytes => 0;
    public override int[] OutputShape(int[] input) => input;

    public override Activation Run(Activation x)
    {
        float[] v = x.ToFloats();
        float[] y = FloatOutput(v.Length);
        for (int i = 0; i < v.Length; i++) y[i] = v[i] > 0 ? v[i] : 0f;
        return Activation.Float(y, x.Shape);
    }

    internal override void Write(BinaryWriter w) { }

    public override string ToString() => "ReLU";
}

/// <summary>[N,C,H,W] → [N,C·H·W] (NCHW order).</summary>
public sealed class FlattenLayer : InferenceLayer
{
    public override InferenceLayerKind Kind => InferenceLayerKind.Flatten;
    public override long ParameterBytes => 0;
    public override int[] OutputShape(int[] input) => [input[0], input.Skip(1).Aggregate(1, (a, b) => a * b)];
    public override Activation Run(Activation x) => Activation.Float(x.ToFloats(), OutputShape(x.Shape));
    internal override void Write(BinaryWriter w) { }
    public override string ToString() => "Flatten";
}
