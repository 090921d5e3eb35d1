using System.Numerics.Tensors;
using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Layers.Inference;

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
    private GemmPackedB? _packedWeights; // _unpacked as the float GEMM's B, packed on the first real-input forward
    private BinaryGemmPlan? _plan;       // the weights grouped into the GEMM's lanes, made on the first forward

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
        int[] dots = IntScratch(n * Out);
        BinaryGemm.Multiply(PackedInput(x), _packed, dots, n, Out, In, Plan());
        return dots;
    }

    /// <summary>The input's signs as packed rows: the bits a previous binary dense layer wrote, or packed from floats.</summary>
    private ulong[] PackedInput(Activation x)
    {
        if (x.Bits is not null) return x.Bits;
        ulong[] packedX = InputBits((long)x.Batch * BitPack.WordsPerRow(In));
        BitPack.PackRows(x.ToFloats(), packedX, x.Batch, In);
        return packedX;
    }

    /// <summary>The weights grouped into the GEMM's lanes for the current path, made on first use.</summary>
    private BinaryGemmPlan Plan() => _plan is { } plan && plan.Path == Simd.Path ? plan : _plan = BinaryGemm.Plan(_packed, Out, In);

    private (AffineLayer Affine, SignThresholds? Thresholds)? _thresholdCache;

    /// <summary>The integer thresholds of the folded BatchNorm1d <paramref name="affine"/> + sign on this layer's dots
    /// (one rounding, <c>fma(d, scale, shift)</c>), derived once; null when some channel is not a single step.</summary>
    internal SignThresholds? ThresholdsFor(AffineLayer affine)
    {
        if (_thresholdCache is { } cached && cached.Affine == affine) return cached.Thresholds;
        SignThresholds.TryDerive(affine, In, fusedMultiplyAdd: true, out SignThresholds? thresholds);
        _thresholdCache = (affine, thresholds);
        return thresholds;
    }

    /// <summary>The signs of <c>BN(dots)</c> as the next binary dense layer's packed rows [N × WordsPerRow(Out)], by
    /// integer thresholds in the GEMM's epilogue: no float exists between the two layers.</summary>
    internal Activation RunThresholds(Activation x, SignThresholds thresholds)
    {
        int n = x.Batch;
        ulong[] bits = BitOutput((long)n * BitPack.WordsPerRow(Out));
        BinaryGemm.MultiplyPackedThreshold(PackedInput(x), _packed, bits, n, Out, In, thresholds.Thresholds, thresholds.Flips, Plan());
        return Result(null, bits, [n, Out]);
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
            // the ±1 weights packed for the GEMM once (on this path), not on every forward (read on the GEMM's blocked
            // path, batches of about 16 rows and more)
            if (_packedWeights?.Path != Simd.Path) _packedWeights = Gemm.PackB(true, In, Out, _unpacked, In);
            if (Bias is not null) for (int r = 0; r < n; r++) Bias.CopyTo(y, r * Out);
            else Array.Clear(y);
            Gemm.Multiply(false, true, n, Out, In, 1f, x.ToFloats(), In, _unpacked, In, Bias is null ? 0f : 1f, y, Out, _packedWeights);
        }
        return Result(y, null, [n, Out]);
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

/// <summary>Binary 3-D-filter convolution on ±1 filters (packed in <see cref="XnorConv2D"/>'s layout), zero
/// padding contributing 0. With <see cref="InputSign"/> it runs on <see cref="XnorConv2D"/>, consuming packed input
/// directly; the model fuses a following <see cref="AffineLayer"/> (folded BatchNorm2d, whose evaluation on maps
/// larger than 1×1 is <c>x·scale</c> then <c>+ shift</c>) into the kernel's float epilogue <c>scale·dot + bias</c> (the same two
/// roundings), and when the next consumer is another sign-input binary convolution (possibly through a
/// sign-preserving Hardtanh) into the packed-sign epilogue, whose bits are the signs of that very float.</summary>
public sealed class BinaryConvLayer : InferenceLayer
{
    private readonly ulong[] _packed;   // [Out × WeightWordsPerFilter]
    private float[]? _unpacked;
    private float[]? _unitScale, _zeroBias; // the float store's scale and bias for plain dots (+ bias)
    private XnorConv2DPlan? _plan;

    /// <summary>The filters prepared for the kernel at this geometry (<see cref="XnorConv2D.Plan"/>), made on the first
    /// forward and kept: a layer runs once per chunk of a few images, and rebuilding the lane-packed filters and border
    /// tables each time cost VGG-Small's wide layers a tenth of their time. Read-only, so thread copies share it.</summary>
    private XnorConv2DPlan PlanFor(in XnorConv2DShape s)
    {
        if (_plan is not { } plan || !plan.Fits(s)) _plan = plan = XnorConv2D.Plan(_packed, s);
        return plan;
    }

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

    internal XnorConv2DShape Shape(int batch, int height, int width) =>
        new(batch, InChannels, height, width, OutChannels, KernelSize, KernelSize, Stride, Padding);

