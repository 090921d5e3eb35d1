namespace BinaryGrad.Binarization;

/// <summary>The families the built-in schemes are grouped into. Each family has one documentation page,
/// <c>docs/schemes/&lt;family&gt;.md</c>, with every member's forward and backward, hyper-parameters, provenance and paper.</summary>
/// <remarks>The grouping is by how the scheme gets a gradient through the binarization, since that is what a user
/// chooses between: a straight-through surrogate, a scale on top of sign, a proximal/annealed quantizer, a smooth
/// function sharpened towards sign, a group transformation, a distribution over binary weights, a factorized weight or a
/// learned rotation.</remarks>
public static class SchemeFamilies
{
    /// <summary>No binarization: the float reference.</summary>
    public const string Baseline = "baseline";
    /// <summary>sign (or a k-bit quantizer) forward, a surrogate derivative backward.</summary>
    public const string StraightThrough = "straight-through";
    /// <summary>α·sign(θ): analytic, detached, loss-aware or learned scales on the binary weights.</summary>
    public const string Scaling = "scaling";
    /// <summary>ProxConnect and the PC++ family: a forward quantizer annealed towards sign, a backward quantizer.</summary>
    public const string Proximal = "proximal";
    /// <summary>A smooth function sharpened into sign during training, with its exact derivative.</summary>
    public const string Smooth = "smooth";
    /// <summary>Groups of weights mapped jointly onto (or towards) the binary vertices.</summary>
    public const string GroupTransform = "group-transform";
    /// <summary>Binary weights as random variables: sampled in training, averaged or replaced by the mode at test time.</summary>
    public const string Probabilistic = "probabilistic";
    /// <summary>The weight tensor parametrized by real factors, then binarized.</summary>
    public const string Decomposed = "decomposed";
    /// <summary>Latent weights rotated by learned orthogonal matrices before sign.</summary>
    public const string Rotation = "rotation";
    /// <summary>A scheme registered at run time without a family.</summary>
    public const string Custom = "custom";

    /// <summary>Every built-in family, in the order docs/schemes.md lists them.</summary>
    public static IReadOnlyList<string> All { get; } =
        [Baseline, StraightThrough, Scaling, Proximal, Smooth, GroupTransform, Probabilistic, Decomposed, Rotation];

    /// <summary>The family's page relative to the repository root, e.g. <c>docs/schemes/proximal.md</c>.</summary>
    public static string Page(string family) => $"docs/schemes/{family}.md";
}
