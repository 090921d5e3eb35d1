using System.Numerics;
using BinaryGrad.Kernels;

namespace BinaryGrad.Binarization;

/// <summary>Activation sign after per-sample standardisation, with the ApproxSign surrogate (SiMaN, BiPer).</summary>
/// <remarks>
/// Training forward: per sample (axis 0; all other axes form the group of n elements) a0 = (a − c·mean(a))/sqrt(Var(a) + 1e-5)
/// (Var unbiased; c = 1 for SiMaN, c = 0 for BiPer), y = sign(a0). The positive scale never changes the sign, and with
/// c = 0 neither does anything else, so the forward equals sign(a) (BiPer skips the normalisation at test time; SiMaN
/// keeps it, so its test-time output is sign(a − mean)). Backward: the surrogate dz = dy·(2 − 2|a0|)₊ followed by the
/// exact derivative of the standardisation (the reference code lets autograd differentiate it), i.e. dx is the exact
/// gradient of Σ dy·F(a0(a)) with F the ApproxSign quadratic. Effect: the surrogate window adapts to each sample's spread.
/// Scalar view: a single already-standardised value — Forward = sign, Derivative = ApproxSign'.
/// Provenance: verified-code (lmbxmu/SiMaN and edmav4/BiPer binarized_modules.py). Papers: Vargas et al. 2024, arXiv:2404.01278; Lin et al. 2022, arXiv:2102.07981. See docs/schemes/straight-through.md.
/// </remarks>
public sealed partial class StandardizedSign(bool center) : Quantizer
{
    /// <summary>Subtract the per-sample mean (SiMaN) or only divide by the standard deviation (BiPer).</summary>
    public bool Center { get; } = center;

    /// <inheritdoc/>
    public override string Name => Center ? "standardized_sign" : "scaled_approx_sign";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Activation;
    /// <inheritdoc/>
    public override bool IsHardSign => true;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    /// <summary>True: both passes write every element (the scalar loops finish what the vector loops leave).</summary>
    protected internal override bool WritesEveryElement => true;

    /// <summary>sign(x).</summary>
    public override double Forward(double x) => BinaryMath.Sign(x);

    /// <summary>(2 − 2|x|)·1[|x| ≤ 1].</summary>
    public override double Derivative(double x) => BinaryMath.ApproxSignDerivative(x);

    /// <summary>The per-sample statistics: z is recomputed from them and x in the backward
    /// (<see cref="Standardization.Z"/>, bit for bit the forward's), so no float64 copy of the activation is kept — a
    /// CIFAR ResNet-20 batch would need 32 MB per layer, allocated and collected every step.</summary>
    private sealed record Saved((double Mean, double Scale)[] Stats);

