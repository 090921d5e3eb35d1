using System.Globalization;
using System.Numerics;
using BinaryGrad.Autograd;
using BinaryGrad.Kernels;

namespace BinaryGrad.Binarization;

/// <summary>Groups of k consecutive weights along the input axis of every output channel (docs/schemes/group-transform.md): channel o
/// of a weight [O, …] is the contiguous run of n = Length/O elements, cut into ⌈n/k⌉ groups; the last group is shorter
/// when k does not divide n.</summary>
internal sealed class WeightGroups
{
    public WeightGroups(ReadOnlySpan<int> shape, int length, int groupSize)
    {
        (int channels, int n) = Channels.Weight(shape, length);
        var starts = new List<int>();
        var sizes = new List<int>();
        for (int o = 0; o < channels; o++)
            for (int s = 0; s < n; s += groupSize)
            {
                starts.Add(o * n + s);
                sizes.Add(Math.Min(groupSize, n - s));
            }
        Starts = [.. starts];
        Sizes = [.. sizes];
    }

    /// <summary>Flat index of each group's first element.</summary>
    public int[] Starts { get; }
    /// <summary>Elements per group.</summary>
    public int[] Sizes { get; }
    /// <summary>Number of groups.</summary>
    public int Count => Starts.Length;
}

/// <summary>Cosine annealing <c>T = T_end + (T_start − T_end)·½(1 + cos(π t/T_total))</c> (the group-transform
/// placeholders: T from 1 to 1e-3), per optimizer step.</summary>
public sealed class CosineAnnealing(double start, double end, ScheduleClock clock = ScheduleClock.Step) : Schedule
{
    /// <inheritdoc/>
    public override double ValueAt(TrainingProgress progress) =>
        end + (start - end) * 0.5 * (1 + Math.Cos(Math.PI * Fraction(progress, clock)));

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"cosine {start} → {end} per {clock}");
}

/// <summary>PLACEHOLDER group weight transformation <c>GroupSoftBinary</c> (docs/schemes/group-transform.md) — a
/// standard construction of ours, <b>not</b> Shulman's method (arXiv 2107.01400), whose formula was not retrieved.</summary>
/// <remarks>
/// <para>Each group of k weights (<see cref="WeightGroups"/>) owns logits z ∈ R^(2^k), one per vertex
/// v_j ∈ {−1,+1}^k (vertex j has element i = +1 iff bit k−1−i of j is set, so j = 0 is all −1 and j = 2^k − 1 all +1).
/// Forward (training): <c>p = softmax(z/T)</c>, <c>w_group = Σ_j p_j·v_j</c>. Backward (exact, no STE):
/// <c>dz_j = (p_j/T)·(v_j·g − w·g)</c> with g = dL/dw_group. T follows a schedule (default cosine 1 → 1e-3 per step).
/// Evaluation: the hard weights <c>w_group = v_{argmax_j z_j}</c> (first maximum), exactly ±1, with gradient 0.</para>
/// <para>Parameters: the logits are owned by the quantizer (<see cref="IFactorizedWeight"/>), initialised from the
/// layer's latent θ as <c>z_j = (v_j·θ_group)/m</c>, m = mean|θ| of the layer [STD]; at T = 1 this factorises into
/// <c>w_i = tanh(θ_i/m)</c>. The latent weight is then unused (zero gradient) and mirrors the soft weights.</para>
/// <para>Unlike what the abstract says of the real method, this uses a saturating non-linearity (softmax) — one more
/// reason not to present it as the paper's. Cost: 2^k logits per k weights (k = 4: 4 logits per weight).</para>
/// <para>Scalar view (plots): a one-weight group with logit margin x = (z₊ − z₋)/2: <c>w = tanh(x/T)</c>,
/// <c>w' = (1 − tanh²(x/T))/T</c>; evaluation sign(x).</para>
/// </remarks>
public sealed class GroupSoftBinary : Quantizer, IFactorizedWeight
{
    private int[]? _shape;
    private WeightGroups? _groups;
    private int[] _logitOffsets = [];
    private Parameter? _logits;

