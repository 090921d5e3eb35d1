using BinaryGrad.Autograd;

namespace BinaryGrad.Cli.Commands;

/// <summary>Every registered gradient check: ops, then layers, then smooth binarization schemes. The tests
/// enumerate the same list, so the CLI and the test suite can never disagree about what is covered.</summary>
public static class GradCheckCatalog
{
    /// <summary>All cases in a stable order.</summary>
    public static IReadOnlyList<GradCheckCase> All { get; } = [.. OpGradChecks.All, .. Layers.LayerGradChecks.All, .. Binarization.SchemeGradChecks.All];
}
