namespace BinaryGrad.Binarization;

/// <summary>Every binarization scheme by stable kebab-case name (the names training recipes and the CLI use).</summary>
/// <remarks>Entries are grouped by family in the <c>SchemeRegistry.*.cs</c> files; each entry sets its scheme's family
/// and paper itself (the citations are constants in <c>SchemeRegistry.Papers.cs</c>), so a new scheme is one entry plus
/// its quantizer's file and test. The catalog is static because the tests and the CLI enumerate it.</remarks>
public static partial class SchemeRegistry
{
    private static readonly Lazy<IReadOnlyList<SchemeInfo>> _all = new(() =>
    {
        List<SchemeInfo> all = [.. new[] { StraightThroughAndScaling(), Proximal(), SurrogatesAndRotation(), GroupSmoothDecomposed(), Probabilistic() }
            .SelectMany(s => s).Select(CheckedBuiltIn)];
        var duplicate = all.GroupBy(s => s.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new InvalidOperationException($"SchemeRegistry: duplicate name '{duplicate.Key}'.");
        return all;
    });

    /// <summary>Name of the float baseline, the scheme with no quantizer. The CLI reads <c>--scheme none</c> as "build
    /// the float model" rather than a binary model with this scheme.</summary>
    public const string FloatBaselineName = "none";

    private static readonly object _userLock = new();
    private static IReadOnlyList<SchemeInfo> _userSchemes = [];

    /// <summary>All schemes in registration order: the built-in ones, then those added with <see cref="Register"/>.</summary>
    public static IReadOnlyList<SchemeInfo> All => _userSchemes.Count == 0 ? _all.Value : [.. _all.Value, .. _userSchemes];

    /// <summary>Adds a user-defined scheme (e.g. built from a <see cref="FunctionQuantizer"/>), so that everything that
    /// enumerates or looks up schemes by name — model builders, <c>SchemeRegistry.Create</c>, the side-by-side tools —
    /// sees it for the rest of the process.</summary>
    /// <exception cref="ArgumentException">The name is not kebab-case or is already taken (built-in names cannot be
    /// replaced, so published results keep meaning what they say).</exception>
    public static void Register(SchemeInfo scheme)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        if (!System.Text.RegularExpressions.Regex.IsMatch(scheme.Name, "^[a-z0-9]+(?:[-+.][a-z0-9+]+)*$"))
            throw new ArgumentException($"Scheme name '{scheme.Name}' must be lower-case kebab-case, e.g. 'my-sign'.", nameof(scheme));
        lock (_userLock)
        {
            if (All.Any(s => s.Name == scheme.Name))
                throw new ArgumentException($"A scheme named '{scheme.Name}' is already registered; pick another name.", nameof(scheme));
            _userSchemes = [.. _userSchemes, scheme];
        }
    }

    /// <summary>All names.</summary>
    public static IEnumerable<string> Names => All.Select(s => s.Name);

    /// <summary>The scheme called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the valid names.</exception>
    public static SchemeInfo Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return All.FirstOrDefault(s => s.Name == name)
               ?? throw new ArgumentException($"Unknown binarization scheme '{name}'. Valid names: {string.Join(", ", Names)}.", nameof(name));
    }

    /// <summary>True and the scheme when <paramref name="name"/> is registered.</summary>
    public static bool TryGet(string name, out SchemeInfo? scheme)
    {
        scheme = All.FirstOrDefault(s => s.Name == name);
        return scheme is not null;
    }

    /// <summary>Shorthand for <c>Get(name).Create(overrides)</c>.</summary>
    public static SchemeInstance Create(string name, IReadOnlyDictionary<string, double>? overrides = null) =>
        Get(name).Create(overrides ?? new Dictionary<string, double>());

    private static HyperParameter Hp(string name, double @default, double min, double max, string description, bool integer = false) =>
        new(name, @default, min, max, description, integer);

    private static readonly HyperParameter ActivationClip =
        Hp("activation-clip", 1, 1e-6, double.PositiveInfinity, "STE mask bound c of the activation sign: dx = dy·1[|x| ≤ c] (∞ = identity STE).");

    private static readonly HyperParameter ChannelsHp =
        Hp("channels", 1, 1, 1 << 20, "Channels of the learnable per-channel parameters (1 = one value shared by all).", integer: true);
}
