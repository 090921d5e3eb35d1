using System.Numerics;
using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>Decomposed binary weights (Bulat, Kossaifi, Tzimiropoulos, Pantic, arXiv:1904.07852;
/// docs/schemes/decomposed.md): the layer's weight tensor is parametrized by real factors, the reconstruction W is binarized by sign,
/// and a learned per-output-channel scale α multiplies it.</summary>
/// <remarks>
/// <para>Forward: <c>W = reconstruct(factors)</c>, <c>w_b = α_o·sign(W)</c> (sign(0) = +1). Backward (straight-through,
/// our standard construction): <c>dW = α_o·dw_b·1[|W| ≤ c]</c> (c = +∞ by default: the identity STE), <c>dα_o = Σ_{i∈o} dw_b,i·sign(W_i)</c>,
/// then the exact chain rule into the factors (see the subclasses). With <see cref="Linearize"/> the sign is replaced by
/// the identity — its straight-through estimator — so <c>w_b = α_o·W</c> is smooth and its exact gradient equals the STE
/// backward: that variant is gradient-checked in float64 to validate the factor gradients.</para>
/// <para>α: one per output channel, learnable, initialised to 1 (the first author's library
/// initialises its output scale to 1 and applies it to the layer output, which for a linear layer equals scaling the
/// weight rows) or, optionally, to mean|W| per channel (the usual XNOR-style choice).</para>
/// <para>Ownership: the factors and α are this quantizer's <see cref="Quantizer.Parameters"/>, created by
/// <see cref="Initialize"/> from the layer's initial latent weight (SVD / HOSVD of the Glorot/Kaiming weight); the
/// latent weight gets a zero gradient and mirrors W (<see cref="IFactorizedWeight"/>).</para>
/// <para>Provenance: standard construction. The abstract [V-abs] fixes "reconstructed weights through a quantizer,
/// scales learned by back-propagation"; the decomposition type, modes, ranks, initialisation and STE are our choices
/// [STD]. Ranks default to full (exact at initialisation) capped by <see cref="MaxRank"/> for cost.</para>
/// <para>Scalar view (plots): α = 1, W = x: forward sign(x) (x with <see cref="Linearize"/>), derivative 1[|x| ≤ c].</para>
/// </remarks>
public abstract class DecomposedSign : Quantizer, IFactorizedWeight
{
    private int[]? _shape;
    private readonly List<Parameter> _parameters = [];

    /// <summary>Common settings.</summary>
    /// <param name="maxRank">Cap on every rank (0 = none: full rank).</param>
    /// <param name="steClip">STE mask bound c: dW = α·dw_b·1[|W| ≤ c] (+∞ = identity).</param>
    /// <param name="scaleFromMeanAbs">Initialise α to mean|W| per channel instead of 1.</param>
    /// <param name="linearize">Replace sign by the identity (smooth; for gradient checks).</param>
    /// <param name="dtype">dtype of the parameters.</param>
    protected DecomposedSign(int maxRank, double steClip, bool scaleFromMeanAbs, bool linearize, DType dtype)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRank);
        if (!(steClip > 0)) throw new ArgumentOutOfRangeException(nameof(steClip), steClip, "DecomposedSign: the STE clip must be > 0.");
        (MaxRank, SteClip, ScaleFromMeanAbs, Linearize, ParameterDType) = (maxRank, steClip, scaleFromMeanAbs, linearize, dtype);
    }

    /// <summary>Cap on every rank (0 = full rank).</summary>
    public int MaxRank { get; }
    /// <summary>STE mask bound c.</summary>
    public double SteClip { get; }
    /// <summary>α initialised to mean|W| (else 1).</summary>
    public bool ScaleFromMeanAbs { get; }
    /// <summary>Sign replaced by the identity (see remarks).</summary>
    public bool Linearize { get; }
    /// <summary>dtype of the parameters.</summary>
    public DType ParameterDType { get; }
    /// <summary>The per-output-channel scale α (null before <see cref="Initialize"/>).</summary>
    public Parameter? Scale { get; private set; }

    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Weight;
    /// <inheritdoc/>
    public override bool IsHardSign => false;
    /// <inheritdoc/>
    public override bool IsSmooth => Linearize;
    /// <inheritdoc/>
    public override IEnumerable<Parameter> Parameters => _parameters;
    /// <inheritdoc/>
    public bool IsInitialized => Scale is not null;
    /// <inheritdoc/>
    public Tensor? Mirror { get; set; }

    /// <summary>sign(x), or x when linearized.</summary>
    public override double Forward(double x) => Linearize ? x : BinaryMath.Sign(x);

    /// <summary>1[|x| ≤ c] (1 when linearized).</summary>
    public override double Derivative(double x) => Linearize ? 1 : BinaryMath.InsideClip(x, SteClip);

    /// <summary>The rank for an axis of <paramref name="size"/> entries (full, capped).</summary>
    protected int Rank(int size) => MaxRank == 0 ? size : Math.Min(size, MaxRank);

    /// <summary>Creates the factor parameters from the initial weight (row-major values of <paramref name="shape"/>);
    /// returns them in the order the subclass expects in <see cref="Reconstruct"/>.</summary>
    protected abstract IReadOnlyList<(string Name, double[] Values, int[] Shape)> Factorize(double[] weight, int[] shape);

    /// <summary>W from the factor values (in <see cref="Factorize"/> order), in T: the float32 parameters of a float32
    /// call run on the SGEMM (float32 accumulation), float64 ones on the DGEMM.</summary>
    protected abstract T[] Reconstruct<T>(T[][] factors, int[] shape) where T : unmanaged, IBinaryFloatingPointIeee754<T>;

    /// <summary>dL/dfactor for dL/dW = <paramref name="dW"/>, one new array per factor (in <see cref="Factorize"/>
    /// order), computed in T like <see cref="Reconstruct{T}"/>.</summary>
    protected abstract T[][] FactorGradients<T>(T[][] factors, int[] shape, T[] dW) where T : unmanaged, IBinaryFloatingPointIeee754<T>;

    /// <summary>What the forward keeps for its backward.</summary>
    private sealed record Saved<T>(T[] W, T[][] Factors);

    /// <summary>Derives the parametrization from the layer's latent weight and mirrors into it (<see cref="IFactorizedWeight"/>).</summary>
    public override void Bind(Tensor latentWeight, Rng rng) => FactorizedWeights.Bind(this, latentWeight);

    /// <inheritdoc/>
    public void Initialize(Tensor latent)
    {
        ArgumentNullException.ThrowIfNull(latent);
        if (_shape is not null)
        {
            FactorizedWeights.CheckShape(Name, _shape, latent.Shape);
            return;
        }
        int[] shape = latent.Shape.ToArray();
        if (shape.Length < 2) throw new ArgumentException($"{Name}: needs a weight of rank ≥ 2 ([O, I] or [O, C, kH, kW]), got {Shapes.Format(shape)}.");
        double[] w = latent.ToDoubleArray();
        var factors = Factorize(w, shape);
        double[] reconstructed = Reconstruct<double>([.. factors.Select(f => f.Values)], shape);
        (int channels, _) = Channels.Weight(shape, w.Length);
        double[] alpha = ScaleFromMeanAbs ? ScaledSign.ChannelScales(reconstructed, shape) : [.. Enumerable.Repeat(1.0, channels)];
        Scale = new Parameter("scale", Tensor.FromValues(alpha, [channels], ParameterDType));
        _parameters.Add(Scale);
        foreach ((string name, double[] values, int[] fshape) in factors)
            _parameters.Add(new Parameter(name, Tensor.FromValues(values, fshape, ParameterDType)));
        _shape = shape;
    }

    /// <inheritdoc/>
    /// <remarks>Used on its own (outside a binary layer), the first call initialises the parameters from its input.</remarks>
    protected override void Prepare(Tensor x)
    {
        if (!IsInitialized) Initialize(x);
        FactorizedWeights.CheckShape(Name, _shape, x.Shape);
    }

    /// <summary>W = reconstruct(factors) in T; w_b = α_o·sign(W) in float64, rounded once. The latent input is ignored.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        ReadOnlySpan<T> alpha = p[0];
        var factors = new T[p.Count - 1][];
        for (int f = 0; f < factors.Length; f++) factors[f] = p[f + 1].ToArray();
        T[] w = Reconstruct(factors, _shape!);
        if (Training) FactorizedWeights.WriteMirror(Mirror, w);
        int n = w.Length / alpha.Length;
        for (int i = 0; i < w.Length; i++) y[i] = Num.R<T>(Num.D(alpha[i / n]) * Forward(Num.D(w[i])));
        return new Saved<T>(w, factors);
    }

    /// <summary>dα_o += Σ dy·sign(W) and dW = α·dy·1[|W| ≤ c] in float64 (dW rounded once to T), then the factor
    /// gradients in T added into the float64 accumulators; the latent input gets a zero gradient.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        (T[] w, T[][] factors) = (Saved<T>)saved!;
        ReadOnlySpan<T> alpha = p[0];
        Span<double> dAlpha = p.Gradient(0);
        int n = w.Length / alpha.Length;
        T[] dW = new T[w.Length];
        for (int i = 0; i < w.Length; i++)
        {
            double a = Num.D(alpha[i / n]), g = Num.D(dy[i]), wi = Num.D(w[i]);
            dAlpha[i / n] += g * Forward(wi);
            dW[i] = Num.R<T>(a * g * Derivative(wi));
        }
        T[][] grads = FactorGradients(factors, _shape!, dW);
        for (int f = 0; f < grads.Length; f++)
        {
            Span<double> target = p.Gradient(f + 1);
            for (int i = 0; i < grads[f].Length; i++) target[i] += Num.D(grads[f][i]);
        }
        dx.Clear();
    }
}
/// <summary>Decomposed binary weights, matrix variant (docs/schemes/decomposed.md): the weight reshaped to
/// <c>W ∈ R^{O×n}</c> (n = C·kH·kW or the input features) is <c>U·Vᵀ</c>, U ∈ R^{O×r}, V ∈ R^{n×r}.</summary>
/// <remarks>Gradients: <c>dU = dW·V</c>, <c>dV = dWᵀ·U</c>. Init: truncated SVD W₀ ≈ P·diag(s)·Qᵀ of the initial weight,
/// U = P·diag(√s), V = Q·diag(√s) (balanced); exact at full rank r = min(O, n) (the default, capped at
/// <see cref="DecomposedSign.MaxRank"/>). See <see cref="DecomposedSign"/> for the rest. [STD]</remarks>
public sealed class MatrixDecomposedSign(int maxRank = 256, double steClip = double.PositiveInfinity, bool scaleFromMeanAbs = false, bool linearize = false, DType dtype = DType.Float32)
    : DecomposedSign(maxRank, steClip, scaleFromMeanAbs, linearize, dtype)
{
    /// <inheritdoc/>
    public override string Name => Linearize ? "matrix_decomposed_identity" : "matrix_decomposed_sign";

    /// <summary>The rank r used (0 before initialisation).</summary>
    public int UsedRank { get; private set; }

    private static (int O, int N) Dims(int[] shape) => (shape[0], Decompositions.Product(shape, 1, shape.Length));

    /// <inheritdoc/>
    protected override IReadOnlyList<(string Name, double[] Values, int[] Shape)> Factorize(double[] weight, int[] shape)
    {
        (int o, int n) = Dims(shape);
        int r = Rank(Math.Min(o, n));
        (double[] p, double[] s, double[] q) = Decompositions.TruncatedSvd(weight, o, n, r);
        for (int i = 0; i < o; i++) for (int c = 0; c < r; c++) p[i * r + c] *= Math.Sqrt(s[c]);
        for (int i = 0; i < n; i++) for (int c = 0; c < r; c++) q[i * r + c] *= Math.Sqrt(s[c]);
        UsedRank = r;
        return [("u", p, [o, r]), ("v", q, [n, r])];
    }

    /// <inheritdoc/>
    protected override T[] Reconstruct<T>(T[][] factors, int[] shape)
    {
        (int o, int n) = Dims(shape);
        int r = factors[0].Length / o;
        T[] w = new T[o * n];
        TypedDecompositions.MatMul(false, true, o, n, r, factors[0], factors[1], w);
        return w;
    }

    /// <inheritdoc/>
    protected override T[][] FactorGradients<T>(T[][] factors, int[] shape, T[] dW)
    {
        (int o, int n) = Dims(shape);
        int r = factors[0].Length / o;
        T[] dU = new T[o * r], dV = new T[n * r];
        TypedDecompositions.MatMul(false, false, o, r, n, dW, factors[1], dU);
        TypedDecompositions.MatMul(true, false, n, r, o, dW, factors[0], dV);
        return [dU, dV];
    }
}