    public override int[] OutputShape(int[] input)
    {
        if (input.Length != 4 || input[1] != InChannels || input[2] + 2 * Padding < KernelSize || input[3] + 2 * Padding < KernelSize)
            throw Mismatch(this, input, $"[N,{InChannels},H,W] with H, W ≥ {KernelSize - 2 * Padding}");
        XnorConv2DShape s = Shape(input[0], input[2], input[3]);
        return [input[0], OutChannels, s.OutHeight, s.OutWidth];
    }

    /// <summary>The output's height and width for an input of <paramref name="height"/> × <paramref name="width"/> (the
    /// model's shape chain was checked when it was built, so no checks here, and no array).</summary>
    internal (int Height, int Width) OutputSize(int height, int width)
    {
        XnorConv2DShape s = Shape(1, height, width);
        return (s.OutHeight, s.OutWidth);
    }

    /// <summary>The packed channels-last input (packing a float input).</summary>
    internal ulong[] PackedInput(Activation x)
    {
        if (x.Bits is not null) return x.Bits;
        ulong[] bits = InputBits(Shape(x.Batch, x.Shape[2], x.Shape[3]).InputWords);
        // channels-last floats are NCHW images of one pixel each, so the NCHW packer over N·H·W such images gives the bits
        if (x.ChannelsLast) BitPack.PackChannelsLast(x.Floats!, bits, x.Batch * x.Shape[2] * x.Shape[3], InChannels, 1, 1);
        else BitPack.PackChannelsLast(x.Floats!, bits, x.Batch, InChannels, x.Shape[2], x.Shape[3]);
        return bits;
    }

    public override Activation Run(Activation x)
    {
        XnorConv2DShape s = Shape(x.Batch, x.Shape[2], x.Shape[3]);
        float[] y = FloatOutput(s.OutputCount);
        if (InputSign)
        {
            // y = dot (+ bias) through the kernel's vectorized float store: 1·dot is exact (|dot| < 2²⁴), so
            // fl(fl(1·dot) + b) = fl(dot + b), the training forward's single rounding (and +0 for b = 0)
            _unitScale ??= Enumerable.Repeat(1f, OutChannels).ToArray();
            XnorConv2D.Forward(PackedInput(x), _packed, y, s, _unitScale, Bias ?? (_zeroBias ??= new float[OutChannels]), PlanFor(s));
        }
        else
        {
            _unpacked ??= UnpackFilters();
            var g = new Conv2DGeometry(x.Batch, InChannels, x.Shape[2], x.Shape[3], OutChannels, KernelSize, KernelSize, Stride, Stride, Padding, Padding);
            Conv2DKernels.Forward(g, x.ToFloats(), _unpacked, Bias ?? default(ReadOnlySpan<float>), y);
        }
        return Result(y, null, [x.Batch, OutChannels, s.OutHeight, s.OutWidth]);
    }

    /// <summary>The fused folded-BN epilogue: float <c>scale·dot + bias</c>, or its signs packed channels-last.</summary>
    internal Activation RunFused(Activation x, AffineLayer affine, bool packedSign)
    {
        XnorConv2DShape s = Shape(x.Batch, x.Shape[2], x.Shape[3]);
        ulong[] input = PackedInput(x);
        if (packedSign)
        {
            ulong[] bits = BitOutput(s.PackedOutputWords);
            XnorConv2D.ForwardPackedSign(input, _packed, bits, s, affine.Scale, affine.Shift, PlanFor(s));
            return Result(null, bits, [x.Batch, OutChannels, s.OutHeight, s.OutWidth]);
        }
        float[] y = FloatOutput(s.OutputCount);
        XnorConv2D.Forward(input, _packed, y, s, affine.Scale, affine.Shift, PlanFor(s));
        return Result(y, null, [x.Batch, OutChannels, s.OutHeight, s.OutWidth]);
    }

    /// <summary>This convolution, a 2×2 max-pool of stride 2 and the batch norm after it in one pass
    /// (<see cref="XnorConv2D.ForwardMaxPool2Affine"/>): float NCHW at the pooled size, the full-size map never written.
    /// For a bias-free convolution with sign input and an even output size (the caller checks).</summary>
    internal Activation RunPooledAffine(Activation x, AffineLayer affine)
    {
        XnorConv2DShape s = Shape(x.Batch, x.Shape[2], x.Shape[3]);
        float[] y = FloatOutput(s.OutputCount / 4);
        XnorConv2D.ForwardMaxPool2Affine(PackedInput(x), _packed, y, s, affine.Scale, affine.Shift, PlanFor(s));
        return Result(y, null, [x.Batch, OutChannels, s.OutHeight / 2, s.OutWidth / 2]);
    }

