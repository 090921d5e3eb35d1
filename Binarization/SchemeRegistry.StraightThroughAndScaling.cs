namespace BinaryGrad.Binarization;

public static partial class SchemeRegistry
{
    /// <summary>The float baseline, the straight-through binarizers (BinaryConnect, BNN, Bi-Real, BNN+, ReActNet,
    /// DoReFa) and the scaled signs (XNOR-Net, magnitude-aware, LAB, learned scale).</summary>
    private static IEnumerable<SchemeInfo> StraightThroughAndScaling()
    {
        yield return new(FloatBaselineName, "Full precision: no quantizer on weights or activations (the float baseline).",
            Provenance.VerifiedCode, "§0", [], _ => new SchemeInstance(null, null)) { Family = SchemeFamilies.Baseline, Paper = "" };

        HyperParameter h = Hp("h", 1, 1e-6, 100, "Binary magnitude H: w_b = ±H (Glorot option: BinaryConnect.GlorotH).");
        yield return new("binaryconnect", "BinaryConnect, deterministic: w_b = H·sign(θ), identity straight-through; real activations.",
            Provenance.VerifiedCode, "§1.1", [h], a => new SchemeInstance(new BinaryConnect(a["h"]), null)) { Family = SchemeFamilies.StraightThrough, Paper = BinaryConnectPaper };

        yield return new("binaryconnect-stochastic",
            "BinaryConnect, stochastic: w_b = +H with probability hard_sigmoid(θ/H), identity straight-through; test time uses θ by default.",
            Provenance.VerifiedCode, "§1.1",
            [h, Hp("seed", 1, 0, int.MaxValue, "Seed of the Bernoulli sampling stream.", integer: true),
             Hp("test-uses-latent", 1, 0, 1, "1: the test-time network uses the real θ (reference code); 0: H·sign(θ).", integer: true),
             Hp("glorot-h", 1, 0, 1, "1: per layer H = sqrt(1.5/(fan_in + fan_out)), the reference's Glorot option — equivalent to its W_LR_scale = 1/H learning-rate boost (BN absorbs the output scale); 0: the given h.", integer: true)],
            a => new SchemeInstance(new BinaryConnect(a["h"], stochastic: true, (ulong)a.Int("seed"), a.Flag("test-uses-latent"), glorotH: a.Flag("glorot-h")), null)) { Family = SchemeFamilies.StraightThrough, Paper = BinaryConnectPaper };

        yield return new("bnn",
            "BinaryNet: sign weights with identity STE (BinaryConnect H = 1) and sign activations with the clipped STE 1[|x| ≤ 1].",
            Provenance.VerifiedCode, "§1.2",
            [ActivationClip, Hp("weight-mask", 0, 0, 1, "1: mask the weight gradient with 1[|θ| ≤ 1] (Larq ste_sign + weight_clip); 0: none (Theano code).", integer: true)],
            a => new SchemeInstance(a.Flag("weight-mask") ? new SteSign(1) : new BinaryConnect(1), new SteSign(a["activation-clip"]))) { Family = SchemeFamilies.StraightThrough, Paper = BnnPaper };

        foreach ((string suffix, ScaleGradMode mode, string what) in new[]
                 {
                     ("", ScaleGradMode.Exact, "exact chain rule through α (default)"),
                     ("-detached-scaled", ScaleGradMode.DetachedScaledSte, "α detached, STE scaled by α (Larq)"),
                     ("-detached-unscaled", ScaleGradMode.DetachedUnscaledSte, "α detached, plain clipped STE (Bi-Real/ReActNet PyTorch)"),
                 })
            yield return new("xnor" + suffix, $"XNOR-Net: per-output-channel α·sign(θ) weights, {what}; sign activations with clipped STE (no K map).",
                Provenance.VerifiedCode, "§1.3", [ActivationClip],
                a => new SchemeInstance(new ScaledSign(mode), new SteSign(a["activation-clip"]))) { Family = SchemeFamilies.Scaling, Paper = XnorPaper };

        yield return new("approxsign", "Bi-Real Net: ApproxSign activations (2 − 2|x|)₊ surrogate; α·sign(θ) weights with the detached unscaled STE.",
            Provenance.VerifiedCode, "§1.4", [],
            _ => new SchemeInstance(new ScaledSign(ScaleGradMode.DetachedUnscaledSte), new ApproxSign())) { Family = SchemeFamilies.StraightThrough, Paper = BiRealPaper };

        yield return new("swishsign", "SwishSign (BNN+): sign forward with the sign-Swish derivative SS'_β as surrogate, on weights and activations.",
            Provenance.VerifiedCode, "§1.5", [Hp("beta", 5, 1e-3, 1e3, "Sharpness β of SS_β.")],
            a => new SchemeInstance(new SwishSign(a["beta"]), new SwishSign(a["beta"]))) { Family = SchemeFamilies.StraightThrough, Paper = BnnPlusPaper };

        yield return new("magnitude-aware-sign", "Larq MagnitudeAwareSign weights (detached mean|θ| scale, clipped STE); sign activations with clipped STE.",
            Provenance.VerifiedCode, "§1.6",
            [Hp("clip", 1, 1e-6, double.PositiveInfinity, "STE mask bound of the weight quantizer (∞ = none)."), ActivationClip],
            a => new SchemeInstance(new MagnitudeAwareSign(a["clip"]), new SteSign(a["activation-clip"]))) { Family = SchemeFamilies.Scaling, Paper = BiRealPaper + "; as Larq implements it" };

        yield return new("reactnet", "ReActNet: RSign activations (learnable threshold, ApproxSign surrogate), RPReLU nonlinearity, α·sign(θ) weights (detached unscaled STE).",
            Provenance.VerifiedCode, "§1.7", [ChannelsHp],
            a => new SchemeInstance(new ScaledSign(ScaleGradMode.DetachedUnscaledSte), new RSign(a.Int("channels"), a.ParameterDType),
                Nonlinearity: new RPReLU(a.Int("channels"), a.ParameterDType))) { Family = SchemeFamilies.StraightThrough, Paper = ReActNetPaper };

        yield return new("dorefa", "DoReFa k-bit quantizer (Larq): round(clip(x,0,1)·n)/n activations, tanh-normalised weights, identity through round.",
            Provenance.VerifiedCode, "§1.8", [Hp("bits", 2, 1, 16, "Bit width k (n = 2^k − 1 levels).", integer: true)],
            a => new SchemeInstance(new DoReFa(a.Int("bits"), DoReFaMode.Weights), new DoReFa(a.Int("bits"), DoReFaMode.Activations))) { Family = SchemeFamilies.StraightThrough, Paper = DoReFaPaper };

        yield return new("lab", "Loss-aware binarization: α·sign(θ) with α = Σ|d⊙θ|/Σd, d = sqrt(v) + 1e-8 (Adam second moment); identity STE; real activations.",
            Provenance.VerifiedCode, "§1.10", [Hp("beta2", 0.999, 0, 0.999999, "EMA rate β2 of the squared-gradient moment v.")],
            a => new SchemeInstance(new Lab(a["beta2"]), null)) { Family = SchemeFamilies.Scaling, Paper = LabPaper };

        yield return new("learned-scale", "Learnable per-output-channel scale α_o·sign(θ) (init mean|θ|), clipped STE; sign activations with clipped STE.",
            Provenance.VerifiedCode, "§1.9", [ChannelsHp, ActivationClip],
            a => new SchemeInstance(new LearnedScaleSign(a.Int("channels"), dtype: a.ParameterDType), new SteSign(a["activation-clip"]))) { Family = SchemeFamilies.Scaling, Paper = RbnnPaper + "; " + SimanPaper + "; " + BiPerPaper };
    }
}
