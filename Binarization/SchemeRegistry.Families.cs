namespace BinaryGrad.Binarization;

public static partial class SchemeRegistry
{
    // Papers, cited as first author et al., year, and arXiv id or venue.
    private const string BinaryConnectPaper = "Courbariaux et al. 2015, NeurIPS (arXiv:1511.00363)";
    private const string BnnPaper = "Hubara et al. 2016, NeurIPS (arXiv:1602.02830)";
    private const string XnorPaper = "Rastegari et al. 2016, ECCV (arXiv:1603.05279)";
    private const string BiRealPaper = "Liu et al. 2018, ECCV (arXiv:1808.00278)";
    private const string BnnPlusPaper = "Darabi et al. 2018 (arXiv:1812.11800)";
    private const string ReActNetPaper = "Liu et al. 2020, ECCV (arXiv:2003.03488)";
    private const string DoReFaPaper = "Zhou et al. 2016 (arXiv:1606.06160)";
    private const string LabPaper = "Hou et al. 2017, ICLR (arXiv:1611.01600)";
    private const string RbnnPaper = "Lin et al. 2020, NeurIPS (arXiv:2009.13055)";
    private const string ProxConnectPaper = "Dockhorn et al. 2021, NeurIPS (arXiv:2110.13220)";
    private const string PcPlusPlusPaper = "Lu et al. 2023, NeurIPS (arXiv:2402.17710)";
    private const string BiPerPaper = "Vargas et al. 2024, CVPR (arXiv:2404.01278)";
    private const string SimanPaper = "Lin et al. 2022, IEEE TPAMI (arXiv:2102.07981)";
    private const string BdBnnPaper = "Rozen et al. 2022 (arXiv:2204.02004)";
    private const string ShulmanPaper = "placeholder motivated by Shulman 2021 (arXiv:2107.01400), not its method";
    private const string SelfBinarizingPaper = "Lahoud et al. 2019 (arXiv:1902.00730)";
    private const string DecomposedPaper = "Bulat et al. 2019 (arXiv:1904.07852)";
    private const string VispaPaper = "Orecchia et al. 2024, NeurIPS";
    private const string BayesBiNNPaper = "Meng et al. 2020, ICML (arXiv:2002.10778)";

    /// <summary>Family and paper of every built-in scheme, by name. The registry refuses to start when a built-in scheme
    /// is missing here, so every scheme has a family page and a citation.</summary>
    private static readonly IReadOnlyDictionary<string, (string Family, string Paper)> FamilyAndPaper =
        new Dictionary<string, (string, string)>
        {
            [FloatBaselineName] = (SchemeFamilies.Baseline, ""),
            ["binaryconnect"] = (SchemeFamilies.StraightThrough, BinaryConnectPaper),
            ["binaryconnect-stochastic"] = (SchemeFamilies.StraightThrough, BinaryConnectPaper),
            ["bnn"] = (SchemeFamilies.StraightThrough, BnnPaper),
            ["xnor"] = (SchemeFamilies.Scaling, XnorPaper),
            ["xnor-detached-scaled"] = (SchemeFamilies.Scaling, XnorPaper),
            ["xnor-detached-unscaled"] = (SchemeFamilies.Scaling, XnorPaper),
            ["approxsign"] = (SchemeFamilies.StraightThrough, BiRealPaper),
            ["swishsign"] = (SchemeFamilies.StraightThrough, BnnPlusPaper),
            ["magnitude-aware-sign"] = (SchemeFamilies.Scaling, BiRealPaper + "; as Larq implements it"),
            ["reactnet"] = (SchemeFamilies.StraightThrough, ReActNetPaper),
            ["dorefa"] = (SchemeFamilies.StraightThrough, DoReFaPaper),
            ["lab"] = (SchemeFamilies.Scaling, LabPaper),
            ["learned-scale"] = (SchemeFamilies.Scaling, RbnnPaper + "; " + SimanPaper + "; " + BiPerPaper),
            ["proxconnect"] = (SchemeFamilies.Proximal, ProxConnectPaper),
            ["pc++-bc"] = (SchemeFamilies.Proximal, PcPlusPlusPaper),
            ["pc++-bnn"] = (SchemeFamilies.Proximal, PcPlusPlusPaper),
            ["pc++-bnn+"] = (SchemeFamilies.Proximal, PcPlusPlusPaper),
            ["pc++-proxquant"] = (SchemeFamilies.Proximal, PcPlusPlusPaper),
            ["bnn++"] = (SchemeFamilies.Proximal, PcPlusPlusPaper),
            ["bnn++-clip"] = (SchemeFamilies.Proximal, PcPlusPlusPaper),
            ["biper"] = (SchemeFamilies.StraightThrough, BiPerPaper),
            ["siman"] = (SchemeFamilies.StraightThrough, SimanPaper),
            ["rbnn-sign"] = (SchemeFamilies.StraightThrough, RbnnPaper),
            ["rbnn"] = (SchemeFamilies.Rotation, RbnnPaper),
            ["bd-bnn"] = (SchemeFamilies.StraightThrough, BdBnnPaper),
            ["group-soft-binary"] = (SchemeFamilies.GroupTransform, ShulmanPaper),
            ["group-sphere-relax"] = (SchemeFamilies.GroupTransform, ShulmanPaper),
            ["self-binarizing"] = (SchemeFamilies.Smooth, SelfBinarizingPaper),
            ["decomposed-matrix"] = (SchemeFamilies.Decomposed, DecomposedPaper),
            ["decomposed-tucker"] = (SchemeFamilies.Decomposed, DecomposedPaper),
            ["vispa"] = (SchemeFamilies.Probabilistic, VispaPaper),
            ["vispa-1w32a"] = (SchemeFamilies.Probabilistic, VispaPaper),
            [BayesBiNNName] = (SchemeFamilies.Probabilistic, BayesBiNNPaper),
        };

    /// <summary><paramref name="scheme"/> with its family and paper set from <see cref="FamilyAndPaper"/>.</summary>
    private static SchemeInfo WithFamily(SchemeInfo scheme) =>
        FamilyAndPaper.TryGetValue(scheme.Name, out var fp)
            ? scheme with { Family = fp.Family, Paper = fp.Paper }
            : throw new InvalidOperationException($"SchemeRegistry: built-in scheme '{scheme.Name}' has no family; add it to FamilyAndPaper.");
}
