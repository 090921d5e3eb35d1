using System.Numerics;
using BinaryGrad.Autograd;
using BinaryGrad.Kernels.Sign;

namespace BinaryGrad.Binarization;

/// <summary>VISPA's binary weight (Orecchia et al., NeurIPS 2024, "Training BNNs via Gaussian variational inference and
/// low-rank SDP"; op <c>SdpBinaryWeight</c>): the latent weight θ is the mean m of a Gaussian w ~ N(m, ZᵀZ/S) with a
/// rank-K factor Z ∈ R^{K×n} owned by this quantizer; every forward draws one sample and takes its sign.</summary>
/// <remarks>
/// <para>Forward (training and evaluation alike — a fresh sample on every call), exactly as the official code:</para>
/// <code>
/// 1. projection, in place, no gradient:  A_i = m_i² + Σ_k Z_{k,i}²/S ;  m_i ← m_i/√A_i ;  Z_{:,i} ← Z_{:,i}/√A_i
///    (so E[w_i²] = m_i² + ‖Z_{:,i}‖²/S = 1: the diagonal constraint diag(X) = 1 of the SDP relaxation)
/// 2. r ~ N(0, I_K/S)                     one K-vector per layer per call, shared by all weights of the layer
/// 3. w = m + Zᵀ r
/// 4. b = sign(w)                         (sign(0) = +1, BinaryGrad's convention; the PyTorch code gives 0 there)
/// </code>
/// <para>Backward (custom, not the reparameterisation gradient): <c>dm = db</c> (identity STE, no clipping mask) and
/// <c>dZ = √S · r ⊗ db</c> — the official code's extra √S, so dZ is the sample's standard-normal direction times db.</para>
/// <para>Why the projection replaces weight clipping: with Z = 0 it is <c>m ← sign(m)</c>-like normalisation of the
/// mean, and in general it keeps the rows (m_i, Z_{:,i}/√S) on the unit sphere (Burer–Monteiro factor of the SDP).</para>
/// <para>Z (Xavier-normal with the weight's fans) is created in <see cref="Bind"/> by the owning layer, which also
/// redraws m Xavier-normal as the official code does. Without a layer (tests, plots) Z is created on the first
/// <see cref="Quantizer.Apply"/> from a fixed seed. Evaluation averages the logits of
/// <see cref="EvaluationSamples"/> forward passes (official: L = 40).</para>
/// <para>Training recipe: the official scripts use SGD (momentum 0.9, lr 0.1–0.5, cosine, batch 256) for 200–600
/// epochs. On MNIST with a ≤ 10-epoch budget that is too slow: the projection keeps |m| ≈ 1 (Z starts small), so a
/// sign flips only after many steps rotate (m, Z/√S). Measured here (MLP width 64, 1 epoch, 4 test samples): SGD lr 0.5
/// 50.9 %, SGD lr 3 80.9 %, Adam lr 1e-3 21.1 %, Adam lr 0.02 84.2 %; so the MNIST runs use
/// <c>--optimizer adam --lr 0.02</c>. The per-output-channel learnable scale α of the official layers is not part of
/// this op: every binary layer of the BinaryGrad models is followed by batch norm, which absorbs it.</para>
/// <para>Cost: when m and Z are float32 (the models' default) the op runs a float32 span path (Z passed as a tensor,
/// no float64 copies): the projection (<see cref="LowRankSignKernels"/>) is a Vector256 float32 loop with the scalar <see cref="Project{T}"/>'s
/// operations in the same order, and w = m + Zᵀr is summed in float64 lanes (Widen, K multiply-adds in the order
/// k = 0…K−1, sign, Narrow) exactly as the float64 path sums it, so the signs, dm and dZ = (float)(√S·r_k·db_i) are
/// bit-identical to the float64 loops, with the same draws of r. Float64 (or mixed) tensors run those loops.
/// Evaluation calls it once per batch and sample.</para>
/// <para>Scalar view: <see cref="Forward(double)"/> is sign(x) (the Z = 0 case), <see cref="Derivative(double)"/> is 1.</para>
/// Provenance: verified-code (snownus/bnn_vi › models/sdp_wo_entropy.py). Paper: Orecchia et al. 2024, NeurIPS; docs/schemes/probabilistic.md.
/// </remarks>
public sealed class SdpBinaryWeight : Quantizer
{
    private Parameter? _z;
    private Rng _rng;