    /// <summary>y = sign(z), the samples spread over the kernel threads.</summary>
    protected override unsafe object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        if (!(Training || Center))
        {
            for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(BinaryMath.Sign(Num.D(x[i])));
            return null;
        }
        int groups = shape.Length >= 2 && shape[0] > 0 ? shape[0] : 1;
        return new Saved(Signs(x, groups, y));
    }

    /// <summary>ε of the standardisation (the reference code's 1e-5).</summary>
    private const double Epsilon = 1e-5;

    /// <summary>y = sign(z) over <paramref name="groups"/> samples; returns their statistics.</summary>
    private unsafe (double Mean, double Scale)[] Signs<T>(ReadOnlySpan<T> x, int groups, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = x.Length / groups;
        var stats = Standardization.Statistics(x, groups, Epsilon);
        fixed (T* px = x, py = y)
            KernelThreads.For(groups, Standardization.GroupGrain(n), new SignBody<T>(px, py, n, stats, Center));
        return stats;
    }

    /// <summary>The test-time forward of the centred quantizer (SiMaN) on float32 values: y = ±1, the sign of each
    /// value less the mean of its own image (<paramref name="images"/> contiguous runs of <paramref name="x"/>) —
    /// the very loops <see cref="Quantizer.Apply"/> runs in evaluation mode, so an inference model that calls this
    /// reproduces the framework's evaluation bit for bit.</summary>
    /// <exception cref="InvalidOperationException">The quantizer does not centre (BiPer's is sign(x) at test time).</exception>
    /// <exception cref="ArgumentException">The lengths do not match, or <paramref name="x"/> is not whole images.</exception>
    public void CenteredSigns(ReadOnlySpan<float> x, int images, Span<float> y)
    {
        if (!Center) throw new InvalidOperationException($"{Name}: only the centring quantizer (SiMaN) has per-image signs at test time.");
        if (images <= 0 || x.Length % images != 0 || y.Length != x.Length)
            throw new ArgumentException($"{Name}: {x.Length} values (output {y.Length}) are not {images} whole images.");
        Signs(x, images, y);
    }

    private readonly unsafe struct SignBody<T>(T* x, T* y, int n, (double Mean, double Scale)[] stats, bool center) : KernelThreads.IRangeBody
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public void Run(int start, int end)
        {
            for (int g = start; g < end; g++)
            {
                long first = (long)g * n, stop = first + n;
                // the float32 vector loop does what it can (see SignVector), the scalar loop the rest
                long i = first + (typeof(T) == typeof(float) ? SignVector((float*)x + first, (float*)y + first, n, stats[g], center) : 0);
                for (; i < stop; i++)
                    y[i] = Num.R<T>(Standardization.SignOfZ(Num.D(x[i]), stats[g].Mean, stats[g].Scale, center));
            }
        }
    }

    /// <summary>The surrogate on z, then the exact standardisation backward (the scalar pair when not standardised):
    /// per sample, Σdz and Σdz·z in one pass, which also keeps dz = dy·(2 − 2|z|)₊ (float64, one sample's worth
    /// of the thread's scratch, in L2), and dv in a second pass from the kept dz.</summary>
    protected override unsafe void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        if (saved is not Saved s)
        {
            for (int i = 0; i < x.Length; i++) dx[i] = Num.R<T>(Num.D(dy[i]) * BinaryMath.ApproxSignDerivative(Num.D(x[i])));
            return;
        }
        int groups = s.Stats.Length, n = x.Length / groups;
        fixed (T* px = x, pdy = dy, pdx = dx)
            KernelThreads.For(groups, Standardization.GroupGrain(n), new BackwardBody<T>(px, pdy, pdx, n, s.Stats, Center));
    }

    private readonly unsafe struct BackwardBody<T>(T* x, T* dy, T* dx, int n, (double Mean, double Scale)[] stats, bool center) : KernelThreads.IRangeBody
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        /// <summary>Element i's dz = dy·(2 − 2|z|)₊ and its term for Σdz·z. Where |d| &gt; s, |z| ≥ 1 (z = ±1 after
        /// rounding, or beyond) and the surrogate is 0: dz = dy·0 and the term dz·d, which has the sign (or NaN) of
        /// dz·z, so the sums come out exactly as with z, without the division.</summary>
        private (double Dz, double Term) Surrogate(long i, (double Mean, double Scale) group)
        {
            double d = Num.D(x[i]) - (center ? group.Mean : 0);
            if (Math.Abs(d) > group.Scale)
            {
                double zero = Num.D(dy[i]) * 0.0;
                return (zero, zero * d);
            }
            double z = Standardization.Z(Num.D(x[i]), group.Mean, group.Scale, center);
            double dz = Num.D(dy[i]) * BinaryMath.ApproxSignDerivative(z);
            return (dz, dz * z);
        }

        /// <summary>Adds element i's dz to <paramref name="sum"/> and its term to <paramref name="dot"/>, and keeps dz.</summary>
        private void Accumulate(long i, (double Mean, double Scale) group, ref double sum, ref double dot, double* kept)
        {
            (double dz, double term) = Surrogate(i, group);
            *kept = dz;
            sum += dz;
            dot += term;
        }

        public void Run(int start, int end)
        {
            var pool = ScratchPool<double>.ThisThread;
            double[] keptArray = pool.Rent(n);
            fixed (double* kept = keptArray)
                for (int g = start; g < end; g++)
                {
                    (double Mean, double Scale) group = stats[g];
                    long first = (long)g * n, stop = first + n;
                    double* dz = kept - first; // dz[i] for i in [first, stop)
                    // Σdz and Σdz·z as four interleaved partial sums (element i to sum i mod 4), like the statistics
                    double sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0, dot0 = 0, dot1 = 0, dot2 = 0, dot3 = 0;
                    long i = first;
                    if (typeof(T) == typeof(float))
                        i += SumsVector((float*)x + first, (float*)dy + first, kept, n, group, center, ref sum0, ref sum1, ref sum2, ref sum3, ref dot0, ref dot1, ref dot2, ref dot3);
                    for (; i + 4 <= stop; i += 4)
                    {
                        Accumulate(i, group, ref sum0, ref dot0, dz + i);
                        Accumulate(i + 1, group, ref sum1, ref dot1, dz + i + 1);
                        Accumulate(i + 2, group, ref sum2, ref dot2, dz + i + 2);
                        Accumulate(i + 3, group, ref sum3, ref dot3, dz + i + 3);
                    }
                    for (; i < stop; i++) Accumulate(i, group, ref sum0, ref dot0, dz + i);
                    double sum = (sum0 + sum1) + (sum2 + sum3), dot = (dot0 + dot1) + (dot2 + dot3);
                    (double meanDz, double k) = Standardization.Coefficients(group.Scale, center, n, sum, dot);
                    i = first + (typeof(T) == typeof(float) ? GradientVector((float*)x + first, kept, (float*)dx + first, n, group, meanDz, k) : 0);
                    for (; i < stop; i++) dx[i] = Num.R<T>(Standardization.Gradient(dz[i], Num.D(x[i]), group, meanDz, k));
                }
            pool.Return(keptArray);
        }
    }
}