    /// <summary>Creates the placeholder with groups of <paramref name="groupSize"/> weights.</summary>
    /// <param name="groupSize">k, 1 … 10 (2^k logits per group).</param>
    /// <param name="temperature">Schedule of T (default cosine 1 → 1e-3 per step).</param>
    /// <param name="dtype">dtype of the logits.</param>
    public GroupSoftBinary(int groupSize = 4, Schedule? temperature = null, DType dtype = DType.Float32)
    {
        if (groupSize is < 1 or > 10) throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "GroupSoftBinary: the group size k must be in [1, 10] (2^k logits per group).");
        GroupSize = groupSize;
        TemperatureSchedule = temperature ?? new CosineAnnealing(1, 1e-3);
        T = TemperatureSchedule.ValueAt(new TrainingProgress(0, 0, 0, 0));
        ParameterDType = dtype;
    }

    /// <summary>k.</summary>
    public int GroupSize { get; }
    /// <summary>Schedule of T.</summary>
    public Schedule TemperatureSchedule { get; }
    /// <summary>Current temperature.</summary>
    public double T { get; set; }
    /// <summary>dtype of the logits.</summary>
    public DType ParameterDType { get; }

    /// <summary>The group logits (null before <see cref="Initialize"/>).</summary>
    public Parameter? Logits => _logits;

    /// <inheritdoc/>
    public override string Name => "group_soft_binary";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Weight;
    /// <inheritdoc/>
    public override bool IsHardSign => !Training;
    /// <inheritdoc/>
    public override bool IsSmooth => Training;
    /// <inheritdoc/>
    public override IEnumerable<Parameter> Parameters => _logits is null ? [] : [_logits];
    /// <inheritdoc/>
    public bool IsInitialized => _logits is not null;
    /// <inheritdoc/>
    public Tensor? Mirror { get; set; }

    /// <inheritdoc/>
    public override void OnProgress(TrainingProgress progress) => T = TemperatureSchedule.ValueAt(progress);

    /// <summary>tanh(x/T) (one-weight group, x = logit margin); sign(x) in evaluation.</summary>
    public override double Forward(double x) => Training ? Math.Tanh(x / T) : BinaryMath.Sign(x);

    /// <summary>(1 − tanh²(x/T))/T.</summary>
    public override double Derivative(double x)
    {
        double t = Math.Tanh(x / T);
        return (1 - t * t) / T;
    }

    /// <summary>Element i of vertex j of a group of size m.</summary>
    private static double Vertex(int j, int i, int m) => ((j >> (m - 1 - i)) & 1) != 0 ? 1 : -1;

    /// <summary>Derives the parametrization from the layer's latent weight and mirrors into it (<see cref="IFactorizedWeight"/>).</summary>
    public override void Bind(Tensor latentWeight, Rng rng) => FactorizedWeights.Bind(this, latentWeight);

    /// <inheritdoc/>
    public void Initialize(Tensor latent)
    {
        ArgumentNullException.ThrowIfNull(latent);
        if (_logits is not null)
        {
            FactorizedWeights.CheckShape(Name, _shape, latent.Shape);
            return;
        }
        _shape = latent.Shape.ToArray();
        double[] theta = latent.ToDoubleArray();
        _groups = new WeightGroups(_shape, theta.Length, GroupSize);
        _logitOffsets = new int[_groups.Count + 1];
        for (int g = 0; g < _groups.Count; g++) _logitOffsets[g + 1] = _logitOffsets[g] + (1 << _groups.Sizes[g]);
        double meanAbs = theta.Length == 0 ? 1 : theta.Average(Math.Abs);
        if (!(meanAbs > 0)) meanAbs = 1;
        double[] z = new double[_logitOffsets[^1]];
        for (int g = 0; g < _groups.Count; g++)
        {
            int m = _groups.Sizes[g], start = _groups.Starts[g];
            for (int j = 0; j < 1 << m; j++)
            {
                double dot = 0;
                for (int i = 0; i < m; i++) dot += Vertex(j, i, m) * theta[start + i];
                z[_logitOffsets[g] + j] = dot / meanAbs;
            }
        }
        _logits = new Parameter("group_logits", Tensor.FromValues(z, [z.Length], ParameterDType));
    }

    /// <inheritdoc/>
    /// <remarks>Used on its own (outside a binary layer), the first call initialises the parameters from its input.</remarks>
    protected override void Prepare(Tensor x)
    {
        if (!IsInitialized) Initialize(x);
        FactorizedWeights.CheckShape(Name, _shape, x.Shape);
    }

    /// <summary>The soft (training) or argmax (evaluation) group weights, in float64 (the logits widened once) and
    /// rounded once to T; the latent input is ignored.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        WeightGroups groups = _groups!;
        double[] z = Num.ToDoubles(p[0]), w = new double[x.Length];
        double[]? probabilities = Training ? new double[z.Length] : null;
        double t = this.T;
        // Groups own disjoint ranges of w, z and p, so splitting them over threads changes no sum: same bits for any
        // thread count. (2^k exponentials per k weights make this, not the layer's GEMM, the MLP's main cost.)
        KernelThreads.For(groups.Count, 256, (first, end) =>
        {
            for (int g = first; g < end; g++)
            {
                int m = groups.Sizes[g], start = groups.Starts[g], offset = _logitOffsets[g], count = 1 << m;
                if (probabilities is null)
                {
                    int best = 0;
                    for (int j = 1; j < count; j++) if (z[offset + j] > z[offset + best]) best = j;
                    for (int i = 0; i < m; i++) w[start + i] = Vertex(best, i, m);
                    continue;
                }
                double max = double.NegativeInfinity;
                for (int j = 0; j < count; j++) max = Math.Max(max, z[offset + j] / t);
                double sum = 0;
                for (int j = 0; j < count; j++) sum += probabilities[offset + j] = Math.Exp(z[offset + j] / t - max);
                for (int j = 0; j < count; j++)
                {
                    double p = probabilities[offset + j] /= sum;
                    for (int i = 0; i < m; i++) w[start + i] += p * Vertex(j, i, m);
                }
            }
        });
        if (Training) FactorizedWeights.WriteMirror(Mirror, w);
        for (int i = 0; i < w.Length; i++) y[i] = Num.R<T>(w[i]);
        return (probabilities, w);
    }

    /// <summary>dz = (p/T)·(v·g − w·g) per vertex (float64 sums); the latent input gets a zero gradient.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dyT, Span<T> dx)
    {
        dx.Clear();
        (double[]? probabilities, double[] w) = ((double[]?, double[]))saved!;
        if (probabilities is null) return; // evaluation: the argmax vertex is piecewise constant in z
        WeightGroups groups = _groups!;
        double[] dy = Num.ToDoubles(dyT), dz = new double[probabilities.Length];
        double t = this.T;
        KernelThreads.For(groups.Count, 256, (first, end) =>
        {
            for (int g = first; g < end; g++)
            {
                int m = groups.Sizes[g], start = groups.Starts[g], offset = _logitOffsets[g];
                double wg = 0;
                for (int i = 0; i < m; i++) wg += w[start + i] * dy[start + i];
                for (int j = 0; j < 1 << m; j++)
                {
                    double vg = 0;
                    for (int i = 0; i < m; i++) vg += Vertex(j, i, m) * dy[start + i];
                    dz[offset + j] += probabilities[offset + j] / t * (vg - wg);
                }
            }
        });
        dz.CopyTo(p.Gradient(0));
    }
}

