using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>Batch normalisation over axis 1 of x [N,C] or [N,C,H,W] (statistics per channel c over the
    /// M = N·H·W elements of that channel), as one fused op:
    /// <c>y = γ·x̂ + β</c>, <c>x̂ = (x − μ) / √(σ² + ε)</c>.</summary>
    /// <remarks>
    /// <para>Training: μ and σ² are the batch mean and the <b>biased</b> batch variance (divide by M), and the running
    /// statistics move towards the batch's in place, with the <b>unbiased</b> variance (divide by M − 1), like PyTorch:
    /// <c>running_mean ← (1 − momentum)·running_mean + momentum·μ</c>,
    /// <c>running_var ← (1 − momentum)·running_var + momentum·σ²·M/(M − 1)</c>.
    /// Evaluation: μ, σ² are the running statistics, so y is a fixed per-channel affine map.</para>
    /// <para>Backward (closed form, one pass over x and dy per channel instead of the ~10 ops of a composite):
    /// <c>dβ = Σ dy</c>, <c>dγ = Σ dy·x̂</c>; training: <c>dx = (γ/σ)·(dy − mean(dy) − x̂·mean(dy·x̂))</c>, evaluation:
    /// <c>dx = (γ/σ)·dy</c> (the statistics are constants). With x̂ = (x − μ)/σ the training formula is expanded into
    /// <c>dx = k·dy + a·x + b</c> with per-channel constants, so x̂ is never stored: the op keeps only x.</para>
    /// <para>gamma/beta null means no affine part (γ = 1, β = 0). The running statistics may be null in training
    /// (statistics not tracked) but are required in evaluation.</para>
    /// </remarks>
    /// <exception cref="ArgumentException">x is not rank 2 or 4, a per-channel tensor is not [C], the batch has a single
    /// value per channel in training (variance undefined), or running statistics are missing in evaluation.</exception>
    public static Tensor BatchNorm(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum = 0.1, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2 && x.Rank != 4)
            throw new ArgumentException($"batch_norm: x {Shapes.Format(x.Shape)} must be [N,C] or [N,C,H,W].");
        CheckBatchNormArguments(x, gamma, beta, runningMean, runningVar, training);
        var function = new BatchNormFunction(gamma is not null, beta is not null, runningMean, runningVar, training, momentum, eps);
        return (gamma, beta) switch
        {
            ({ } g, { } b) => function.Apply(x, g, b),
            ({ } g, null) => function.Apply(x, g),
            (null, { } b) => function.Apply(x, b),
            _ => function.Apply(x),
        };
    }

    private static void CheckBatchNormArguments(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar, bool training)
    {
        int channels = x.Shape[1], perChannel = x.Length / channels;
        CheckPerChannel(x, gamma, "gamma");
        CheckPerChannel(x, beta, "beta");
        CheckPerChannel(x, runningMean, "running_mean");
        CheckPerChannel(x, runningVar, "running_var");
        if (training && perChannel < 2)
            throw new ArgumentException($"batch_norm: x {Shapes.Format(x.Shape)} has one value per channel; training needs at least 2 to estimate a variance.");
        if (!training && (runningMean is null || runningVar is null))
            throw new ArgumentException("batch_norm: evaluation mode needs running_mean and running_var.");
        if ((runningMean is null) != (runningVar is null))
            throw new ArgumentException("batch_norm: pass both running statistics or neither.");
    }

    /// <summary>Whether <see cref="BatchNormAddClamp"/> packs its output's sign planes (default true; off only to time
    /// or test the convolution's own packing).</summary>
    internal static bool SignPlanesInEpilogue { get; set; } = true;

    /// <summary>A Bi-Real unit's epilogue as one op: <c>y = clamp(BN(x) + s, min, max)</c> — batch normalisation of x
    /// (exactly <see cref="BatchNorm"/>, running statistics included), the residual shortcut s added, then Hardtanh.</summary>
    /// <remarks>
    /// <para>Why: in a binary ResNet every binary convolution is followed by BN, the residual add and Hardtanh, three
    /// passes over an activation that does not fit in cache (8 MB per unit at batch 128 in ResNet-20's first stage), and
    /// three more in the backward. Fused, each image plane of a channel is normalised, added to and clamped while it is
    /// in L1, and only y is written; the backward recomputes a = BN(x) + s plane by plane instead of keeping it.</para>
    /// <para>Bit for bit the composite <c>Ops.HardTanh(Ops.Add(Ops.BatchNorm(x, …), s), min, max)</c>, forward and
    /// backward: the same roundings in the same order (BN's x·scale then + shift, then + s, then the clamp's selects;
    /// in the backward the same per-plane sums in the same order), on every thread count.</para>
    /// <para>Backward: <c>dz = dy·1[min ≤ a ≤ max]</c> (Hardtanh's inclusive window), <c>ds = dz</c>, and dx, dγ, dβ
    /// are <see cref="BatchNorm"/>'s backward of dz.</para>
    /// <para>Fused for x [N,C,H,W] with H·W &gt; 1; other shapes run the composite. In float32 the fused forward also
    /// packs the signs of y plane by plane while each plane is in L1 (<see cref="Tensor.SignPlanes"/>): y is the next
    /// Bi-Real unit's input, whose binary convolution then builds its bit operand from 1/32 of y's bytes
    /// (<see cref="BitPack.ChannelsLastFromPlanes"/>) instead of reading y again.</para>
    /// </remarks>
    /// <exception cref="ArgumentException">As <see cref="BatchNorm"/>, or s is not x's shape and type.</exception>
    public static Tensor BatchNormAddClamp(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar, Tensor shortcut,
        bool training, double momentum = 0.1, double eps = 1e-5, double min = -1, double max = 1)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(shortcut);
        if (!Shapes.Equal(x.Shape, shortcut.Shape))
            throw new ArgumentException($"batch_norm_add_clamp: x {Shapes.Format(x.Shape)} and the shortcut {Shapes.Format(shortcut.Shape)} must have the same shape.");
        CheckSameDType(x, shortcut, "batch_norm_add_clamp");
        if (x.Rank != 4 || x.Length / Math.Max(1, x.Shape[0] * x.Shape[1]) <= 1)
            return HardTanh(Add(BatchNorm(x, gamma, beta, runningMean, runningVar, training, momentum, eps), shortcut), min, max);
        CheckBatchNormArguments(x, gamma, beta, runningMean, runningVar, training);
        var function = new BatchNormFunction(gamma is not null, beta is not null, runningMean, runningVar, training, momentum, eps, (min, max));
        Tensor s = shortcut; // recorded as given (a copy made here would be outside the graph); Forward materializes a view
        return (gamma, beta) switch
        {
            ({ } g, { } b) => function.Apply(x, g, b, s),
            ({ } g, null) => function.Apply(x, g, s),
            (null, { } b) => function.Apply(x, b, s),
            _ => function.Apply(x, s),
        };
    }

    /// <summary>A SiMaN-style residual unit's epilogue as one op: <c>y = PReLU(BN(x) + s)</c> with per-channel (or one
    /// shared) slopes a — batch normalisation of x (exactly <see cref="BatchNorm"/>, running statistics included), the
    /// residual shortcut s added, then <c>y = a' &gt; 0 ? a' : a_c·a'</c> on the sum a'.</summary>
    /// <remarks>
    /// <para>Why: as <see cref="BatchNormAddClamp"/>, three passes over an activation that does not fit in cache become
    /// one per direction; the backward recomputes a' = BN(x) + s plane by plane instead of keeping it.</para>
    /// <para>Bit for bit the composite <c>Ops.PRelu(Ops.Add(Ops.BatchNorm(x, …), s), a)</c>, forward and backward:
    /// the same roundings in the same order, and the same per-plane slope-gradient shares added in the same order.</para>
    /// <para>Backward: <c>dz = dy·(a' &gt; 0 ? 1 : a_c)</c>, <c>ds = dz</c>, <c>da_c = Σ_{a' ≤ 0} dy·a'</c>, and dx, dγ,
    /// dβ are <see cref="BatchNorm"/>'s backward of dz.</para>
    /// <para>Fused for x [N,C,H,W] with H·W &gt; 1; other shapes run the composite.</para>
    /// </remarks>
    /// <exception cref="ArgumentException">As <see cref="BatchNorm"/> and <see cref="PRelu"/>, or s is not x's shape and type.</exception>
    public static Tensor BatchNormAddPRelu(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar, Tensor shortcut,
        Tensor slopes, bool training, double momentum = 0.1, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(shortcut);
        ArgumentNullException.ThrowIfNull(slopes);
        if (!Shapes.Equal(x.Shape, shortcut.Shape))
            throw new ArgumentException($"batch_norm_add_prelu: x {Shapes.Format(x.Shape)} and the shortcut {Shapes.Format(shortcut.Shape)} must have the same shape.");
        CheckSameDType(x, shortcut, "batch_norm_add_prelu");
        if (x.Rank != 4 || x.Length / Math.Max(1, x.Shape[0] * x.Shape[1]) <= 1)
            return PRelu(Add(BatchNorm(x, gamma, beta, runningMean, runningVar, training, momentum, eps), shortcut), slopes);
        if (slopes.Rank != 1 || (slopes.Shape[0] != 1 && slopes.Shape[0] != x.Shape[1]))
            throw new ArgumentException($"batch_norm_add_prelu: slopes {Shapes.Format(slopes.Shape)} must be [1] or [{x.Shape[1]}] for x {Shapes.Format(x.Shape)}.");
        CheckSameDType(x, slopes, "batch_norm_add_prelu");
        CheckBatchNormArguments(x, gamma, beta, runningMean, runningVar, training);
        var function = new BatchNormFunction(gamma is not null, beta is not null, runningMean, runningVar, training, momentum, eps, prelu: true);
        return (gamma, beta) switch
        {
            ({ } g, { } b) => function.Apply(x, g, b, shortcut, slopes),
            ({ } g, null) => function.Apply(x, g, shortcut, slopes),
            (null, { } b) => function.Apply(x, b, shortcut, slopes),
            _ => function.Apply(x, shortcut, slopes),
        };
    }

    private static void CheckPerChannel(Tensor x, Tensor? t, string what)
    {
        if (t is null) return;
        int channels = x.Shape[1];
        if (t.Rank != 1 || t.Shape[0] != channels)
            throw new ArgumentException($"batch_norm: {what} {Shapes.Format(t.Shape)} must be [{channels}] for x {Shapes.Format(x.Shape)}.");
        CheckSameDType(x, t, "batch_norm");
    }

    /// <summary>Batch norm, or with <paramref name="clamp"/> the fused <see cref="BatchNormAddClamp"/> (one more input,
    /// the shortcut s, last; planes only), or with <paramref name="prelu"/> the fused <see cref="BatchNormAddPRelu"/>
    /// (two more inputs, the shortcut s and the slopes, last; planes only).</summary>
    private sealed class BatchNormFunction(bool hasGamma, bool hasBeta, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum, double eps, (double Min, double Max)? clamp = null, bool prelu = false) : Function
    {
        private Tensor? _x, _gamma, _beta, _shortcut, _output, _slopes;
        // the fused op's count of a = BN(x) + s exactly on the clamp's bounds (see ClampGradients)
        private long _onBounds;
        // Per-channel μ and 1/σ, kept for the backward: private to this node, so they come from the shared array pool
        // (only the first C elements are used) and go back in ReleaseSaved, after the backward or at once when the call
        // is not recorded.
        private double[] _mean = [], _invStd = [];
        public override string Name => prelu ? "batch_norm_add_prelu" : clamp is null ? "batch_norm" : "batch_norm_add_clamp";
        internal override bool DropsGradOutput => true;

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor x = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
            Tensor? gamma = hasGamma ? inputs[1] : null, beta = hasBeta ? inputs[hasGamma ? 2 : 1] : null;
            Tensor? shortcut = prelu ? inputs[^2] : clamp is null ? null : inputs[^1];
            (_x, _gamma, _beta, _shortcut) = (x, gamma, beta, shortcut is null || shortcut.IsContiguous ? shortcut : shortcut.MaterializeRaw());
            _slopes = prelu ? (inputs[^1].IsContiguous ? inputs[^1] : inputs[^1].MaterializeRaw()) : null;
            _onBounds = 0;
            Tensor y = Tensor.Uninitialized(x.Shape, x.DType);
            bool planes = x.Rank == 4 && x.Length / (x.Shape[0] * x.Shape[1]) > 1;
            if (x.DType == DType.Float32)
            {
                if (planes) NormalizePlanes<float>(x, gamma, beta, y); else Normalize<float>(x, gamma, beta, y);
            }
            else if (planes) NormalizePlanes<double>(x, gamma, beta, y);
            else Normalize<double>(x, gamma, beta, y);
            if (clamp is not null) _output = y;
            return y;
        }

        /// <summary><see cref="Normalize{T}"/> for [N,C,H,W] with planes of more than one element, one channel at a time
        /// and channels split across <see cref="KernelThreads"/>: a channel's statistics, running-statistics update and
        /// output depend on that channel only, and each is computed by one thread with the same operations in the same
        /// order (sums over the images in ascending order) as the serial loop, so results are identical for every thread
        /// count; a channel's N planes also stay in cache between the three passes instead of streaming x three times.</summary>
        private void NormalizePlanes<T>(Tensor x, Tensor? gamma, Tensor? beta, Tensor y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            int n = x.Shape[0], c = x.Shape[1], plane = x.Length / (n * c), count = n * plane;
            RentStatistics(c);
            // the fused unit's output feeds the next unit's binary convolution: its sign planes are packed here, in the
            // pass that writes y, so the convolution need not read the float output again (Tensor.SignPlanes)
            int planeWords = BitPack.WordsPerPlane(plane);
            Tensor? signs = clamp is not null && typeof(T) == typeof(float) && SignPlanesInEpilogue ? Tensor.Uninitialized([n * c * planeWords], DType.Float64) : null;
            KernelThreads.For(c, 1, (first, end) =>
            {
                ReadOnlySpan<T> xs = x.AsSpan<T>();
                Span<T> ys = y.AsSpan<T>();
                Span<ulong> signWords = signs is null ? default : MemoryMarshal.Cast<double, ulong>(signs.AsSpan<double>());
                ReadOnlySpan<T> gs = gamma is null ? default : gamma.AsContiguousSpan<T>(), bs = beta is null ? default : beta.AsContiguousSpan<T>();
                ReadOnlySpan<T> slopeValues = prelu ? _slopes!.AsSpan<T>() : default;
                T[] centeredArray = training ? ScratchPool<T>.ThisThread.Rent(plane) : [];
                Span<T> centered = training ? centeredArray.AsSpan(0, plane) : default;
                long onBounds = 0;
                for (int ch = first; ch < end; ch++)
                {
                    if (training)
                    {
                        T sum = T.Zero;
                        for (int i = 0; i < n; i++) sum += TensorPrimitives.Sum(xs.Slice((i * c + ch) * plane, plane));
                        T mean = sum / T.CreateChecked(count);
                        // Two passes (sum, then squared deviations) so the variance does not cancel catastrophically when |μ| ≫ σ.
                        T variance = T.Zero;
                        for (int i = 0; i < n; i++)
                        {
                            TensorPrimitives.Subtract(xs.Slice((i * c + ch) * plane, plane), mean, centered);
                            variance += TensorPrimitives.SumOfSquares<T>(centered);
                        }
                        double m = double.CreateChecked(mean), sumSquares = double.CreateChecked(variance);
                        _mean[ch] = m;
                        _invStd[ch] = 1 / Math.Sqrt(sumSquares / count + eps);
                        if (runningMean is not null)
                        {
                            Span<T> rm = runningMean.AsSpan<T>(), rv = runningVar!.AsSpan<T>();
                            rm[ch] = T.CreateChecked((1 - momentum) * double.CreateChecked(rm[ch]) + momentum * m);
                            rv[ch] = T.CreateChecked((1 - momentum) * double.CreateChecked(rv[ch]) + momentum * sumSquares / (count - 1));
                        }
                    }
                    else
                    {
                        _mean[ch] = double.CreateChecked(runningMean!.AsContiguousSpan<T>()[ch]);
                        _invStd[ch] = 1 / Math.Sqrt(double.CreateChecked(runningVar!.AsContiguousSpan<T>()[ch]) + eps);
                    }
                    (T scale, T shift) = ScaleShift(gs, bs, ch);
                    for (int i = 0; i < n; i++)
                    {
                        int at = (i * c + ch) * plane;
                        Span<T> yPlane = ys.Slice(at, plane);
                        if (prelu)
                        {
                            // the fused op's epilogue in one pass: y = PReLU((x·scale + shift) + shortcut), same roundings
                            ReadOnlySpan<T> shortcut = _shortcut!.AsSpan<T>().Slice(at, plane), xPlane = xs.Slice(at, plane);
                            T slope = slopeValues[slopeValues.Length == 1 ? 0 : ch];
                            int done = ActivationKernels.ScaleShiftAddPRelu(xPlane, scale, shift, shortcut, yPlane, slope);
                            ActivationKernels.ScaleShiftAddPReluScalar(xPlane, scale, shift, shortcut, yPlane, slope, done);
                            continue;
                        }
                        if (clamp is { } window)
                        {
                            // the fused op's epilogue in one pass: y = clamp((x·scale + shift) + shortcut), same roundings
                            ReadOnlySpan<T> shortcut = _shortcut!.AsSpan<T>().Slice(at, plane);
                            T lo = T.CreateTruncating(window.Min), hi = T.CreateTruncating(window.Max);
                            if (!signWords.IsEmpty) // float32: the signs of y packed in the same pass
                            {
                                ActivationKernels.ScaleShiftAddClampSigns(MemoryMarshal.Cast<T, float>(xs.Slice(at, plane)), float.CreateTruncating(scale),
                                    float.CreateTruncating(shift), MemoryMarshal.Cast<T, float>(shortcut), MemoryMarshal.Cast<T, float>(yPlane),
                                    float.CreateTruncating(lo), float.CreateTruncating(hi), ref onBounds, signWords.Slice((i * c + ch) * planeWords, planeWords));
                                continue;
                            }
                            int done = ActivationKernels.ScaleShiftAddClamp(xs.Slice(at, plane), scale, shift, shortcut, yPlane, lo, hi, ref onBounds);
                            ActivationKernels.ScaleShiftAddClampScalar(xs.Slice(at, plane), scale, shift, shortcut, yPlane, lo, hi, ref onBounds, done);
                            continue;
                        }
                        TensorPrimitives.Multiply(xs.Slice(at, plane), scale, yPlane);
                        TensorPrimitives.Add(yPlane, shift, yPlane);
                    }
                }
                if (training) ScratchPool<T>.ThisThread.Return(centeredArray);
                if (onBounds != 0) Interlocked.Add(ref _onBounds, onBounds);
            });
            y.SignPlanes = signs;
        }

        /// <summary>Computes μ and 1/σ per channel (batch or running), updates the running statistics in training,
        /// and writes y = x·scale + shift with scale = γ/σ, shift = β − μ·scale.</summary>
        private void Normalize<T>(Tensor x, Tensor? gamma, Tensor? beta, Tensor y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            int n = x.Shape[0], c = x.Shape[1], plane = x.Length / (n * c), count = n * plane;
            ReadOnlySpan<T> xs = x.AsSpan<T>();
            Span<T> ys = y.AsSpan<T>();
            RentStatistics(c);
            using var scratch = new Scratch<T>(c, c, plane == 1 ? c : plane, c, c);
            Span<T> mean = scratch[0], variance = scratch[1], centered = scratch[2], scale = scratch[3], shift = scratch[4];
            if (training)
            {
                ChannelSums(xs, n, c, plane, mean);
                TensorPrimitives.Divide(mean, T.CreateChecked(count), mean);
                // Two passes (sum, then squared deviations) so the variance does not cancel catastrophically when |μ| ≫ σ.
                for (int i = 0; i < n; i++)
                {
                    if (plane == 1)
                    {
                        TensorPrimitives.Subtract(xs.Slice(i * c, c), mean, centered);
                        TensorPrimitives.MultiplyAdd(centered, centered, variance, variance);
                    }
                    else
                        for (int ch = 0; ch < c; ch++)
                        {
                            TensorPrimitives.Subtract(xs.Slice((i * c + ch) * plane, plane), mean[ch], centered);
                            variance[ch] += TensorPrimitives.SumOfSquares<T>(centered);
                        }
                }
                for (int ch = 0; ch < c; ch++)
                {
                    double m = double.CreateChecked(mean[ch]), sumSquares = double.CreateChecked(variance[ch]);
                    _mean[ch] = m;
                    _invStd[ch] = 1 / Math.Sqrt(sumSquares / count + eps);
                    if (runningMean is not null)
                    {
                        Span<T> rm = runningMean.AsSpan<T>(), rv = runningVar!.AsSpan<T>();
                        rm[ch] = T.CreateChecked((1 - momentum) * double.CreateChecked(rm[ch]) + momentum * m);
                        rv[ch] = T.CreateChecked((1 - momentum) * double.CreateChecked(rv[ch]) + momentum * sumSquares / (count - 1));
                    }
                }
            }
            else
            {
                ReadOnlySpan<T> rm = runningMean!.AsContiguousSpan<T>(), rv = runningVar!.AsContiguousSpan<T>();
                for (int ch = 0; ch < c; ch++)
                {
                    _mean[ch] = double.CreateChecked(rm[ch]);
                    _invStd[ch] = 1 / Math.Sqrt(double.CreateChecked(rv[ch]) + eps);
                }
            }
            ReadOnlySpan<T> gs = gamma is null ? default : gamma.AsContiguousSpan<T>(), bs = beta is null ? default : beta.AsContiguousSpan<T>();
            for (int ch = 0; ch < c; ch++)
            {
                double s = (gamma is null ? 1 : double.CreateChecked(gs[ch])) * _invStd[ch];
                scale[ch] = T.CreateChecked(s);
                shift[ch] = T.CreateChecked((beta is null ? 0 : double.CreateChecked(bs[ch])) - _mean[ch] * s);
            }
            for (int i = 0; i < n; i++)
            {
                if (plane == 1) TensorPrimitives.FusedMultiplyAdd(xs.Slice(i * c, c), scale, shift, ys.Slice(i * c, c));
                else
                    for (int ch = 0; ch < c; ch++)
                    {
                        Span<T> yPlane = ys.Slice((i * c + ch) * plane, plane);
                        TensorPrimitives.Multiply(xs.Slice((i * c + ch) * plane, plane), scale[ch], yPlane);
                        TensorPrimitives.Add(yPlane, shift[ch], yPlane);
                    }
            }
        }

        /// <summary>The channel's y = x·scale + shift coefficients, scale = γ/σ, shift = β − μ·scale, rounded to T once:
        /// the forward's and (for the fused op, which recomputes a) the backward's.</summary>
        private (T Scale, T Shift) ScaleShift<T>(ReadOnlySpan<T> gammaValues, ReadOnlySpan<T> betaValues, int ch) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            double s = (gammaValues.IsEmpty ? 1 : double.CreateChecked(gammaValues[ch])) * _invStd[ch];
            return (T.CreateChecked(s), T.CreateChecked((betaValues.IsEmpty ? 0 : double.CreateChecked(betaValues[ch])) - _mean[ch] * s));
        }

        /// <summary>sums[c] = Σ over the channel's elements of <paramref name="values"/> (x laid out [N,C,plane]).</summary>
        private static void ChannelSums<T>(ReadOnlySpan<T> values, int n, int c, int plane, Span<T> sums) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            for (int i = 0; i < n; i++)
            {
                if (plane == 1) TensorPrimitives.Add(sums, values.Slice(i * c, c), sums);
                else for (int ch = 0; ch < c; ch++) sums[ch] += TensorPrimitives.Sum(values.Slice((i * c + ch) * plane, plane));
            }
        }

        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor x = _x!;
            Tensor g = dy.IsContiguous ? dy : dy.MaterializeRaw();
            Tensor? dx = NeedsGrad(0) ? Tensor.RentGradient(x.Shape, x.DType, clear: false) : null; // fully written
            int channels = x.Shape[1];
            Tensor? dGamma = hasGamma && NeedsGrad(1) ? Tensor.Empty([channels], x.DType) : null;
            Tensor? dBeta = hasBeta && NeedsGrad(hasGamma ? 2 : 1) ? Tensor.Empty([channels], x.DType) : null;
            bool planes = x.Rank == 4 && x.Length / (x.Shape[0] * channels) > 1;
            // the fused op's dz = dy·1[min ≤ a ≤ max] is the shortcut's gradient too, so it is written in full; when the
            // shortcut needs none it is scratch of the step (a rented gradient nobody takes would never go back)
            int shortcutIndex = 1 + (hasGamma ? 1 : 0) + (hasBeta ? 1 : 0);
            Tensor? dz = clamp is null && !prelu ? null
                : NeedsGrad(shortcutIndex) ? Tensor.RentGradient(x.Shape, x.DType, clear: false) : Tensor.Uninitialized(x.Shape, x.DType);
            Tensor? dSlopes = prelu && NeedsGrad(shortcutIndex + 1) ? Tensor.Empty(_slopes!.Shape, x.DType) : null;
            if (dz is not null)
            {
                if (prelu)
                {
                    if (x.DType == DType.Float32) PReluGradients<float>(x, g, dz, dSlopes); else PReluGradients<double>(x, g, dz, dSlopes);
                }
                else if (x.DType == DType.Float32) ClampGradients<float>(x, g, dz);
                else ClampGradients<double>(x, g, dz);
                g = dz;
            }
            if (x.DType == DType.Float32)
            {
                if (planes) GradientsPlanes<float>(x, g, dx, dGamma, dBeta); else Gradients<float>(x, g, dx, dGamma, dBeta);
            }
            else if (planes) GradientsPlanes<double>(x, g, dx, dGamma, dBeta);
            else Gradients<double>(x, g, dx, dGamma, dBeta);
            Tensor?[] grads = (hasGamma, hasBeta) switch
            {
                (true, true) => [dx, dGamma, dBeta],
                (true, false) => [dx, dGamma],
                (false, true) => [dx, dBeta],
                _ => [dx],
            };
            if (prelu) return [.. grads, NeedsGrad(shortcutIndex) ? dz : null, dSlopes];
            return dz is null ? grads : [.. grads, NeedsGrad(shortcutIndex) ? dz : null];
        }

        private void Gradients<T>(Tensor x, Tensor dy, Tensor? dx, Tensor? dGamma, Tensor? dBeta) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            int n = x.Shape[0], c = x.Shape[1], plane = x.Length / (n * c), count = n * plane;
            ReadOnlySpan<T> xs = x.AsSpan<T>(), gs = dy.AsSpan<T>();
            using var scratch = new Scratch<T>(c, c, c, plane == 1 ? c : plane, c, c, c);
            Span<T> mean = scratch[0], sumDy = scratch[1], sumDyCentered = scratch[2], centered = scratch[3], k = scratch[4], a = scratch[5], b = scratch[6];
            for (int ch = 0; ch < c; ch++) mean[ch] = T.CreateChecked(_mean[ch]);
            ChannelSums(gs, n, c, plane, sumDy);
            // Σ dy·(x − μ), on centred values rather than Σ dy·x − μ·Σ dy, which cancels when |μ| ≫ σ.
            for (int i = 0; i < n; i++)
            {
                if (plane == 1)
                {
                    TensorPrimitives.Subtract(xs.Slice(i * c, c), mean, centered);
                    TensorPrimitives.MultiplyAdd(centered, gs.Slice(i * c, c), sumDyCentered, sumDyCentered);
                }
                else
                    for (int ch = 0; ch < c; ch++)
                    {
                        int at = (i * c + ch) * plane;
                        TensorPrimitives.Subtract(xs.Slice(at, plane), mean[ch], centered);
                        sumDyCentered[ch] += TensorPrimitives.Dot<T>(centered, gs.Slice(at, plane));
                    }
            }
            if (dBeta is not null) sumDy.CopyTo(dBeta.AsSpan<T>());
            if (dGamma is not null)
            {
                Span<T> dg = dGamma.AsSpan<T>();
                for (int ch = 0; ch < c; ch++) dg[ch] = T.CreateChecked(double.CreateChecked(sumDyCentered[ch]) * _invStd[ch]);
            }
            if (dx is null) return;
            // dx = k·dy + a·x + b per channel: k = γ/σ; in training a = −k·Σ(dy·x̂)/(M·σ) and b = −k·mean(dy) − a·μ,
            // which is (γ/σ)(dy − mean(dy) − x̂·mean(dy·x̂)) expanded; in evaluation a = b = 0.
            ReadOnlySpan<T> gammaValues = _gamma is null ? default : _gamma.AsContiguousSpan<T>();
            for (int ch = 0; ch < c; ch++)
            {
                double kc = (_gamma is null ? 1 : double.CreateChecked(gammaValues[ch])) * _invStd[ch];
                k[ch] = T.CreateChecked(kc);
                if (!training) continue;
                double ac = -kc * _invStd[ch] * _invStd[ch] * double.CreateChecked(sumDyCentered[ch]) / count;
                a[ch] = T.CreateChecked(ac);
                b[ch] = T.CreateChecked(-kc * double.CreateChecked(sumDy[ch]) / count - ac * _mean[ch]);
            }
            Span<T> dxs = dx.AsSpan<T>();
            for (int i = 0; i < n; i++)
            {
                if (plane == 1)
                {
                    Span<T> row = dxs.Slice(i * c, c);
                    TensorPrimitives.FusedMultiplyAdd(gs.Slice(i * c, c), k, b, row);
                    if (training) TensorPrimitives.FusedMultiplyAdd(xs.Slice(i * c, c), a, row, row);
                }
                else
                    for (int ch = 0; ch < c; ch++)
                    {
                        int at = (i * c + ch) * plane;
                        Span<T> dPlane = dxs.Slice(at, plane);
                        TensorPrimitives.Multiply(gs.Slice(at, plane), k[ch], dPlane);
                        if (!training) continue;
                        TensorPrimitives.MultiplyAdd(xs.Slice(at, plane), a[ch], dPlane, dPlane);
                        TensorPrimitives.Add(dPlane, b[ch], dPlane);
                    }
            }
        }

        /// <summary><see cref="Gradients{T}"/> for planes of more than one element, one channel at a time on
        /// <see cref="KernelThreads"/> (same operations and order per channel as the serial loop; see
        /// <see cref="NormalizePlanes{T}"/>).</summary>
        private void GradientsPlanes<T>(Tensor x, Tensor dy, Tensor? dx, Tensor? dGamma, Tensor? dBeta) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            int n = x.Shape[0], c = x.Shape[1], plane = x.Length / (n * c), count = n * plane;
            Tensor? gamma = _gamma;
            KernelThreads.For(c, 1, (first, end) =>
            {
                ReadOnlySpan<T> xs = x.AsSpan<T>(), gs = dy.AsSpan<T>();
                ReadOnlySpan<T> gammaValues = gamma is null ? default : gamma.AsContiguousSpan<T>();
                T[] centeredArray = ScratchPool<T>.ThisThread.Rent(plane);
                Span<T> centered = centeredArray.AsSpan(0, plane);
                for (int ch = first; ch < end; ch++)
                {
                    T mean = T.CreateChecked(_mean[ch]), sumDy = T.Zero, sumDyCentered = T.Zero;
                    // Σ dy·(x − μ), on centred values rather than Σ dy·x − μ·Σ dy, which cancels when |μ| ≫ σ; both sums
                    // plane by plane in image order.
                    for (int i = 0; i < n; i++)
                    {
                        int at = (i * c + ch) * plane;
                        sumDy += TensorPrimitives.Sum(gs.Slice(at, plane));
                        TensorPrimitives.Subtract(xs.Slice(at, plane), mean, centered);
                        sumDyCentered += TensorPrimitives.Dot<T>(centered, gs.Slice(at, plane));
                    }
                    if (dBeta is not null) dBeta.AsSpan<T>()[ch] = sumDy;
                    if (dGamma is not null) dGamma.AsSpan<T>()[ch] = T.CreateChecked(double.CreateChecked(sumDyCentered) * _invStd[ch]);
                    if (dx is null) continue;
                    // dx = k·dy + a·x + b, as in Gradients.
                    double kc = (gamma is null ? 1 : double.CreateChecked(gammaValues[ch])) * _invStd[ch];
                    T k = T.CreateChecked(kc), a = T.Zero, b = T.Zero;
                    if (training)
                    {
                        double ac = -kc * _invStd[ch] * _invStd[ch] * double.CreateChecked(sumDyCentered) / count;
                        a = T.CreateChecked(ac);
                        b = T.CreateChecked(-kc * double.CreateChecked(sumDy) / count - ac * _mean[ch]);
                    }
                    Span<T> dxs = dx.AsSpan<T>();
                    for (int i = 0; i < n; i++)
                    {
                        int at = (i * c + ch) * plane;
                        Span<T> dPlane = dxs.Slice(at, plane);
                        if (!training)
                        {
                            TensorPrimitives.Multiply(gs.Slice(at, plane), k, dPlane);
                            continue;
                        }
                        int done = ActivationKernels.BatchNormInputGradient(gs.Slice(at, plane), xs.Slice(at, plane), k, a, b, dPlane);
                        ActivationKernels.BatchNormInputGradientScalar(gs.Slice(at, plane), xs.Slice(at, plane), k, a, b, dPlane, done);
                    }
                }
                ScratchPool<T>.ThisThread.Return(centeredArray);
            });
        }

        /// <summary>The fused op's dz = dy·1[min ≤ a ≤ max] without keeping a = BN(x) + s: where no a fell exactly on
        /// a bound (the forward counts them), a is inside the window exactly where the output y = clamp(a) is strictly
        /// inside it (a NaN is outside both ways), so dz = dy·1[min &lt; y &lt; max] from y, which lives on as the next
        /// layer's input anyway — one 8 MB write per ResNet-20 unit fewer than keeping a. Otherwise a is recomputed
        /// plane by plane from x and s with the forward's operations. Spread over the kernel threads; the batch-norm
        /// backward then runs on dz, which is also the shortcut's gradient.</summary>
        private void ClampGradients<T>(Tensor x, Tensor dy, Tensor dz) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T lo = T.CreateTruncating(clamp!.Value.Min), hi = T.CreateTruncating(clamp.Value.Max);
            if (_onBounds == 0)
            {
                Tensor y = _output!;
                KernelThreads.For(y.Length, 1 << 14, (first, end) =>
                {
                    ReadOnlySpan<T> yv = y.AsSpan<T>()[first..end], g = dy.AsSpan<T>()[first..end];
                    Span<T> d = dz.AsSpan<T>()[first..end];
                    for (int j = ActivationKernels.ClampBackward(yv, g, d, lo, hi, inclusive: false); j < d.Length; j++) d[j] = yv[j] > lo && yv[j] < hi ? g[j] : T.Zero;
                });
                return;
            }
            int c = x.Shape[1], planes = x.Shape[0] * c, plane = x.Length / planes;
            Tensor? gamma = _gamma, beta = _beta, shortcut = _shortcut;
            KernelThreads.For(planes, Math.Max(1, (1 << 14) / plane), (first, end) =>
            {
                T[] scratch = ScratchPool<T>.ThisThread.Rent(plane);
                Span<T> a = scratch.AsSpan(0, plane);
                ReadOnlySpan<T> gammaValues = gamma is null ? default : gamma.AsContiguousSpan<T>(), betaValues = beta is null ? default : beta.AsContiguousSpan<T>();
                for (int p = first; p < end; p++)
                {
                    int at = p * plane;
                    (T scale, T shift) = ScaleShift(gammaValues, betaValues, p % c);
                    TensorPrimitives.Multiply(x.AsSpan<T>().Slice(at, plane), scale, a);
                    TensorPrimitives.Add(a, shift, a);
                    TensorPrimitives.Add(a, shortcut!.AsSpan<T>().Slice(at, plane), a);
                    ReadOnlySpan<T> g = dy.AsSpan<T>().Slice(at, plane);
                    Span<T> d = dz.AsSpan<T>().Slice(at, plane);
                    for (int j = ActivationKernels.ClampBackward<T>(a, g, d, lo, hi); j < plane; j++) d[j] = a[j] >= lo && a[j] <= hi ? g[j] : T.Zero;
                }
                ScratchPool<T>.ThisThread.Return(scratch);
            });
        }

        /// <summary>The fused PReLU op's dz = dy·(a' &gt; 0 ? 1 : a_c) and, when wanted, the slopes' gradient: a' = BN(x) + s
        /// recomputed in registers with the forward's roundings (<see cref="ActivationKernels.ScaleShiftAddPReluBackward{T}"/>,
        /// which gives <see cref="ActivationKernels.PReluBackward{T}"/>'s dz and share of that a'), and the shares added as
        /// <see cref="PRelu"/>'s backward adds them. Spread over the kernel threads; the batch-norm backward then runs on
        /// dz, which is also the shortcut's gradient.</summary>
        private void PReluGradients<T>(Tensor x, Tensor dy, Tensor dz, Tensor? dSlopes) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            int c = x.Shape[1], planes = x.Shape[0] * c, plane = x.Length / planes;
            Tensor? gamma = _gamma, beta = _beta;
            Tensor shortcut = _shortcut!, slopes = _slopes!;
            double[] shares = ScratchPool<double>.ThisThread.Rent(planes);
            KernelThreads.For(planes, Math.Max(1, (1 << 14) / plane), (first, end) =>
            {
                ReadOnlySpan<T> gammaValues = gamma is null ? default : gamma.AsContiguousSpan<T>(), betaValues = beta is null ? default : beta.AsContiguousSpan<T>();
                ReadOnlySpan<T> slopeValues = slopes.AsSpan<T>();
                for (int p = first; p < end; p++)
                {
                    int at = p * plane, ch = p % c;
                    (T scale, T shift) = ScaleShift(gammaValues, betaValues, ch);
                    shares[p] = ActivationKernels.ScaleShiftAddPReluBackward<T>(x.AsSpan<T>().Slice(at, plane), scale, shift, shortcut.AsSpan<T>().Slice(at, plane),
                        dy.AsSpan<T>().Slice(at, plane), dz.AsSpan<T>().Slice(at, plane), slopeValues[slopeValues.Length == 1 ? 0 : ch]);
                }
            });
            if (dSlopes is not null) AddSlopeShares<T>(shares, planes, c, dSlopes.AsSpan<T>());
            ScratchPool<double>.ThisThread.Return(shares);
        }

        /// <summary>Takes <see cref="_mean"/> and <see cref="_invStd"/> (C elements each) from the shared array pool.</summary>
        private void RentStatistics(int channels)
        {
            _mean = ScratchPool<double>.ThisThread.Rent(channels);
            _invStd = ScratchPool<double>.ThisThread.Rent(channels);
        }

        protected override void ReleaseSaved()
        {
            (_x, _gamma, _beta, _shortcut, _output, _slopes) = (null, null, null, null, null, null);
            if (_mean.Length > 0) ScratchPool<double>.ThisThread.Return(_mean);
            if (_invStd.Length > 0) ScratchPool<double>.ThisThread.Return(_invStd);
            (_mean, _invStd) = ([], []);
        }
    }
}
