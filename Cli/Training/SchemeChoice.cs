using BinaryGrad.Binarization;

namespace BinaryGrad.Cli.Training;

/// <summary>The one place a <c>--scheme</c> text becomes a scheme: commands resolve it here, where the text enters
/// (the command line, a checkpoint's metadata), and pass the <see cref="SchemeInfo"/> on. The float model is null
/// rather than the registry's float baseline, because <c>--scheme none</c> builds a different network (the float
/// MLP/CNN), not the binary one with no quantizers.</summary>
public static class SchemeChoice
{
    /// <summary>The <c>--scheme</c> value that asks for the float model.</summary>
    public const string FloatModel = SchemeRegistry.FloatBaselineName;

    /// <summary>The scheme of a model: null for the float model (<c>--scheme none</c>), else the registered scheme.</summary>
    /// <exception cref="UsageException">An unknown name; the message lists the valid ones.</exception>
    public static SchemeInfo? ForModel(string name) => name == FloatModel ? null : Registered(name);

    /// <summary>The registered scheme called <paramref name="name"/>, the float baseline included (for uses where
    /// "none" is a scheme like any other, e.g. the quantizer that plays sign in an explained expression).</summary>
    /// <exception cref="UsageException">An unknown name; the message lists the valid ones.</exception>
    public static SchemeInfo Registered(string name) =>
        SchemeRegistry.TryGet(name, out SchemeInfo? scheme) ? scheme! : throw new UsageException(UnknownMessage(name));

    /// <summary>The one-line error for a name that is not registered.</summary>
    public static string UnknownMessage(string name) => $"--scheme '{name}' is not known; valid schemes: {string.Join(", ", SchemeRegistry.Names)}.";

    /// <summary>The name a run is shown, reported (<c>--json</c>) and checkpointed under: the scheme's, or
    /// <see cref="FloatModel"/> for the float model.</summary>
    public static string NameOf(SchemeInfo? scheme) => scheme?.Name ?? FloatModel;
}