/// <summary>PLACEHOLDER group weight transformation <c>GroupSphereRelax</c> (docs/schemes/group-transform.md) — a standard
/// construction of ours, <b>not</b> Shulman's method (arXiv 2107.01400), whose formula was not retrieved.</summary>
/// <remarks>
/// <para>For each group θ ∈ R^m of the latent weights (<see cref="WeightGroups"/>, m = k except a shorter last group):
/// forward <c>w = √m·θ/‖θ‖₂</c>; backward (exact vector–Jacobian product) <c>dθ = (√m/‖θ‖)·(g − θ·(θ·g)/‖θ‖²)</c>;
/// evaluation: the hard weights <c>sign(θ)</c> (gradient 0). A zero group gives w = 0 and dθ = 0.</para>
/// <para>Why it is offered: every ±1 vector of length m lies on the sphere of radius √m, so this is a deterministic,
/// differentiable group-wise relaxation with no saturating non-linearity and no auxiliary loss — the constraints the
/// abstract states.</para>
/// <para><b>Vertex blend</b> (ours): the sphere point alone never anneals towards the deployed signs — on the MNIST
/// MLP the network trained to 98.8 % on the sphere and deployed sign(θ) at 70 %. So training uses
/// <c>w = (1 − λ)·√m·θ/‖θ‖ + λ·sign(θ)</c> with λ rising linearly per step from 0 to <see cref="BlendEnd"/>: at λ = 1
/// the training forward is the deployed network. sign(θ) is piecewise constant, so the backward
/// <c>dθ = (1 − λ)·(√m/‖θ‖)·(g − θ·(θ·g)/‖θ‖²)</c> is still the exact derivative wherever it exists (θ ≠ 0): no
/// straight-through estimate. <see cref="BlendEnd"/> = 0 gives the plain sphere relaxation.</para>
/// <para>Scalar view (plots): element x of a group whose other k − 1 elements are 1:
/// <c>w = (1 − λ)·√k·x/√(x² + k − 1) + λ·sign(x)</c>, <c>w' = (1 − λ)·√k·(k − 1)/(x² + k − 1)^{3/2}</c> (the diagonal
/// Jacobian entry); evaluation sign(x).</para>
/// <para><see cref="Quantizer.IsSmooth"/> holds for λ = 0, the state before any training progress, in which the
/// gradient check runs; for λ &gt; 0 the forward jumps by 2λ where an element of θ crosses 0.</para>
/// </remarks>
public sealed class GroupSphereRelax : Quantizer
{
    private readonly Schedule _blend;

