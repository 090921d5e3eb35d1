namespace BinaryGrad.Binarization;

public static partial class SchemeRegistry
{
    // Papers the built-in schemes cite (SchemeInfo.Paper), as first author et al., year, and arXiv id or venue.
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

    /// <summary><paramref name="scheme"/> as registered, after checking that its entry names a family (and so a page under
    /// <c>docs/schemes/</c>) and a paper: every built-in scheme sets both where it is registered, so adding a scheme is one
    /// entry in one place.</summary>
    private static SchemeInfo CheckedBuiltIn(SchemeInfo scheme) =>
        scheme.Family == SchemeFamilies.Custom || (scheme.Paper.Length == 0 && scheme.Family != SchemeFamilies.Baseline)
            ? throw new InvalidOperationException($"SchemeRegistry: built-in scheme '{scheme.Name}' sets no family or paper; give its entry {{ Family = …, Paper = … }}.")
            : scheme;
}