    /// <summary>Creates the op with rank <paramref name="rank"/> K, variance scale <paramref name="varianceScale"/> S and
    /// <paramref name="evaluationSamples"/> test-time samples; <paramref name="seed"/> seeds the sampler (the owning
    /// layer reseeds it from the model RNG).</summary>
    /// <exception cref="ArgumentOutOfRangeException">K or the sample count below 1, or S not positive.</exception>
    public SdpBinaryWeight(int rank = 4, double varianceScale = 100, int evaluationSamples = 40, ulong seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rank, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(evaluationSamples, 1);
        if (!(varianceScale > 0) || !double.IsFinite(varianceScale))
            throw new ArgumentOutOfRangeException(nameof(varianceScale), varianceScale, "SdpBinaryWeight: the variance scale S must be a positive number.");
        Rank = rank;
        VarianceScale = varianceScale;
        _evaluationSamples = evaluationSamples;
        _rng = new Rng(seed);
    }

    private readonly int _evaluationSamples;

    /// <summary>Rank K of the covariance factor.</summary>
    public int Rank { get; }

    /// <summary>Variance scale S: Σ = ZᵀZ/S and r ~ N(0, I/S).</summary>
    public double VarianceScale { get; }

    /// <summary>The factor Z [K, n] (null before <see cref="Bind"/> or the first call).</summary>
    public Parameter? Factor => _z;

    /// <summary>The r of the latest forward (K values), for tests and inspection.</summary>
    public double[] LastNoise { get; private set; } = [];

    /// <summary>Replaces the sampler's next draw of r (tests: the hand-computed oracle uses a given r).</summary>
    public double[]? NextNoise { get; set; }

    /// <inheritdoc/>
    public override string Name => "sdp_binary_weight";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Weight;

    /// <summary>True in training. In evaluation the output is still ±1, but every call must draw a fresh sample, so
    /// the layer must not cache packed weights between calls (which it does for hard signs in evaluation).</summary>
    public override bool IsHardSign => Training;
    /// <inheritdoc/>
    public override bool IsSmooth => false;
    /// <inheritdoc/>
    public override int EvaluationSamples => _evaluationSamples;

    /// <inheritdoc/>
    public override IEnumerable<Parameter> Parameters => _z is null ? [] : [_z];

    /// <summary>sign(x): the forward when Z = 0.</summary>
    public override double Forward(double x) => BinaryMath.Sign(x);

    /// <summary>1 (identity straight-through).</summary>
    public override double Derivative(double x) => 1;

    /// <summary>Draws m ~ Xavier-normal into <paramref name="latentWeight"/> and creates Z [K, n] Xavier-normal with the
    /// weight's fans (as the official code's <c>nn.init.xavier_normal_</c> on both), and reseeds the sampler.</summary>
    public override void Bind(Tensor latentWeight, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(latentWeight);
        ArgumentNullException.ThrowIfNull(rng);
        (int fanIn, int fanOut) = Fans(latentWeight.Shape);
        double std = Math.Sqrt(2.0 / (fanIn + fanOut));
        TensorElements.Copy(Tensor.Normal(latentWeight.Shape, rng, 0, std, latentWeight.DType), latentWeight);
        _z = new Parameter("z", Tensor.Normal([Rank, latentWeight.Length], rng, 0, std, latentWeight.DType));
        _rng = new Rng(rng.NextUInt64());
    }

