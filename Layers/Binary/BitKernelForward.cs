using System.Numerics;
using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Layers;

/// <summary>Statistics of one binary layer's latent weights, read by the trainer each epoch.</summary>
/// <param name="OutsidePassThrough">Share of latent weights w whose weight quantizer's backward factor is zero,
/// <c>q'(w) = 0</c>: the estimator passes no gradient to them ("saturated" weights). For the clipped STE of
/// <see cref="SteSign"/> and <see cref="ScaledSign"/> this is <c>|w| &gt; c</c> (c = 1 by default); for smooth
/// surrogates (ApproxSign, SwishSign) it is the region where the surrogate vanishes. The scalar
/// <see cref="Quantizer.Derivative"/> is the convention for every scheme, so per-tensor schemes use their documented
/// scalar view. 0 when the layer has no weight quantizer.</param>
/// <param name="MeanAbsLatent">Mean |w| over the latent weights.</param>
public readonly record struct BinaryLayerStatistics(double OutsidePassThrough, double MeanAbsLatent)
{
    /// <summary>Computes the statistics of <paramref name="latent"/> under <paramref name="weightQuantizer"/>.</summary>
    public static BinaryLayerStatistics Of(Tensor latent, Quantizer? weightQuantizer)
    {
        ArgumentNullException.ThrowIfNull(latent);
        double[] w = latent.ToDoubleArray();
        if (w.Length == 0) return new(0, 0);
        long outside = 0;
        double sumAbs = 0;
        foreach (double v in w)
        {
            sumAbs += Math.Abs(v);
            if (weightQuantizer is not null && weightQuantizer.Derivative(v) == 0) outside++;
        }
        return new((double)outside / w.Length, sumAbs / w.Length);
    }
}

/// <summary>The bit-packed ±1 weights of a binary layer, re-packed only when the latent weights or the weight
/// quantizer's parameters change (compared element by element with a snapshot, which costs one vectorized pass
/// over the floats — far less than re-quantizing and re-packing).</summary>
internal sealed class PackedWeightCache
{
    private double[]? _snapshot;

    /// <summary>The quantized ±1 weights (detached, the latent's dtype).</summary>
    public Tensor? Quantized { get; private set; }

    /// <summary>The packed words, in the layout the layer's kernel expects.</summary>
    public ulong[] Packed { get; private set; } = [];

    /// <summary>Returns true (and leaves the cache alone) when nothing changed since the last <see cref="Store"/>.</summary>
    public bool IsCurrent(Tensor latent, Quantizer quantizer) =>
        _snapshot is not null && Key(latent, quantizer).AsSpan().SequenceEqual(_snapshot);

    /// <summary>Stores the new quantized weights and their packing under the current key.</summary>
    public void Store(Tensor latent, Quantizer quantizer, Tensor quantized, ulong[] packed)
    {
        _snapshot = Key(latent, quantizer);
        (Quantized, Packed) = (quantized, packed);
    }

    private static double[] Key(Tensor latent, Quantizer quantizer)
    {
        double[] key = latent.ToDoubleArray();
        foreach (Parameter p in quantizer.Parameters) key = [.. key, .. p.Value.ToDoubleArray()];
        return key;
    }
}

/// <summary>The forward of <c>y = x·Wᵀ (+ b)</c> on ±1 operands by XNOR-popcount (<see cref="BinaryGemm"/>), with
/// the float formula as backward: <c>dx = dy·W</c>, <c>dW = dyᵀ·x</c>, <c>db = Σ_n dy</c>.</summary>
/// <remarks>Inputs: the quantized input x [N,K] and quantized weight W [O,K] (both exactly ±1) and optional bias.
/// The integer dot <c>K − 2·popcount(x XOR w)</c> is exact and so is its float conversion for K &lt; 2²⁴, and the
/// float GEMM of ±1 data sums integers exactly too, so the two forwards agree bit for bit; the bias is added
/// after the dot (<c>dot + b</c>, one rounding), which the float path matches whenever <c>b + dot</c> is exact.</remarks>
internal sealed class BinaryLinearFunction(ulong[] packedWeight) : Function
{
    private Tensor? _x, _w;
    public override string Name => "binary_linear";