    /// <summary>A Bi-Real unit with an identity shortcut in one pass: <c>clamp(BN(conv(sign x)) + x, low, high)</c>,
    /// float NCHW (<see cref="XnorConv2D.ForwardResidual"/>); <paramref name="x"/> is float.</summary>
    /// <remarks><para>With <paramref name="withSigns"/> the store also packs y's signs for the next binary convolution
    /// (the activation then carries both).</para>
    /// <para>With <paramref name="channelsLastOutput"/> (the next layer is another such unit) y is written channels-last,
    /// the stream's layout inside a chain of units (<see cref="XnorConv2D.ForwardResidualChannelsLast"/>): the first unit
    /// of a chain transposes its NCHW input once for the shortcut, the last one transposes its output back to NCHW.
    /// Same values either way, bit for bit.</para></remarks>
    internal Activation RunResidual(Activation x, AffineLayer affine, float low, float high, bool withSigns, bool channelsLastOutput = false)
    {
        XnorConv2DShape s = Shape(x.Batch, x.Shape[2], x.Shape[3]);
        float[] y = FloatOutput(s.OutputCount);
        ulong[]? signs = withSigns ? BitOutput(s.PackedOutputWords) : null;
        if (!x.ChannelsLast && !channelsLastOutput)
        {
            XnorConv2D.ForwardResidual(PackedInput(x), _packed, y, s, affine.Scale, affine.Shift, x.Floats!, low, high, signs, PlanFor(s));
            return Result(y, signs, [x.Batch, OutChannels, s.OutHeight, s.OutWidth]);
        }
        int pixels = s.OutHeight * s.OutWidth;
        float[] shortcut = x.Floats!;
        if (!x.ChannelsLast)
        {
            shortcut = FloatScratch(s.OutputCount);
            XnorConv2D.ChannelsLastFromPlanes(x.Floats!, shortcut, x.Batch, OutChannels, pixels);
        }
        float[] target = channelsLastOutput ? y : FloatScratch(s.OutputCount);
        XnorConv2D.ForwardResidualChannelsLast(PackedInput(x), _packed, target, s, affine.Scale, affine.Shift, shortcut, low, high, signs, PlanFor(s));
        if (!channelsLastOutput) XnorConv2D.PlanesFromChannelsLast(target, y, x.Batch, OutChannels, pixels);
        return Result(y, signs, [x.Batch, OutChannels, s.OutHeight, s.OutWidth], channelsLastOutput);
    }

    /// <summary>A downsampling Bi-Real unit on the channels-last stream: <c>clamp(BN(conv(sign x)) + zeroPad(x))</c>
    /// with He et al.'s option-A shortcut (<paramref name="shortcutChannels"/> input channels sampled at the conv's
    /// stride, zero channels around them) fused into the store (<see cref="XnorConv2D.ForwardDownsampleResidualChannelsLast"/>).
    /// <paramref name="x"/> is channels-last; y is channels-last when <paramref name="channelsLastOutput"/>, else NCHW.</summary>
    internal Activation RunDownsampleResidual(Activation x, AffineLayer affine, int shortcutChannels, float low, float high, bool withSigns, bool channelsLastOutput)
    {
        XnorConv2DShape s = Shape(x.Batch, x.Shape[2], x.Shape[3]);
        float[] y = FloatOutput(s.OutputCount);
        ulong[]? signs = withSigns ? BitOutput(s.PackedOutputWords) : null;
        float[] target = channelsLastOutput ? y : FloatScratch(s.OutputCount);
        XnorConv2D.ForwardDownsampleResidualChannelsLast(PackedInput(x), _packed, target, s, affine.Scale, affine.Shift, x.Floats!, shortcutChannels, low, high, signs, PlanFor(s));
        if (!channelsLastOutput) XnorConv2D.PlanesFromChannelsLast(target, y, x.Batch, OutChannels, s.OutHeight * s.OutWidth);
        return Result(y, signs, [x.Batch, OutChannels, s.OutHeight, s.OutWidth], channelsLastOutput);
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
        XnorConv2DShape s = Shape(x.Batch, x.Shape[2], x.Shape[3]);
        ulong[] bits = pool is null ? BitOutput(s.PackedOutputWords) : BitScratch(s.PackedOutputWords);
        XnorConv2D.ForwardPackedThreshold(PackedInput(x), _packed, bits, s, thresholds.Thresholds, thresholds.Flips, PlanFor(s));
        if (pool is null) return Result(null, bits, [x.Batch, OutChannels, s.OutHeight, s.OutWidth]);
        int pooledHeight = pool.OutputSide(s.OutHeight), pooledWidth = pool.OutputSide(s.OutWidth);
        ulong[] output = BitOutput((long)x.Batch * pooledHeight * pooledWidth * BitPack.WordsPerPixel(OutChannels));
        BitPool.MaxPoolChannelsLast(bits, output, x.Batch, OutChannels, s.OutHeight, s.OutWidth, pool.KernelSize, pool.Stride, thresholds.NonDecreasing);
        return Result(null, output, [x.Batch, OutChannels, pooledHeight, pooledWidth]);
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
        var probe = new XnorConv2DShape(1, c, k, k, o, k, k, stride, pad);
        ulong[] packed = r.PackedRows(o, probe.WeightWordsPerFilter, k * k * BitPack.WordsPerPixel(c));
        return new BinaryConvLayer(c, o, k, stride, pad, sign, packed, r.OptionalFloats(o));
    }

    public override string ToString() => $"BinaryConv({InChannels}→{OutChannels}, k={KernelSize}, stride={Stride}, padding={Padding}{(InputSign ? ", sign input" : ", real input")})";
}