    /// <summary>PyTorch's fans: linear [O, I] → (I, O); conv [O, C, kH, kW] → (C·kH·kW, O·kH·kW); a vector → (n, n).</summary>
    private static (int FanIn, int FanOut) Fans(ReadOnlySpan<int> shape)
    {
        if (shape.Length < 2) return (Math.Max(1, shape.Length == 0 ? 1 : shape[0]), Math.Max(1, shape.Length == 0 ? 1 : shape[0]));
        int receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>Creates Z lazily (no owning layer), checks its shape, and projects (m, Z) in place (step 1).</summary>
    protected override void Prepare(Tensor x)
    {
        if (!x.IsContiguous)
            throw new ArgumentException($"{Name}: the mean m must be a contiguous tensor (it is projected in place), got a view of shape {Shapes.Format(x.Shape)}.");
        if (_z is null)
        {
            var rng = new Rng(0x5D9);
            (int fanIn, int fanOut) = Fans(x.Shape);
            _z = new Parameter("z", Tensor.Normal([Rank, x.Length], rng, 0, Math.Sqrt(2.0 / (fanIn + fanOut)), x.DType));
        }
        if (_z.Value.Shape[1] != x.Length)
            throw new ArgumentException($"{Name}: the factor Z is [{Rank}, {_z.Value.Shape[1]}] but the weight has {x.Length} elements (shape {Shapes.Format(x.Shape)}); one SdpBinaryWeight serves one layer.");
        using var _ = GradMode.NoGrad();
        DTypeDispatch.Run(x.DType, new Projection(x, _z.Value, Rank, VarianceScale));
    }

    /// <summary>Step 1 on m and Z of one dtype: the float32 kernel, else <see cref="Project{T}"/>.</summary>
    private readonly struct Projection(Tensor m, Tensor z, int rank, double s) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            if (!SignSpans.Project(m.AsSpan<T>(), z.AsSpan<T>(), rank, s)) Project(m.AsSpan<T>(), z.AsSpan<T>(), rank, Num.R<T>(s));
        }
    }

    /// <summary>Step 1 in the parameters' own precision: A_i = m_i² + Σ_k Z_{k,i}²/S, then divide m_i and Z_{:,i} by √A_i.</summary>
    internal static void Project<T>(Span<T> m, Span<T> z, int rank, T s) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int n = m.Length;
        for (int i = 0; i < n; i++)
        {
            T sumSquares = T.Zero;
            for (int k = 0; k < rank; k++) sumSquares += z[k * n + i] * z[k * n + i];
            T a = m[i] * m[i] + sumSquares / s;
            if (!(a > T.Zero)) continue; // m_i = 0 and Z_{:,i} = 0: nothing to normalise (the official code would divide by 0)
            T root = T.Sqrt(a);
            m[i] /= root;
            for (int k = 0; k < rank; k++) z[k * n + i] /= root;
        }
    }

    /// <summary>Steps 2–4: r ~ N(0, I/S), w = m + Zᵀr summed in float64 in the order k = 0…K−1, b = sign(w); float32
    /// m and Z run the float64-lane kernel with the same operations (see the class remarks).</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        double[] r = NextSample();
        ReadOnlySpan<T> z = p[0];
        if (SignSpans.SampleSign(x, z, r, y)) return r;
        int n = x.Length;
        for (int i = 0; i < n; i++)
        {
            double w = Num.D(x[i]);
            for (int k = 0; k < Rank; k++) w += Num.D(z[k * n + i]) * r[k];
            y[i] = Num.R<T>(BinaryMath.Sign(w));
        }
        return r;
    }

    /// <summary>dm = db; dZ_{k,i} = √S · r_k · db_i, written in T (Z is as large as the weight).</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        double[] r = (double[])saved!;
        dy.CopyTo(dx);
        Span<T> dz = p.GradientStorage(0);
        double rootS = Math.Sqrt(VarianceScale);
        if (SignSpans.FactorGradient(dy, r, rootS, dz)) return;
        int n = dy.Length;
        for (int k = 0; k < Rank; k++)
        {
            double scale = rootS * r[k];
            for (int i = 0; i < n; i++) dz[k * n + i] = Num.R<T>(0.0 + scale * Num.D(dy[i])); // 0 + …: a −0 product gives +0, as an accumulation into zeros
        }
    }

    /// <summary>Step 2: the next r (the given <see cref="NextNoise"/> or a fresh draw), recorded in <see cref="LastNoise"/>.</summary>
    private double[] NextSample()
    {
        double[] r = NextNoise ?? DrawNoise();
        if (r.Length != Rank) throw new ArgumentException($"{Name}: NextNoise has {r.Length} values; the rank K is {Rank}.");
        NextNoise = null;
        LastNoise = r;
        return r;
    }

    private double[] DrawNoise()
    {
        double[] r = new double[Rank];
        double std = 1 / Math.Sqrt(VarianceScale);
        for (int k = 0; k < Rank; k++) r[k] = std * _rng.Normal();
        return r;
    }
}
