namespace BinaryGrad.Binarization;

/// <summary>BiPer weight binarization with a periodic function (CVPR 2024, arXiv 2404.01278).</summary>
/// <remarks>
/// Stage 1 (real weights): w = sin(ωθ), dθ = dw·ω·cos(ωθ) — exact, so stage 1 is smooth and gradient-checked.
/// Stage 2 (binary weights): w = sign(sin(ωθ)), a ±1 square wave of period 2π/ω; dθ = dw·ω·cos(ωθ) (identity STE on
/// the outer sign, exact derivative of the sine of the same period). The periodic latent-to-binary map lets a weight
/// flip without crossing 0 and keeps gradients bounded. Default ω = 20 (README/scripts; the options default is 30).
/// sign(0) = +1 here (the reference uses torch.sign, which gives 0 at exactly sin(ωθ) = 0).
/// Provenance: verified-code (edmav4/BiPer cifar10/modules/binarized_modules.py). Paper: Vargas et al. 2024, arXiv:2404.01278. See docs/schemes/straight-through.md.
/// </remarks>
public sealed class PeriodicSign(double omega = 20, int stage = 2) : ElementwiseQuantizer
{
    /// <summary>Frequency ω &gt; 0.</summary>
    public double Omega { get; } = omega > 0 ? omega : throw new ArgumentOutOfRangeException(nameof(omega), omega, "PeriodicSign: ω must be > 0.");
    /// <summary>1 = sin(ωθ) (real), 2 = sign(sin(ωθ)) (binary).</summary>
    public int Stage { get; } = stage is 1 or 2 ? stage : throw new ArgumentOutOfRangeException(nameof(stage), stage, "PeriodicSign: stage must be 1 or 2.");

    /// <inheritdoc/>
    public override string Name => Stage == 1 ? "periodic_sine" : "periodic_sign";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Weight;
    /// <inheritdoc/>
    public override bool IsHardSign => Stage == 2;
    /// <inheritdoc/>
    public override bool IsSmooth => Stage == 1;

    /// <summary>sin(ωx) (stage 1) or sign(sin(ωx)) (stage 2).</summary>
    public override double Forward(double x) => Stage == 1 ? Math.Sin(Omega * x) : BinaryMath.Sign(Math.Sin(Omega * x));

    /// <summary>ω·cos(ωx).</summary>
    public override double Derivative(double x) => Omega * Math.Cos(Omega * x);
}
