namespace BinaryGrad.Binarization;

public static partial class SchemeRegistry
{
    /// <summary>Related methods: BiPer, SiMaN and BD-BNN (straight-through family) and RBNN (rotation family). Their per-output-channel learnable α on the
    /// conv output belongs to the layer (or use <see cref="LearnedScaleSign"/>); it is not part of these quantizers.</summary>
    private static IEnumerable<SchemeInfo> SurrogatesAndRotation()
    {
        yield return new("biper", "BiPer: weights sign(sin(ωθ)) (stage 2) or sin(ωθ) (stage 1) with ω·cos(ωθ) backward; activations sign(a/std) with ApproxSign surrogate.",
            Provenance.VerifiedCode, "§9.1",
            [Hp("omega", 20, 1e-3, 1e4, "Frequency ω of the periodic function (README/scripts: 20; options default 30)."),
             Hp("stage", 2, 1, 2, "1: real weights sin(ωθ) (smooth); 2: binary weights sign(sin(ωθ)).", integer: true)],
            a => new SchemeInstance(new PeriodicSign(a["omega"], a.Int("stage")), new StandardizedSign(center: false))) { Family = SchemeFamilies.StraightThrough, Paper = BiPerPaper };

        yield return new("siman", "SiMaN: per filter the largest-|standardised θ| half becomes +1, the rest −1 (sign discarded); latent clipping with percentile 15(1 − e/E); standardised ApproxSign activations.",
            Provenance.VerifiedCode, "§9.4",
            [Hp("percent", 15, 0, 50, "Initial clipping percentile p (decays linearly to 0 over epochs)."),
             Hp("clip-latent", 1, 0, 1, "1: clip and re-centre the latent weights in place every training forward (reference); 0: skip.", integer: true)],
            a => new SchemeInstance(new SimanSign(a["percent"], a.Flag("clip-latent")), new StandardizedSign(center: true))) { Family = SchemeFamilies.StraightThrough, Paper = SimanPaper };

        HyperParameter tMin = Hp("t-min", 1e-2, 1e-6, 1e6, "T_min of the log-linear (per epoch) t schedule of the surrogate.");
        HyperParameter tMax = Hp("t-max", 10, 1e-6, 1e6, "T_max of the t schedule.");
        yield return new("rbnn-sign", "RBNN's training-aware sign surrogate k·(√2t − t²|x|)₊ on weights and activations, without the rotation.",
            Provenance.VerifiedCode, "§9.5", [tMin, tMax],
            a => new SchemeInstance(new RbnnSign(false, a["t-min"], a["t-max"]), new RbnnSign(true, a["t-min"], a["t-max"]))) { Family = SchemeFamilies.StraightThrough, Paper = RbnnPaper };

        yield return new("rbnn", "RBNN: standardised weights rotated by learned bi-rotation R1ᵀXR2 (3 alternating SVD steps per forward), blended by |sin φ|, then sign with the k(√2t − t²|x|)₊ surrogate; same surrogate on activations.",
            Provenance.VerifiedCode, "§9.5",
            [ChannelsHp, tMin, tMax, Hp("seed", 1, 0, int.MaxValue, "Seed of the initial random orthogonal R1, R2.", integer: true),
             Hp("rotation-update", 1, 1, 1000, "Update the rotation in epochs with epoch % k == 0 (1 = every forward).", integer: true),
             Hp("rotation-steps", 1, 1, 1_000_000, "Within an update epoch, update on every s-th forward only (1 = every forward, the reference; larger is a cost knob of ours).", integer: true),
             // φ = π/2 (the RBNN paper's text, Lin et al. 2020) is a saddle of the stated backward: dw2 = dw3·(1 − |sin φ|) = 0 and
             // dφ ∝ cos φ = 0, so θ never receives a gradient (MNIST MLP: 11 %, chance). The reference commit draws U(0, π/2).
             Hp("random-angle", 1, 0, 1, "1: φ ~ U(0, π/2) as the reference code draws it; 0: φ = π/2 (the paper's text — a saddle where θ gets no gradient).", integer: true)],
            a => new SchemeInstance(new RotatedSign(a.Int("channels"), (ulong)a.Int("seed"), a.Int("rotation-update"), a["t-min"], a["t-max"], dtype: a.ParameterDType,
                    rotationSteps: a.Int("rotation-steps"), randomAngle: a.Flag("random-angle")),
                new RbnnSign(true, a["t-min"], a["t-max"]))) { Family = SchemeFamilies.Rotation, Paper = RbnnPaper };

        yield return new("bd-bnn", "BD-BNN kurtosis regularizer λ·avg_l (Kurt(W_l) − K_T)² toward bimodal latent weights; quantizers are BNN's (sign weights with identity STE, sign activations with clipped STE) — the BD-BNN repository's own quantizers were not retrieved.",
            Provenance.VerifiedCode, "§9.6",
            [Hp("target", 1.8, 1, 10, "Target kurtosis K_T (two-point 1, uniform 1.8, Gaussian 3)."),
             Hp("lambda", 1, 0, 1e3, "Weight λ of the penalty."),
             Hp("reduction", 0, 0, 2, "0: average over layers, 1: sum, 2: max.", integer: true)],
            a => new SchemeInstance(new BinaryConnect(1), new SteSign(),
                new KurtosisRegularizer(a["target"], a["lambda"], (KurtosisReduction)a.Int("reduction")))) { Family = SchemeFamilies.StraightThrough, Paper = BdBnnPaper };
    }
}
