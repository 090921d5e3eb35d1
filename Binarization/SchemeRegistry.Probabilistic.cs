namespace BinaryGrad.Binarization;

public static partial class SchemeRegistry
{
    /// <summary>Name of BayesBiNN's scheme: training with it implies the BayesBiNN optimizer (<see cref="SchemeOptimizer.BayesBiNN"/>).</summary>
    public const string BayesBiNNName = "bayesbinn";

    /// <summary>VISPA (Orecchia et al. 2024, NeurIPS) and BayesBiNN (Meng et al. 2020, arXiv:2002.10778): schemes whose weights are random variables, sampled in training
    /// and averaged over samples (or replaced by the mode) at test time.</summary>
    private static IEnumerable<SchemeInfo> Probabilistic()
    {
        // Measured on the MNIST MLP (1 epoch, width 64): Adam 1e-3 → 21 %, the official SGD 0.5 → 51 % (it is meant for
        // 200–600 epochs), Adam 0.02 → 84 %; 3 epochs at width 1024 with Adam 0.02 → 96.0 %.
        const double VispaAdamLearningRate = 0.02;
        HyperParameter varianceScale = Hp("variance-scale", 100, 1e-6, 1e12, "S: Σ = ZᵀZ/S, r ~ N(0, I/S) (official 100).");
        HyperParameter vispaSamples = Hp("test-samples", 40, 1, 10000, "L: evaluation averages the logits of L forward passes, each with a fresh sample (official 40).", integer: true);

        yield return new("vispa", "VISPA 1W1A: weights sign(m + Zᵀr), r ~ N(0, I/S), after projecting m² + ‖Z‖²/S = 1; backward dm = db, dZ = √S·r⊗db; activations sign with ApproxSign backward; test logits averaged over L samples.",
            Provenance.VerifiedCode, "§4.3",
            [Hp("rank", 4, 1, 64, "K: rank of the covariance factor Z (official 1W1A CIFAR: 4).", integer: true), varianceScale, vispaSamples],
            a => new SchemeInstance(new SdpBinaryWeight(a.Int("rank"), a["variance-scale"], a.Int("test-samples")), new ApproxSign()))
        { Family = SchemeFamilies.Probabilistic, Paper = VispaPaper, AdamLearningRate = VispaAdamLearningRate };

        yield return new("vispa-1w32a", "VISPA 1W32A: the same sampled binary weights with real-valued activations (ReLU in the MLP).",
            Provenance.VerifiedCode, "§4.3",
            [Hp("rank", 8, 1, 64, "K: rank of the covariance factor Z (official 1W32A: 8).", integer: true), varianceScale, vispaSamples],
            a => new SchemeInstance(new SdpBinaryWeight(a.Int("rank"), a["variance-scale"], a.Int("test-samples")), null))
        { Family = SchemeFamilies.Probabilistic, Paper = VispaPaper, AdamLearningRate = VispaAdamLearningRate };

        yield return new(BayesBiNNName, "BayesBiNN: latent = natural parameters λ (init ±10); training loads tanh((λ+δ)/τ), δ logistic noise, and the bayesbinn optimizer applies the Bayesian learning rule; test: mode sign(λ) or logits averaged over Bernoulli samples. Real activations (ReLU).",
            Provenance.VerifiedCode, "§5.2–5.5",
            [Hp("temperature", 1e-10, 1e-12, 1e3, "τ of the concrete relaxation (official 1e-10)."),
             Hp("test-samples", 0, 0, 10000, "0: evaluate the mode sign(λ); S > 0: average the logits of S Bernoulli(σ(2λ)) samples.", integer: true),
             Hp("lambda-init", 10, 0, 1e6, "|λ| at initialisation (random sign)."),
             Hp("lambda-std", 0, 0, 1e6, "Variance of the initial |λ| (adds √λ_std·ε)."),
             Hp("noise-seed", 0, 0, int.MaxValue, "0: fresh relaxation noise every forward; k > 0: the same draw every forward (gradient checks).", integer: true),
             Hp("kl-reweight", 1, 0, 1e6, "Optimizer: κ, weight of the KL term κ(λ − λ0)."),
             Hp("prior-lambda", 0, -1e6, 1e6, "Optimizer: λ0, the prior's natural parameter."),
             Hp("momentum", 0, 0, 0.999999, "Optimizer: β of the momentum on the natural gradient (bias-corrected)."),
             Hp("train-set-scale", 1, 1e-6, 1e6, "Optimizer: N = training images × this (official MNIST 1, CIFAR 10).")],
            a => new SchemeInstance(new ConcreteBinaryWeight(a["temperature"], a.Int("test-samples"), a["lambda-init"], a["lambda-std"], (ulong)a.Int("noise-seed")), null))
        { Family = SchemeFamilies.Probabilistic, Paper = BayesBiNNPaper, ImpliedOptimizer = SchemeOptimizer.BayesBiNN };
    }
}
