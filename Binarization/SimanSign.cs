using System.Numerics;
using BinaryGrad.Autograd;
using BinaryGrad.Kernels;

namespace BinaryGrad.Binarization;

/// <summary>SiMaN weight binarization, sign-to-magnitude (Lin et al., IEEE TPAMI 2022, arXiv 2102.07981).</summary>
/// <remarks>
/// <para>Per output channel o (n weights):
/// 1. (training, no gradient, in place on the latent leaf) w1 = θ − mean_o(θ); |w1| clamped to [P_p, P_{100−p}], the
///    percentiles of |w1| over the whole layer (NumPy linear interpolation); θ ← sign(w1)·clamped|w1|; p = <see cref="Percent"/>,
///    15·(1 − e/E) by default. This also re-centres the latent filters every call, as the reference code does.
/// 2. w2 = (θ − mean_o)/sqrt(Var_o + 1e-5) (unbiased variance).
/// 3. X = |w2|; the ⌊n/2⌋ largest X of each filter get +1, the rest −1 (ties by position): w_b = 2B − 1.
/// The sign of the latent weight is discarded — magnitude decides — which maximises the entropy of the binary filter.</para>
/// <para>Backward: w_b = X − detach(X) + (2B − 1) ⇒ dX = dw_b ⇒ dw2 = dw_b·sign(w2) (0 at w2 = 0, as torch's |·|), then the
/// exact derivative of the standardisation.</para>
/// <para>Scalar view: a single standardised value — Forward(x) = sign(|x| − median) is not defined elementwise, so
/// Forward returns sign(x) and Derivative returns the magnitude factor sign(x) of step 3.</para>
/// Provenance: verified-code (lmbxmu/SiMaN cifar/modules/binarized_modules.py, main.py). Paper: Lin et al. 2022, arXiv:2102.07981. See docs/schemes/straight-through.md.
/// </remarks>
public sealed class SimanSign(double percentStart = 15, bool clipLatent = true) : Quantizer
{
    private readonly Schedule _percent = Schedule.Linear(percentStart, 0, ScheduleClock.Epoch);

    /// <summary>Current clipping percentile p (0 = no clipping).</summary>
    public double Percent { get; private set; } = percentStart;

    /// <summary>Whether step 1 (in-place latent clipping) runs in training.</summary>
    public bool ClipLatent { get; } = clipLatent;

    /// <inheritdoc/>
    public override string Name => "siman_sign";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Weight;
    /// <inheritdoc/>
    public override bool IsHardSign => true;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    /// <summary>False: the binary weight is +1 for the larger-magnitude half of each filter, whatever the latent sign
    /// (which after the first epochs almost never changes: the latent clipping keeps |θ| away from 0).</summary>
    public override bool BinaryIsLatentSign => false;

    /// <inheritdoc/>
    public override void OnProgress(TrainingProgress progress) => Percent = _percent.ValueAt(progress);

    /// <summary>sign(x).</summary>
    public override double Forward(double x) => BinaryMath.Sign(x);

    /// <summary>sign(x) with sign(0) = 0 (the derivative of |x|).</summary>
    public override double Derivative(double x) => Math.Sign(x);

    /// <summary>NumPy-style linear-interpolation percentile of <paramref name="sorted"/> (ascending).</summary>
    public static double Percentile(double[] sorted, double p)
    {
        double rank = p / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (rank - lo) * (sorted[hi] - sorted[lo]);
    }

    /// <inheritdoc/>
    protected override void Prepare(Tensor x)
    {
        if (!Training || !ClipLatent || !x.IsLeaf || !x.IsContiguous || x.Length == 0) return;
        (int channels, int n) = Channels.Weight(x.Shape.ToArray(), x.Length);
        DTypeDispatch.Run(x.DType, new ClipAction(x, channels, n, Percent));
    }

