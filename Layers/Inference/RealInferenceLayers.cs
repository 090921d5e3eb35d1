using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Layers.Inference;

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
        return Result(y, null, [x.Batch, OutChannels, g.OutHeight, g.OutWidth]);
    }

    private (AffineLayer Affine, bool Fma, FloatSignThresholds? Signs)? _signsCache;

    /// <summary>The comparisons of <paramref name="affine"/> + sign on this layer's output (derived once and cached), or
    /// null when some channel's batch norm is not monotone (the separate batch norm is used then).</summary>
    internal FloatSignThresholds? SignsFor(AffineLayer affine, bool fusedMultiplyAdd)
    {
        if (_signsCache is { } cached && cached.Affine == affine && cached.Fma == fusedMultiplyAdd) return cached.Signs;
        FloatSignThresholds.TryDerive(affine, fusedMultiplyAdd, out FloatSignThresholds? signs);
        _signsCache = (affine, fusedMultiplyAdd, signs);
        return signs;
    }

    /// <summary>The output's height and width for an input of <paramref name="height"/> × <paramref name="width"/>.</summary>
    internal (int Height, int Width) OutputSize(int height, int width) => (Out(height), Out(width));

    /// <summary>The convolution, its folded batch norm and the sign a binary convolution takes next, image by image:
    /// each image's float output goes to a per-thread scratch (512 KB for VGG-Small's 128×32×32 stem, in L2) and only its
    /// signs, packed channels-last by the comparisons of <paramref name="signs"/>, are stored. The same bits as the
    /// convolution, <see cref="AffineLayer.Run"/> and the sign pack one after another, without writing and re-reading
    /// two float tensors.</summary>
    internal unsafe Activation RunSigns(Activation x, FloatSignThresholds signs)
    {
        var g = new Conv2DGeometry(1, InChannels, x.Shape[2], x.Shape[3], OutChannels, KernelSize, KernelSize, Stride, Stride, Padding, Padding, Dilation, Dilation);
        long imageWords = (long)g.OutHeight * g.OutWidth * BitPack.WordsPerPixel(OutChannels);
        ulong[] bits = BitOutput(x.Batch * imageWords);
        fixed (float* px = x.ToFloats())
        fixed (ulong* pb = bits)
            KernelThreads.For(x.Batch, 1, new SignsBody(this, g, px, pb, signs));
        return Result(null, bits, [x.Batch, OutChannels, g.OutHeight, g.OutWidth]);
    }

    /// <summary>Images [first, end) of <see cref="RunSigns"/>, as a value so that a call allocates nothing.</summary>
    private readonly unsafe struct SignsBody(ConvLayer layer, Conv2DGeometry image, float* x, ulong* bits, FloatSignThresholds signs) : KernelThreads.IRangeBody
    {
        public void Run(int first, int end)
        {
            int words = image.OutHeight * image.OutWidth * BitPack.WordsPerPixel(layer.OutChannels);
            float[] output = ScratchPool<float>.ThisThread.Rent(image.OutputLength);
            for (int n = first; n < end; n++)
            {
                Span<float> y = output.AsSpan(0, image.OutputLength);
                Conv2DKernels.Forward(image, new ReadOnlySpan<float>(x + (nint)n * image.InputLength, image.InputLength), layer.Weight,
                                      layer.Bias ?? default(ReadOnlySpan<float>), y);
                BitPack.PackChannelsLast(y, new Span<ulong>(bits + (nint)n * words, words), 1, layer.OutChannels, image.OutHeight, image.OutWidth,
                                         signs.Thresholds, signs.Below);
            }
            ScratchPool<float>.ThisThread.Return(output);
        }
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

/// <summary>Real dense layer <c>y = x·Wᵀ + b</c>, float32 (bias rows then an accumulating GEMM, as <c>Ops.Linear</c>).
/// The first forward packs <see cref="Weight"/> for the GEMM; later changes to its elements are not seen.</summary>
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
        // the weights packed for the GEMM once (on this path), not on every forward; a copy of Weight as it is now (the
        // GEMM reads the packed panels only on its blocked path, batches of about 16 rows and more, and ignores them below)
        if (_packedWeights?.Path != Simd.Path) _packedWeights = Gemm.PackB(true, In, Out, Weight, In);
        Gemm.Multiply(false, true, n, Out, In, 1f, x.ToFloats(), In, Weight, In, Bias is null ? 0f : 1f, y, Out, _packedWeights);
        return Result(y, null, [n, Out]);
    }

    private GemmPackedB? _packedWeights;

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
                    int offset = (i * c + ch) * plane;
                    ScaleShift(v.AsSpan(offset, plane), y.AsSpan(offset, plane), Scale[ch], Shift[ch]);
                }
        }
        return Result(y, null, x.Shape);
    }

    /// <summary><c>y = fl(fl(x·scale) + shift)</c>: multiply, round, add, round — the two roundings of BatchNorm2d's
    /// evaluation (two passes of TensorPrimitives there). Written out, one pass, a vector at a time: with two library calls
    /// per channel plane, VGG-Small's 65 536 planes of 16 values after its last pooling cost 0.43 ms per batch, 0.20 so.
    /// Vector multiply and add are never fused into an fma.</summary>
    private static void ScaleShift(ReadOnlySpan<float> x, Span<float> y, float scale, float shift)
    {
        int i = 0;
        if (Simd.Path == SimdPath.Vector512)
            for (Vector512<float> s512 = Vector512.Create(scale), b512 = Vector512.Create(shift); i + 16 <= x.Length; i += 16)
                (Vector512.Create(x.Slice(i, 16)) * s512 + b512).CopyTo(y.Slice(i, 16));
        else if (Simd.Path == SimdPath.Vector256)
            for (Vector256<float> s256 = Vector256.Create(scale), b256 = Vector256.Create(shift); i + 8 <= x.Length; i += 8)
                (Vector256.Create(x.Slice(i, 8)) * s256 + b256).CopyTo(y.Slice(i, 8));
        for (; i < x.Length; i++) y[i] = x[i] * scale + shift;
    }

    /// <summary><c>fma(dot, scale, shift)</c> per row of integer dots [N × C] (a binary dense layer's folded BN).</summary>
    internal Activation RunOnDots(int[] dots, int n)
    {
        int c = Channels;
        float[] v = FloatScratch(dots.Length);
        for (int i = 0; i < v.Length; i++) v[i] = dots[i];
        float[] y = FloatOutput(v.Length);
        for (int i = 0; i < n; i++) TensorPrimitives.FusedMultiplyAdd(v.AsSpan(i * c, c), Scale, Shift, y.AsSpan(i * c, c));
        return Result(y, null, [n, c]);
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
