namespace BinaryGrad.Binarization;

public static partial class SchemeRegistry
{
    /// <summary>methods.md §9: related methods (BiPer, SiMaN, RBNN surrogate, BD-BNN).</summary>
    private static IEnumerable<SchemeInfo> Section9() => [];
}