    protected override Tensor Forward(Tensor[] inputs)
    {
        Tensor x = inputs[0].Contiguous(), w = inputs[1].Contiguous();
        (_x, _w) = (x, w);
        int n = x.Shape[0], k = x.Shape[1], o = w.Shape[0];
        // per-call scratch from the shared pool: a training step allocates no arrays here
        int words = checked(n * BitPack.WordsPerRow(k));
        ulong[] packedArray = ScratchPool<ulong>.ThisThread.Rent(words);
        int[] dotArray = ScratchPool<int>.ThisThread.Rent(n * o);
        Span<ulong> packedX = packedArray.AsSpan(0, words);
        packedX.Clear();
        DTypeDispatch.Run(x.DType, new PackRowsAction(x, packedArray, n, k));
        Span<int> dots = dotArray.AsSpan(0, n * o);
        BinaryGemm.Multiply(packedX, packedWeight, dots, n, o, k);
        // the bias in x's dtype (rounded once when it is float64 and x float32), added to the exact integer dot in that dtype
        Tensor? bias = inputs.Length > 2 ? inputs[2].Contiguous().To(x.DType) : null;
        Tensor y = Tensor.Empty([n, o], x.DType);
        DTypeDispatch.Run(x.DType, new AddBiasAction(dotArray, n * o, bias, o, y));
        ScratchPool<ulong>.ThisThread.Return(packedArray);
        ScratchPool<int>.ThisThread.Return(dotArray);
        return y;
    }

    protected override Tensor?[] Backward(Tensor gradOutput)
    {
        Tensor x = _x!, w = _w!, g = gradOutput.Contiguous();
        int n = x.Shape[0], k = x.Shape[1], o = w.Shape[0];
        Tensor? dx = NeedsGrad(0) ? Tensor.Empty([n, k], x.DType) : null;
        Tensor? dw = NeedsGrad(1) ? Tensor.Empty([o, k], x.DType) : null;
        Tensor? db = Inputs.Count > 2 && NeedsGrad(2) ? Tensor.Zeros([o], x.DType) : null;
        DTypeDispatch.Run(x.DType, new LinearBackwardAction(x, w, g, dx, dw, db, n, k, o));
        return Inputs.Count > 2 ? [dx, dw, db] : [dx, dw];
    }

    private readonly struct PackRowsAction(Tensor x, ulong[] packed, int rows, int bits) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T> => BitPack.PackRows<T>(x.AsSpan<T>(), packed, rows, bits);
    }

    /// <summary>y = dot (+ b), the integer dot converted to T and the bias added in T.</summary>
    private readonly struct AddBiasAction(int[] dots, int count, Tensor? bias, int o, Tensor y) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            Span<T> ys = y.AsSpan<T>();
            ReadOnlySpan<T> b = bias is null ? default : bias.AsSpan<T>();
            for (int i = 0; i < count; i++) ys[i] = bias is null ? T.CreateTruncating(dots[i]) : T.CreateTruncating(dots[i]) + b[i % o];
        }
    }

    /// <summary>dx = dY·W, dW = dYᵀ·X on the float GEMM of x's dtype; db = Σ dY over the batch.</summary>
    private readonly struct LinearBackwardAction(Tensor x, Tensor w, Tensor g, Tensor? dx, Tensor? dw, Tensor? db, int n, int k, int o) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            if (dx is not null) Gemm.Multiply(false, false, n, k, o, T.One, g.AsSpan<T>(), o, w.AsSpan<T>(), k, T.Zero, dx.AsSpan<T>(), k);
            if (dw is not null) Gemm.Multiply(true, false, o, k, n, T.One, g.AsSpan<T>(), o, x.AsSpan<T>(), k, T.Zero, dw.AsSpan<T>(), k);
            if (db is null) return;
            Span<T> d = db.AsSpan<T>();
            ReadOnlySpan<T> gs = g.AsSpan<T>();
            for (int i = 0; i < gs.Length; i++) d[i % o] += gs[i];
        }
    }

    protected override void ReleaseSaved() => (_x, _w) = (null, null);

    /// <summary>Packs ±1 weights [O,K] into the GEMM's row layout, into <paramref name="reuse"/> when it has the right
    /// length (see the convolution's PackWeight), else into a new array.</summary>
    public static ulong[] PackWeight(Tensor w, ulong[]? reuse = null)
    {
        int o = w.Shape[0], k = w.Shape[1];
        long length = (long)o * BitPack.WordsPerRow(k);
        ulong[] packed = reuse is { } r && r.Length == length ? r : new ulong[length];
        packed.AsSpan().Clear();
        Tensor c = w.Contiguous();
        DTypeDispatch.Run(c.DType, new PackRowsAction(c, packed, o, k));
        return packed;
    }
}

