namespace BinaryGrad.Binarization;

/// <summary>ProxConnect++ (Lu, Yu, Li, Partovi Nia, NeurIPS 2023) as one op: a forward quantizer F and a backward
/// quantizer B, both schedule-driven.</summary>
/// <remarks>
/// <para>Forward: w = F(θ). Backward: dθ = dw ⊙ B'(θ) (elementwise quantizers → diagonal Jacobian). Update: any
/// first-order optimizer on θ. This op form is our reading [REC] of "forward quantizer F^μ_r, backward quantizer B^μ_r"
/// (docs/schemes/proximal.md); the paper's literal F/B formulas, theorem and schedules were not retrieved.</para>
/// <para>Members (factories below): BinaryConnect (sign, id), BNN (sign, hardtanh), BNN+ (sign, SS_β), ProxConnect
/// (P_ρ, id), ProxQuant-like (P_ρ, P_ρ) and BNN++ (SS_β, SS_β). Why a triple: the decomposition criterion [REC] says a pair
/// with F = P ∘ B (P a monotone proximal map) behaves like ProxConnect run on B(θ); e.g. sign = sign ∘ hardtanh (BNN) and
/// sign = sign ∘ SS_β (BNN+), since SS_β is sign-preserving.</para>
/// <para>At test time (<see cref="Quantizer.Training"/> false) the annealed members deploy sign(θ) (sign(0) = +1) when
/// <see cref="SignAtInference"/>, so the deployed network is binary even if training ended before F reached sign.</para>
/// <para>Scalar view: Forward = F, Derivative = B'. When F and B are the same object the backward is the exact
/// derivative and the op is gradient-checked.</para>
/// </remarks>
public sealed class PcPlusPlus(string name, ElementMap forward, ElementMap backward, bool signAtInference = true) : ElementwiseQuantizer
{
    /// <summary>Forward quantizer F.</summary>
    public ElementMap ForwardMap { get; } = forward;
    /// <summary>Backward quantizer B (its derivative is the Jacobian used in backward).</summary>
    public ElementMap BackwardMap { get; } = backward;
    /// <summary>Deploy sign(θ) at test time.</summary>
    public bool SignAtInference { get; } = signAtInference;

    /// <inheritdoc/>
    public override string Name { get; } = name;
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Weight;
    /// <inheritdoc/>
    public override bool IsHardSign => ForwardMap.IsSign || (!Training && SignAtInference);
    /// <inheritdoc/>
    public override bool IsSmooth => ReferenceEquals(ForwardMap, BackwardMap) && ForwardMap.IsSmooth;

    /// <summary>F(x) in training; sign(x) at test time with <see cref="SignAtInference"/>.</summary>
    public override double Forward(double x) => !Training && SignAtInference ? BinaryMath.Sign(x) : ForwardMap.Value(x);

    /// <summary>B'(x).</summary>
    public override double Derivative(double x) => BackwardMap.Derivative(x);

    /// <summary>The maps' span methods (float32 kernels) when the deployed forward (F, or sign at test time) and B' both
    /// have a kernel (sign, identity, hardtanh, clip for F; those and SS_β for B'); otherwise the scalar pair for both,
    /// so which kernels run never depends on one map alone.</summary>
    private bool UsesKernels => (!Training && SignAtInference || ForwardMap.HasValueKernel) && BackwardMap.HasDerivativeKernel;

    /// <inheritdoc/>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        if (!UsesKernels) ScalarForward(x, y);
        else if (!Training && SignAtInference) DeployedSign.Values(x, y);
        else ForwardMap.Values(x, y);
        return null;
    }

    /// <inheritdoc/>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        if (UsesKernels) BackwardMap.DerivativeTimes(x, dy, dx);
        else ScalarBackward(x, dy, dx);
    }

    private static readonly ElementMap DeployedSign = ElementMap.Sign();

    /// <inheritdoc/>
    public override void OnProgress(TrainingProgress progress)
    {
        ForwardMap.OnProgress(progress);
        if (!ReferenceEquals(ForwardMap, BackwardMap)) BackwardMap.OnProgress(progress);
    }

    /// <summary>BC as PC++: (sign, identity) — dθ = dw (Courbariaux et al. 2015, arXiv:1511.00363; BC ⊂ PC ⊂ PC++ [V-abs]).</summary>
    public static PcPlusPlus BinaryConnect() => new("pc++_bc", ElementMap.Sign(), ElementMap.Identity());

    /// <summary>BNN as PC++: (sign, hardtanh) — dθ = dw·1[|θ| ≤ 1]. The B choice is [REC].</summary>
    public static PcPlusPlus Bnn() => new("pc++_bnn", ElementMap.Sign(), ElementMap.HardTanh());

    /// <summary>BNN+ as PC++: (sign, SS_β) — dθ = dw·SS'_β(θ). The B choice is [REC].</summary>
    public static PcPlusPlus BnnPlus(double beta = 5) => new("pc++_bnn+", ElementMap.Sign(), ElementMap.SignSwish(Schedule.Constant(beta)));

    /// <summary>ProxConnect: (P_ρ, identity) with ρ from <paramref name="rho"/> (default inverse cosine slope,
    /// [STD]): the network sees the soft-quantized P_ρ(θ), the gradient at that point updates θ directly.</summary>
    public static PcPlusPlus ProxConnect(Schedule? rho = null) =>
        new("proxconnect", ElementMap.Clip(rho ?? Schedule.InverseCosineSlope()), ElementMap.Identity());

    /// <summary>ProxQuant-like member (P_ρ, P_ρ): the exact gradient of the forward (our mapping [REC]).</summary>
    public static PcPlusPlus ProxQuant(Schedule? rho = null)
    {
        ElementMap p = ElementMap.Clip(rho ?? Schedule.InverseCosineSlope());
        return new("pc++_proxquant", p, p);
    }

    /// <summary>BNN++ (our default construction): (SS_β, SS_β) with β increased by <paramref name="beta"/> — forward
    /// sign-Swish [V-sec], backward SS'_β [REC], schedule [STD]; deploys sign(θ).</summary>
    public static PcPlusPlus BnnPlusPlus(Schedule? beta = null)
    {
        ElementMap ss = ElementMap.SignSwish(beta ?? Schedule.Geometric(5, 100));
        return new("bnn++", ss, ss);
    }

    /// <summary>BNN++ variant (ours): F = P_ρ ∘ SS_β (clip after sign-Swish, ρ annealed), B = SS_β. No source supports the
    /// extra clip [STD].</summary>
    public static PcPlusPlus BnnPlusPlusClip(double beta = 5, Schedule? rho = null) =>
        new("bnn++_clip", ElementMap.Compose(ElementMap.Clip(rho ?? Schedule.InverseCosineSlope()), ElementMap.SignSwish(Schedule.Constant(beta))),
            ElementMap.SignSwish(Schedule.Constant(beta)));
}