    /// <summary>Step 1 on the latent tensor's own elements, its float64 temporaries (w1 and the magnitudes, a whole
    /// layer each) rented from the thread's scratch pool: a ResNet-20 step allocated 6.5 MB here. The channels'
    /// centring and clamping and the two percentiles are spread over the kernel threads (on one, step 1 was 3 % of a
    /// SiMaN ResNet-20 step with the other core idle); each value is computed as on one thread.</summary>
    private readonly struct ClipAction(Tensor x, int channels, int n, double percent) : IDTypeAction
    {
        public unsafe void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            Span<T> v = x.AsSpan<T>();
            var pool = ScratchPool<double>.ThisThread;
            double[] w1Array = pool.Rent(v.Length), magnitudeArray = pool.Rent(v.Length);
            ReadOnlySpan<double> magnitudes = magnitudeArray.AsSpan(0, v.Length);
            int grain = Standardization.GroupGrain(n);
            int anyNaN = 0;
            double* bounds = stackalloc double[2];
            fixed (T* pv = v)
            fixed (double* w1 = w1Array, pm = magnitudeArray)
            {
                KernelThreads.For(channels, grain, new CentreBody<T>(pv, w1, pm, n, &anyNaN));
                if (anyNaN != 0)
                {
                    // the sort's order (NaN first) defines the percentiles here; selection needs NaN-free values
                    double[] sorted = [.. magnitudes.ToArray().Order()];
                    (bounds[0], bounds[1]) = (Percentile(sorted, percent), Percentile(sorted, 100 - percent));
                }
                // selection instead of a sort of the whole layer: the same order statistics without the O(n log n);
                // the two on two threads when the layer is large enough to pay for it
                else KernelThreads.For(2, v.Length >= 1 << 14 ? 1 : 2, new PercentileBody(pm, v.Length, percent, bounds));
                KernelThreads.For(channels, grain, new ClampBody<T>(pv, w1, n, bounds[0], bounds[1]));
            }
            pool.Return(magnitudeArray);
            pool.Return(w1Array);
        }
    }

    /// <summary>Channels [start, end) of step 1's first half: w1 = θ − mean_o(θ) (the mean summed in index order) and
    /// |w1|; sets *anyNaN when a magnitude is NaN.</summary>
    private readonly unsafe struct CentreBody<T>(T* v, double* w1, double* magnitudes, int n, int* anyNaN) : KernelThreads.IRangeBody
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public void Run(int start, int end)
        {
            bool nan = false;
            for (int o = start; o < end; o++)
            {
                long first = (long)o * n, stop = first + n;
                double m = 0;
                for (long i = first; i < stop; i++) m += Num.D(v[i]);
                m /= n;
                for (long i = first; i < stop; i++)
                {
                    w1[i] = Num.D(v[i]) - m;
                    magnitudes[i] = Math.Abs(w1[i]);
                    nan |= double.IsNaN(magnitudes[i]);
                }
            }
            if (nan) Volatile.Write(ref *anyNaN, 1);
        }
    }

    /// <summary>Part 0 writes the p-th percentile of the magnitudes to bounds[0], part 1 the (100 − p)-th to bounds[1]
    /// (<see cref="Selection.Percentile"/> only reads the values).</summary>
    private readonly unsafe struct PercentileBody(double* magnitudes, int length, double percent, double* bounds) : KernelThreads.IRangeBody
    {
        public void Run(int start, int end)
        {
            var values = new ReadOnlySpan<double>(magnitudes, length);
            for (int part = start; part < end; part++)
                bounds[part] = Selection.Percentile(values, part == 0 ? percent : 100 - percent);
        }
    }

    /// <summary>Channels [start, end) of step 1's second half: θ ← sign(w1)·clamp(|w1|, low, high).</summary>
    private readonly unsafe struct ClampBody<T>(T* v, double* w1, int n, double low, double high) : KernelThreads.IRangeBody
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public void Run(int start, int end)
        {
            for (long i = (long)start * n, stop = (long)end * n; i < stop; i++)
                v[i] = Num.R<T>(Math.Sign(w1[i]) * Math.Clamp(Math.Abs(w1[i]), low, high));
        }
    }

    private sealed record Saved(Tensor W2Storage, (double, double)[] Stats)
    {
        public ReadOnlySpan<double> W2 => W2Storage.AsSpan<double>();
    }

    /// <summary>Steps 2–3: w2 stays float64 for the backward, which needs it exactly.</summary>
    /// <remarks>w2 lives from this forward to its backward, and another forward — e.g. of a weight used twice, whose
    /// <see cref="Prepare"/> clips the latent tensor in place — may come between them, so it can neither come from a
    /// per-thread pool nor be recomputed from the latent weights then. It is a tensor of its own: inside a training
    /// step's <c>TensorPool</c> scope a block that goes back when the step ends (a ResNet-20 step allocated 2.2 MB here),
    /// outside one an ordinary array.</remarks>
    protected override unsafe object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        (int channels, int n) = Channels.Weight(shape, x.Length);
        Tensor w2Storage = Tensor.Uninitialized([x.Length], DType.Float64);
        var stats = Standardization.Statistics(x, channels, 1e-5);
        fixed (T* px = x, py = y)
        fixed (double* w2 = w2Storage.AsSpan<double>())
            KernelThreads.For(channels, Standardization.GroupGrain(n), new ForwardBody<T>(px, py, w2, n, stats));
        return new Saved(w2Storage, stats);
    }

    /// <summary>Filters [start, end) of steps 2–3, each as on one thread (the filters are independent; on one thread
    /// they were 2 % of a SiMaN ResNet-20 step with the other core idle).</summary>
    private readonly unsafe struct ForwardBody<T>(T* x, T* y, double* w2, int n, (double Mean, double Scale)[] stats) : KernelThreads.IRangeBody
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public void Run(int start, int end)
        {
            var pool = ScratchPool<double>.ThisThread;
            double[] keyArray = pool.Rent(n), markArray = pool.Rent(n);
            Span<double> keys = keyArray.AsSpan(0, n), marks = markArray.AsSpan(0, n);
            for (int o = start; o < end; o++)
            {
                long first = (long)o * n;
                bool anyNaN = false;
                for (int i = 0; i < n; i++)
                {
                    w2[first + i] = Standardization.Z(Num.D(x[first + i]), stats[o].Mean, stats[o].Scale, center: true);
                    keys[i] = Math.Abs(w2[first + i]);
                    anyNaN |= double.IsNaN(keys[i]);
                }
                if (anyNaN)
                {
                    // stable descending sort (NaN last): the definition; selection below needs NaN-free keys
                    marks.Fill(-1);
                    double[] keyCopy = keys.ToArray();
                    int[] order = [.. Enumerable.Range(0, n).OrderByDescending(i => keyCopy[i])];
                    for (int r = 0; r < n / 2; r++) marks[order[r]] = 1;
                }
                // the n/2 largest |w2| become +1, ties to the lower index exactly as the stable sort above
                else Selection.MarkLargest(keys, n / 2, marks);
                for (int i = 0; i < n; i++) y[first + i] = Num.R<T>(marks[i]);
            }
            pool.Return(markArray);
            pool.Return(keyArray);
        }
    }

    /// <summary>dw2 = dw_b·sign(w2), then the exact standardisation backward.</summary>
    /// <remarks>Filter by filter over the kernel threads, each as <see cref="Standardization.Backward{T}"/> computes it.</remarks>
    protected override unsafe void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        var s = (Saved)saved!;
        int channels = s.Stats.Length, n = x.Length / channels;
        fixed (T* px = x, pdy = dy, pdx = dx)
        fixed (double* w2 = s.W2)
            KernelThreads.For(channels, Standardization.GroupGrain(n), new BackwardBody<T>(px, pdy, pdx, w2, n, s.Stats));
    }

    private readonly unsafe struct BackwardBody<T>(T* x, T* dy, T* dx, double* w2, int n, (double Mean, double Scale)[] stats) : KernelThreads.IRangeBody
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public void Run(int start, int end)
        {
            var pool = ScratchPool<double>.ThisThread;
            double[] dw2Array = pool.Rent(n);
            Span<double> dw2 = dw2Array.AsSpan(0, n);
            for (int o = start; o < end; o++)
            {
                long first = (long)o * n;
                for (int i = 0; i < n; i++) dw2[i] = Num.D(dy[first + i]) * Math.Sign(w2[first + i]);
                Standardization.BackwardGroup(new ReadOnlySpan<T>(x + first, n), new ReadOnlySpan<double>(w2 + first, n), stats[o], center: true,
                    dw2, new Span<T>(dx + first, n));
            }
            pool.Return(dw2Array);
        }
    }
}