/// <summary>The forward of a zero-padded 2-D convolution on ±1 operands by XNOR-popcount (<see cref="XnorConv2D"/>),
/// with the float convolution's backward (<see cref="Conv2DKernels.BackwardInput(in Conv2DGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>
/// and <c>BackwardWeight</c>).</summary>
/// <remarks>Padded positions contribute 0 (not ±1) in both paths: the float convolution reads zeros outside the
/// image, and the kernel counts only valid taps (<c>dot = |T|·C − 2·Σ_T popcount</c>), so the results are equal
/// integers. The bias, when present, is added after the dot as in <see cref="BinaryLinearFunction"/>.</remarks>
internal sealed class BinaryConv2dFunction(ulong[] packedWeight, XnorConv2DShape shape) : Function
{
    private Tensor? _x, _w;
    public override string Name => "binary_conv2d";

    private Conv2DGeometry Geometry => new(shape.Batch, shape.InChannels, shape.Height, shape.Width, shape.OutChannels,
        shape.KernelHeight, shape.KernelWidth, shape.Stride, shape.Stride, shape.Padding, shape.Padding);

    protected override Tensor Forward(Tensor[] inputs)
    {
        Tensor x = inputs[0].Contiguous(), w = inputs[1].Contiguous();
        (_x, _w) = (x, w);
        Tensor y = Tensor.Uninitialized([shape.Batch, shape.OutChannels, shape.OutHeight, shape.OutWidth], x.DType);
        int inputWords = checked((int)shape.InputWords);
        ulong[] packedX = ScratchPool<ulong>.ThisThread.Rent(inputWords);
        try
        {
            // y = 1·dot + bias (one rounding, as dot + b; float32 writes it in the kernel's affine epilogue)
            Tensor? bias = inputs.Length > 2 ? inputs[2].Contiguous().To(x.DType) : null;
            DTypeDispatch.Run(x.DType, new ConvForwardAction(x, packedX, inputWords, packedWeight, shape, bias, y));
            return y;
        }
        finally
        {
            ScratchPool<ulong>.ThisThread.Return(packedX);
        }
    }

    protected override Tensor?[] Backward(Tensor gradOutput)
    {
        Tensor x = _x!, w = _w!, g = gradOutput.Contiguous();
        Conv2DGeometry geometry = Geometry;
        bool hasBias = Inputs.Count > 2;
        if (!hasBias && x.DType == DType.Float32)
        {
            // x is a hard-sign quantizer's ±1 output (what the XNOR forward presumes), so sign(x) = x and the window
            // 1[|x| ≤ ∞] passes every element: the backward of a sign convolution gives the float convolution's
            // gradients, with the output gradient stacked once for both products and dx written rather than zeroed and
            // added into (e.g. SiMaN's standardised sign, which is not folded into the convolution). Where x is not ±1
            // — a NaN from a diverged layer — this backward follows the forward instead: the forward packed sign(x)
            // (NaN → −1), dW takes that sign and dx is 0 there (|NaN| ≤ ∞ is false), where the float64 path still
            // propagates the NaN. The float32 forward never saw the NaN either; the loss shows the divergence.
            Tensor? pending = NeedsGrad(0) ? TakePendingGradient(0) : null;
            Tensor? gradInput = NeedsGrad(0) ? pending ?? RentGradient(x.Shape, x.DType) : null;
            Tensor? gradWeight = NeedsGrad(1) ? w.ZerosLike() : null;
            Conv2DKernels.BackwardOfSign(geometry, x.AsSpan<float>(), g.AsSpan<float>(), w.AsSpan<float>(), float.PositiveInfinity,
                gradInput is null ? default : gradInput.AsSpan<float>(), gradWeight is null ? default : gradWeight.AsSpan<float>(), accumulate: pending is not null);
            return [gradInput, gradWeight];
        }
        Tensor? dx = NeedsGrad(0) ? x.ZerosLike() : null;
        bool weightNeeded = NeedsGrad(1), biasNeeded = hasBias && NeedsGrad(2);
        Tensor? dw = weightNeeded || biasNeeded ? w.ZerosLike() : null;
        Tensor? db = biasNeeded ? Tensor.Empty([shape.OutChannels], x.DType) : null;
        DTypeDispatch.Run(x.DType, new ConvBackwardAction(geometry, x, w, g, dx, dw, db));
        return hasBias ? [dx, weightNeeded ? dw : null, db] : [dx, weightNeeded ? dw : null];
    }

