namespace BinaryGrad.Binarization;

public static partial class SchemeRegistry
{
    /// <summary>methods.md §2 and Part II §1: ProxConnect, the PC++ family and BNN++.</summary>
    private static IEnumerable<SchemeInfo> Section2() => [];
}
