namespace BinaryGrad.Binarization;

public static partial class SchemeRegistry
{
    /// <summary>ProxConnect (Dockhorn et al. 2021, arXiv:2110.13220), the PC++ family and BNN++ (Lu et al. 2023,
    /// arXiv:2402.17710), on the weights; activations use the BNN clipped-STE sign (Hubara et al. 2016) — that these
    /// schemes binarize weights only is itself an unconfirmed recollection [REC].</summary>
    private static IEnumerable<SchemeInfo> Proximal()
    {
        HyperParameter eps = Hp("epsilon", 1e-6, 1e-12, 0.5, "Floor ε of the inverse slope: ρ = 1/max(ε, ½(1 + cos(π t/T))), so ρ goes 1 → 1/ε.");
        HyperParameter beta = Hp("beta", 5, 1e-3, 1e3, "Sharpness β of sign-Swish SS_β.");

        yield return new("proxconnect",
            "ProxConnect: w = P_ρ(θ) = clip(ρθ, −1, 1) with ρ annealed 1 → ∞ (inverse cosine slope), dθ = dw; deploys sign(θ).",
            Provenance.StandardConstruction, "§2.2, §2.4", [eps],
            a => new SchemeInstance(PcPlusPlus.ProxConnect(Schedule.InverseCosineSlope(a["epsilon"])), new SteSign())) { Family = SchemeFamilies.Proximal, Paper = ProxConnectPaper };

        yield return new("pc++-bc", "PC++ member (sign, identity): BinaryConnect expressed as a forward/backward quantizer pair.",
            Provenance.VerifiedCode, "§2.3, Part II §1.2(c)", [],
            _ => new SchemeInstance(PcPlusPlus.BinaryConnect(), new SteSign())) { Family = SchemeFamilies.Proximal, Paper = PcPlusPlusPaper };

        yield return new("pc++-bnn", "PC++ member (sign, hardtanh): dθ = dw·1[|θ| ≤ 1]; the B choice for BNN is our reading.",
            Provenance.StandardConstruction, "§2.3, Part II §1.2(c)", [],
            _ => new SchemeInstance(PcPlusPlus.Bnn(), new SteSign())) { Family = SchemeFamilies.Proximal, Paper = PcPlusPlusPaper };

        yield return new("pc++-bnn+", "PC++ member (sign, SS_β): dθ = dw·SS'_β(θ); the B choice for BNN+ is our reading.",
            Provenance.StandardConstruction, "§2.3, Part II §1.2(c)", [beta],
            a => new SchemeInstance(PcPlusPlus.BnnPlus(a["beta"]), new SteSign())) { Family = SchemeFamilies.Proximal, Paper = PcPlusPlusPaper };

        yield return new("pc++-proxquant", "PC++ member (P_ρ, P_ρ): exact gradient of the annealed clip(ρθ) (our ProxQuant-like mapping).",
            Provenance.StandardConstruction, "§2.3, §2.4", [eps],
            a => new SchemeInstance(PcPlusPlus.ProxQuant(Schedule.InverseCosineSlope(a["epsilon"])), new SteSign())) { Family = SchemeFamilies.Proximal, Paper = PcPlusPlusPaper };

        yield return new("bnn++", "BNN++ default: forward and backward quantizer sign-Swish SS_β with β raised geometrically per step; deploys sign(θ).",
            Provenance.StandardConstruction, "Part II §1.3",
            [Hp("beta-start", 5, 1e-3, 1e4, "β at the start of training."), Hp("beta-end", 100, 1e-3, 1e4, "β at the end of training (geometric per step).")],
            a => new SchemeInstance(PcPlusPlus.BnnPlusPlus(Schedule.Geometric(a["beta-start"], a["beta-end"])), new SteSign())) { Family = SchemeFamilies.Proximal, Paper = PcPlusPlusPaper };

        yield return new("bnn++-clip", "BNN++ variant (ours): forward P_ρ(SS_β(θ)) with ρ annealed, backward SS'_β; the clip is unsupported by any source.",
            Provenance.StandardConstruction, "§2.5", [beta, eps],
            a => new SchemeInstance(PcPlusPlus.BnnPlusPlusClip(a["beta"], Schedule.InverseCosineSlope(a["epsilon"])), new SteSign())) { Family = SchemeFamilies.Proximal, Paper = PcPlusPlusPaper };
    }
}