    private readonly struct ConvForwardAction(Tensor x, ulong[] packedX, int words, ulong[] packedWeight, XnorConv2DShape shape, Tensor? bias, Tensor y) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            Span<ulong> packed = packedX.AsSpan(0, words);
            BitPack.PackChannelsLast<T>(x.AsSpan<T>(), packed, shape.Batch, shape.InChannels, shape.Height, shape.Width);
            XnorConv2D.Forward<T>(packed, packedWeight, y.AsSpan<T>(), shape, EpilogueConstants<T>.Ones(shape.OutChannels),
                bias is null ? EpilogueConstants<T>.Zeros(shape.OutChannels) : bias.AsSpan<T>());
        }
    }

    private readonly struct ConvBackwardAction(Conv2DGeometry geometry, Tensor x, Tensor w, Tensor g, Tensor? dx, Tensor? dw, Tensor? db) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            if (dx is not null) Conv2DKernels.BackwardInput<T>(geometry, g.AsSpan<T>(), w.AsSpan<T>(), dx.AsSpan<T>());
            if (dw is not null) Conv2DKernels.BackwardWeight<T>(geometry, x.AsSpan<T>(), g.AsSpan<T>(), dw.AsSpan<T>(), db is null ? default : db.AsSpan<T>());
        }
    }

    protected override void ReleaseSaved() => (_x, _w) = (null, null);

    /// <summary>Packs ±1 filters [O,C,k,k] into the kernel's weight layout, into <paramref name="reuse"/> when it has
    /// the right length (a training step re-packs every step: the layer hands back last step's array, whose forward
    /// is done with it), else into a new array.</summary>
    public static ulong[] PackWeight(Tensor w, in XnorConv2DShape shape, ulong[]? reuse = null)
    {
        long length = (long)shape.OutChannels * shape.WeightWordsPerFilter;
        ulong[] packed = reuse is { } r && r.Length == length ? r : new ulong[length];
        DTypeDispatch.Run(w.DType, new PackFiltersAction(w.Contiguous(), packed, shape));
        return packed;
    }

    private readonly struct PackFiltersAction(Tensor w, ulong[] packed, XnorConv2DShape shape) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T> => XnorConv2D.PackWeights<T>(w.AsSpan<T>(), packed, shape);
    }
}

/// <summary><c>y = conv(sign(x), W)</c> with the clipped straight-through sign folded in: the forward packs the real
/// input x straight into bits (the packer's <c>x ≥ 0</c> → +1 is <see cref="SteSign"/>'s sign with sign(0) = +1, so
/// binarize-then-pack equals pack), or, when the op that wrote x packed its sign planes in its epilogue
/// (<see cref="Ops.BatchNormAddClamp"/>), transposes those bits into the same words; the backward is <see cref="Conv2DKernels.BackwardOfSign"/>:
/// <c>dx = 1[|x| ≤ c]·convᵀ(dY, W)</c>, <c>dW = Σ dY·sign(x)</c>.</summary>
/// <remarks>Equal to <see cref="SteSign"/> followed by <see cref="BinaryConv2dFunction"/> (the same kernels on the
/// same ±1 values; a masked-out input gets +0 where the unfused product gave ±0), without the float tensor of signs
/// the unfused forward writes and the mask pass its backward makes. Float32, no bias.</remarks>
internal sealed class BinarySignConv2dFunction(ulong[] packedWeight, XnorConv2DShape shape, float clip) : Function
{
    private Tensor? _x, _w;
    public override string Name => "binary_conv2d";

    /// <summary>The largest float ≤ <paramref name="c"/>, so that <c>|x| ≤ c</c> in float64 ⇔ <c>|x| ≤ bound</c> in
    /// float32 for every float x (as <see cref="SteSign"/>'s float32 path).</summary>
    public static float Bound(double c)
    {
        float f = (float)c;
        return f > c ? MathF.BitDecrement(f) : f;
    }

    private Conv2DGeometry Geometry => new(shape.Batch, shape.InChannels, shape.Height, shape.Width, shape.OutChannels,
        shape.KernelHeight, shape.KernelWidth, shape.Stride, shape.Stride, shape.Padding, shape.Padding);