    /// <summary>Creates the placeholder with groups of <paramref name="groupSize"/> weights.</summary>
    /// <param name="groupSize">k.</param>
    /// <param name="blendEnd">λ at the end of training (linear per step from 0; 0 = the plain sphere relaxation).</param>
    public GroupSphereRelax(int groupSize = 4, double blendEnd = 0)
    {
        if (groupSize is < 1 or > 1 << 20) throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "GroupSphereRelax: the group size k must be in [1, 2^20].");
        if (!(blendEnd is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(blendEnd), blendEnd, "GroupSphereRelax: the final vertex blend λ must be in [0, 1].");
        GroupSize = groupSize;
        BlendEnd = blendEnd;
        _blend = Schedule.Linear(0, blendEnd, ScheduleClock.Step);
    }

    /// <summary>k.</summary>
    public int GroupSize { get; }

    /// <summary>Final vertex blend λ.</summary>
    public double BlendEnd { get; }

    /// <summary>Current vertex blend λ (0 before any progress; set by <see cref="OnProgress"/>).</summary>
    public double Blend { get; private set; }

    /// <inheritdoc/>
    public override void OnProgress(TrainingProgress progress) => Blend = _blend.ValueAt(progress);

    /// <inheritdoc/>
    public override string Name => "group_sphere_relax";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Weight;
    /// <inheritdoc/>
    public override bool IsHardSign => !Training;
    /// <inheritdoc/>
    public override bool IsSmooth => Training;

    /// <summary>(1 − λ)·√k·x/√(x² + k − 1) + λ·sign(x) (sign(x) for k = 1 and in evaluation).</summary>
    public override double Forward(double x) =>
        !Training || GroupSize == 1 ? BinaryMath.Sign(x)
            : (1 - Blend) * Math.Sqrt(GroupSize) * x / Math.Sqrt(x * x + GroupSize - 1) + Blend * BinaryMath.Sign(x);

    /// <summary>(1 − λ)·√k·(k − 1)/(x² + k − 1)^{3/2} (0 for k = 1).</summary>
    public override double Derivative(double x) =>
        GroupSize == 1 ? 0 : (1 - Blend) * Math.Sqrt(GroupSize) * (GroupSize - 1) / Math.Pow(x * x + GroupSize - 1, 1.5);

    /// <summary>Training: w = (1 − λ)·√m·θ/‖θ‖ + λ·sign(θ) per group (float64, rounded once); evaluation: sign(θ).</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        if (!Training)
        {
            for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(BinaryMath.Sign(Num.D(x[i])));
            return false;
        }
        y.Clear(); // a zero group gives w = 0
        var groups = new WeightGroups(shape, x.Length, GroupSize);
        for (int g = 0; g < groups.Count; g++)
        {
            int start = groups.Starts[g], m = groups.Sizes[g];
            double norm = Norm(x, start, m);
            if (norm == 0) continue;
            double s = (1 - Blend) * Math.Sqrt(m) / norm;
            for (int i = start; i < start + m; i++) y[i] = Num.R<T>(s * Num.D(x[i]) + Blend * BinaryMath.Sign(Num.D(x[i])));
        }
        return true;
    }

    /// <summary>dθ = (1 − λ)·(√m/‖θ‖)·(g − θ·(θ·g)/‖θ‖²) per group; 0 in evaluation and for a zero group.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        dx.Clear();
        if (saved is false) return; // evaluation: sign(θ) is piecewise constant
        var groups = new WeightGroups(shape, x.Length, GroupSize);
        for (int g = 0; g < groups.Count; g++)
        {
            int start = groups.Starts[g], m = groups.Sizes[g];
            double norm = Norm(x, start, m);
            if (norm == 0) continue;
            double dot = 0;
            for (int i = start; i < start + m; i++) dot += Num.D(x[i]) * Num.D(dy[i]);
            double s = (1 - Blend) * Math.Sqrt(m) / norm, c = dot / (norm * norm);
            for (int i = start; i < start + m; i++) dx[i] = Num.R<T>(s * (Num.D(dy[i]) - Num.D(x[i]) * c));
        }
    }

    private static double Norm<T>(ReadOnlySpan<T> x, int start, int m) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double s = 0;
        for (int i = start; i < start + m; i++) s += Num.D(x[i]) * Num.D(x[i]);
        return Math.Sqrt(s);
    }
}