/// <summary>Decomposed binary weights, Tucker variant (docs/schemes/decomposed.md): for a weight of shape
/// d₀×…×d_{N−1} (N = 2 for dense, 4 for conv), <c>W = G ×₀ U₀ ×₁ U₁ … ×_{N−1} U_{N−1}</c>, core G ∈ R^{r₀×…×r_{N−1}},
/// U_k ∈ R^{d_k×r_k}.</summary>
/// <remarks>Gradients: <c>dG = dW ×₀ U₀ᵀ … ×_{N−1} U_{N−1}ᵀ</c>; <c>dU_k[i, j] = Σ dW[…i…]·P_k[…j…]</c> with
/// <c>P_k = G ×_{m≠k} U_m</c>. Init: HOSVD of the initial weight — U_k = the r_k leading left singular vectors of the
/// mode-k unfolding, G = W₀ ×₀ U₀ᵀ … — exact at full ranks r_k = d_k (the default, each capped at
/// <see cref="DecomposedSign.MaxRank"/>). See <see cref="DecomposedSign"/> for the rest. [STD]</remarks>
/// <param name="maxRank">Cap on every rank (0 = full).</param>
/// <param name="steClip">STE mask bound (+∞ = identity).</param>
/// <param name="scaleFromMeanAbs">α init mean|W| (else 1).</param>
/// <param name="linearize">Identity instead of sign (gradient checks).</param>
/// <param name="dtype">Parameter dtype.</param>
/// <param name="ranks">Explicit per-mode ranks r_k (1 ≤ r_k ≤ d_k; overrides the capped full ranks), or null.</param>
public sealed class TuckerDecomposedSign(int maxRank = 256, double steClip = double.PositiveInfinity, bool scaleFromMeanAbs = false, bool linearize = false,
    DType dtype = DType.Float32, IReadOnlyList<int>? ranks = null)
    : DecomposedSign(maxRank, steClip, scaleFromMeanAbs, linearize, dtype)
{
    private int[] _ranks = [];
    private readonly int[]? _explicitRanks = ranks?.ToArray();

    /// <inheritdoc/>
    public override string Name => Linearize ? "tucker_decomposed_identity" : "tucker_decomposed_sign";

    /// <summary>The ranks r_k used (empty before initialisation).</summary>
    public IReadOnlyList<int> Ranks => _ranks;

    /// <inheritdoc/>
    protected override IReadOnlyList<(string Name, double[] Values, int[] Shape)> Factorize(double[] weight, int[] shape)
    {
        int modes = shape.Length;
        if (_explicitRanks is { } explicitRanks)
        {
            if (explicitRanks.Length != modes || explicitRanks.Where((r, k) => r < 1 || r > shape[k]).Any())
                throw new ArgumentException($"{Name}: ranks [{string.Join(", ", explicitRanks)}] do not fit weight shape {Shapes.Format(shape)} (one rank per axis, 1 ≤ r_k ≤ d_k).");
            _ranks = (int[])explicitRanks.Clone();
        }
        else _ranks = [.. shape.Select(Rank)];
        // a mode-k rank cannot exceed the rank of the mode-k unfolding (d_k × Π_{m≠k} d_m)
        for (int k = 0; k < modes; k++) _ranks[k] = Math.Min(_ranks[k], weight.Length / shape[k]);
        var us = new double[modes][];
        for (int k = 0; k < modes; k++)
        {
            double[] unfolded = Decompositions.Unfold(weight, shape, k);
            (us[k], _, _) = Decompositions.TruncatedSvd(unfolded, shape[k], weight.Length / shape[k], _ranks[k], seed: (ulong)(k + 1));
        }
        double[] core = weight;
        int[] dims = shape;
        for (int k = 0; k < modes; k++) core = Decompositions.ModeProduct(core, dims, k, us[k], shape[k], _ranks[k], transpose: true, out dims);
        var result = new List<(string, double[], int[])> { ("core", core, (int[])_ranks.Clone()) };
        for (int k = 0; k < modes; k++) result.Add(($"factor{k}", us[k], [shape[k], _ranks[k]]));
        return result;
    }

    /// <inheritdoc/>
    protected override T[] Reconstruct<T>(T[][] factors, int[] shape) => Chain(factors, shape, skip: -1, out _);

    /// <summary><c>G ×_{m≠skip} U_m</c> (all modes when skip = −1).</summary>
    private T[] Chain<T>(T[][] factors, int[] shape, int skip, out int[] dims) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T[] x = factors[0];
        dims = (int[])_ranks.Clone();
        for (int k = 0; k < shape.Length; k++)
            if (k != skip) x = TypedDecompositions.ModeProduct(x, dims, k, factors[k + 1], shape[k], _ranks[k], transpose: false, out dims);
        return x;
    }

    /// <inheritdoc/>
    protected override T[][] FactorGradients<T>(T[][] factors, int[] shape, T[] dW)
    {
        var grads = new T[shape.Length + 1][];
        T[] dG = dW;
        int[] dims = shape;
        for (int k = 0; k < shape.Length; k++) dG = TypedDecompositions.ModeProduct(dG, dims, k, factors[k + 1], shape[k], _ranks[k], transpose: true, out dims);
        grads[0] = dG;
        for (int k = 0; k < shape.Length; k++)
        {
            T[] p = Chain(factors, shape, k, out int[] pDims);
            grads[k + 1] = TypedDecompositions.ModeContract(dW, shape, p, pDims, k);
        }
        return grads;
    }
}