    protected override Tensor Forward(Tensor[] inputs)
    {
        Tensor x = inputs[0].Contiguous(), w = inputs[1].Contiguous();
        (_x, _w) = (x, w);
        Tensor y = Tensor.Uninitialized([shape.Batch, shape.OutChannels, shape.OutHeight, shape.OutWidth], x.DType);
        int inputWords = checked((int)shape.InputWords);
        ulong[] packedX = ScratchPool<ulong>.ThisThread.Rent(inputWords);
        try
        {
            Span<ulong> packed = packedX.AsSpan(0, inputWords);
            // x from a Bi-Real unit's fused epilogue comes with its sign planes: 1/32 of its bytes to read
            ReadOnlySpan<ulong> planes = ReferenceEquals(x, inputs[0]) ? SignPlanesOf(x) : default;
            if (!planes.IsEmpty) BitPack.ChannelsLastFromPlanes(planes, packed, shape.Batch, shape.InChannels, shape.Height, shape.Width);
            else BitPack.PackChannelsLast(x.AsSpan<float>(), packed, shape.Batch, shape.InChannels, shape.Height, shape.Width);
            XnorConv2D.Forward(packed, packedWeight, y.AsSpan<float>(), shape, EpilogueConstants<float>.Ones(shape.OutChannels), EpilogueConstants<float>.Zeros(shape.OutChannels));
            return y;
        }
        finally
        {
            ScratchPool<ulong>.ThisThread.Return(packedX);
        }
    }

    protected override Tensor?[] Backward(Tensor gradOutput)
    {
        Tensor x = _x!, w = _w!, g = gradOutput.Contiguous();
        // x's gradient from its other consumers (a residual shortcut's, collected first) is added in the kernel's write
        Tensor? pending = NeedsGrad(0) ? TakePendingGradient(0) : null;
        Tensor? dx = NeedsGrad(0) ? pending ?? RentGradient(x.Shape, x.DType) : null; // written whole by the kernel
        Tensor? dw = NeedsGrad(1) ? w.ZerosLike() : null;
        Conv2DKernels.BackwardOfSign(Geometry, x.AsSpan<float>(), g.AsSpan<float>(), w.AsSpan<float>(), clip,
            dx is null ? default : dx.AsSpan<float>(), dw is null ? default : dw.AsSpan<float>(), accumulate: pending is not null);
        return [dx, dw];
    }

    protected override void ReleaseSaved() => (_x, _w) = (null, null);
}

/// <summary>Per-channel constant vectors for the kernels' affine epilogue (<c>scale·dot + bias</c>) when a training
/// forward wants the plain dot: shared read-only arrays of ones and zeros, grown on demand (never written after
/// creation, so a racing grow only costs an extra array).</summary>
internal static class EpilogueConstants<T> where T : unmanaged, INumber<T>
{
    private static T[] s_ones = [], s_zeros = [];

    public static ReadOnlySpan<T> Ones(int count)
    {
        T[] ones = s_ones;
        if (ones.Length < count) s_ones = ones = Enumerable.Repeat(T.One, Math.Max(count, 2 * ones.Length)).ToArray();
        return ones.AsSpan(0, count);
    }

    public static ReadOnlySpan<T> Zeros(int count)
    {
        T[] zeros = s_zeros;
        if (zeros.Length < count) s_zeros = zeros = new T[Math.Max(count, 2 * zeros.Length)];
        return zeros.AsSpan(0, count);
    }
}

/// <summary>Chooses between the float and the bit-kernel forward for a binary layer.</summary>
internal static class BitKernelPolicy
{
    /// <summary>True when both operands are exactly ±1 in the current mode: a weight quantizer and an input
    /// quantizer that are both hard signs (<see cref="Quantizer.IsHardSign"/>, which is false for scaled signs).</summary>
    public static bool Applies(Quantizer? weights, Quantizer? inputs) =>
        weights is { IsHardSign: true } && inputs is { IsHardSign: true };

    /// <summary>True when the forward must record the weight quantizer (a gradient will flow into the latent weights
    /// or the quantizer's parameters); otherwise the cached packed weights serve.</summary>
    public static bool NeedsWeightGraph(Parameter latent, Quantizer quantizer) =>
        GradMode.IsEnabled && (latent.Value.RequiresGrad || quantizer.Parameters.Any(p => p.Value.RequiresGrad));
}
