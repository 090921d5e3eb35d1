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
    /// layer each) rented from the thread's scratch pool: a ResNet-20 step allocated 6.5 MB here.</summary>
    private readonly struct ClipAction(Tensor x, int channels, int n, double percent) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            Span<T> v = x.AsSpan<T>();
            var pool = ScratchPool<double>.ThisThread;
            double[] w1Array = pool.Rent(v.Length), magnitudeArray = pool.Rent(v.Length);
            Span<double> w1 = w1Array.AsSpan(0, v.Length), magnitudes = magnitudeArray.AsSpan(0, v.Length);
            for (int o = 0; o < channels; o++)
            {
                double m = 0;
                for (int i = o * n; i < (o + 1) * n; i++) m += Num.D(v[i]);
                m /= n;
                for (int i = o * n; i < (o + 1) * n; i++) w1[i] = Num.D(v[i]) - m;
            }
            bool anyNaN = false;
            for (int i = 0; i < w1.Length; i++)
            {
                magnitudes[i] = Math.Abs(w1[i]);
                anyNaN |= double.IsNaN(magnitudes[i]);
            }
            double low, high;
            if (anyNaN)
            {
                // the sort's order (NaN first) defines the percentiles here; selection needs NaN-free values
                double[] sorted = [.. magnitudes.ToArray().Order()];
                (low, high) = (Percentile(sorted, percent), Percentile(sorted, 100 - percent));
            }
            else
            {
                // selection instead of a sort of the whole layer: the same order statistics without the O(n log n)
                low = Selection.Percentile(magnitudes, percent);
                high = Selection.Percentile(magnitudes, 100 - percent);
            }
            for (int i = 0; i < v.Length; i++) v[i] = Num.R<T>(Math.Sign(w1[i]) * Math.Clamp(Math.Abs(w1[i]), low, high));
            pool.Return(magnitudeArray);
            pool.Return(w1Array);
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
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        (int channels, int n) = Channels.Weight(shape, x.Length);
        Tensor w2Storage = Tensor.Uninitialized([x.Length], DType.Float64);
        Span<double> w2 = w2Storage.AsSpan<double>();
        var stats = Standardization.Forward(x, channels, center: true, 1e-5, w2);
        var pool = ScratchPool<double>.ThisThread;
        double[] keyArray = pool.Rent(n), markArray = pool.Rent(n);
        Span<double> keys = keyArray.AsSpan(0, n), marks = markArray.AsSpan(0, n);
        for (int o = 0; o < channels; o++)
        {
            ReadOnlySpan<double> channel = w2.Slice(o * n, n);
            bool anyNaN = false;
            for (int i = 0; i < n; i++)
            {
                keys[i] = Math.Abs(channel[i]);
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
            for (int i = 0; i < n; i++) y[o * n + i] = Num.R<T>(marks[i]);
        }
        pool.Return(markArray);
        pool.Return(keyArray);
        return new Saved(w2Storage, stats);
    }

    /// <summary>dw2 = dw_b·sign(w2), then the exact standardisation backward.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        var s = (Saved)saved!;
        var pool = ScratchPool<double>.ThisThread;
        double[] dw2 = pool.Rent(x.Length); // only its first x.Length elements are read
        for (int i = 0; i < x.Length; i++) dw2[i] = Num.D(dy[i]) * Math.Sign(s.W2[i]);
        Standardization.Backward(x, s.W2, s.Stats, center: true, dw2, dx);
        pool.Return(dw2);
    }
}
