using System.Globalization;
using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>How well a scheme's implementation is sourced (docs/schemes.md, "Provenance", explains the three tags).</summary>
public enum Provenance
{
    /// <summary>[V-code]: checked line by line against the official (or reference) code.</summary>
    VerifiedCode,
    /// <summary>[V-doc]: checked against a public document (README, another paper's full text).</summary>
    VerifiedDoc,
    /// <summary>[STD]: the paper's detail was not retrieved; this is our standard construction, a configurable
    /// default — never "the paper's exact method".</summary>
    StandardConstruction,
}

/// <summary>The optimizer a scheme's latent parameters are meant for, when the user names none.</summary>
public enum SchemeOptimizer
{
    /// <summary>Adam on every parameter: latent weights behind a straight-through or surrogate estimator are ordinary
    /// real parameters.</summary>
    Adam,
    /// <summary>BayesBiNN's Bayesian learning rule (Meng et al. 2020, arXiv:2002.10778): the latent values are natural
    /// parameters λ of Bernoulli weights, which a gradient step on λ does not update meaningfully.</summary>
    BayesBiNN,
}

/// <summary>One tunable hyper-parameter of a scheme.</summary>
/// <param name="Name">Kebab-case key used in overrides, e.g. <c>beta</c>.</param>
/// <param name="Default">Value used when not overridden.</param>
/// <param name="Min">Smallest allowed value (inclusive).</param>
/// <param name="Max">Largest allowed value (inclusive).</param>
/// <param name="Description">What it does.</param>
/// <param name="IsInteger">Only whole numbers are allowed (counts, flags, seeds).</param>
public sealed record HyperParameter(string Name, double Default, double Min, double Max, string Description, bool IsInteger = false)
{
    /// <summary>True when <paramref name="value"/> is allowed.</summary>
    public bool Allows(double value) => !double.IsNaN(value) && value >= Min && value <= Max && (!IsInteger || Math.Floor(value) == value);

    /// <summary>The allowed range, e.g. <c>[0, 10]</c> or <c>integer in [1, 4096]</c>.</summary>
    public string Range => (IsInteger ? "integer in " : "") + $"[{Min.ToString(CultureInfo.InvariantCulture)}, {Max.ToString(CultureInfo.InvariantCulture)}]";
}

/// <summary>What a scheme contributes to a model: the weight quantizer, the activation quantizer, an optional
/// nonlinearity that belongs to the scheme (ReActNet's RPReLU) and an optional regularizer (BD-BNN).</summary>
public sealed record SchemeInstance(Quantizer? Weights, Quantizer? Activations, Regularizer? Regularizer = null, Quantizer? Nonlinearity = null)
{
    /// <summary>Every quantizer present, in the order weights, activations, nonlinearity.</summary>
    public IEnumerable<Quantizer> Quantizers => new[] { Weights, Activations, Nonlinearity }.OfType<Quantizer>();

    /// <summary>All learnable parameters of the quantizers.</summary>
    public IEnumerable<Parameter> Parameters => Quantizers.SelectMany(q => q.Parameters);

    /// <summary>Forwards training progress to every quantizer and the regularizer.</summary>
    public void OnProgress(TrainingProgress progress)
    {
        foreach (Quantizer q in Quantizers) q.OnProgress(progress);
        Regularizer?.OnProgress(progress);
    }
}

/// <summary>Resolved hyper-parameter values handed to a scheme factory (defaults merged with validated overrides).</summary>
public sealed class SchemeArguments(IReadOnlyDictionary<string, double> values, DType parameterDType)
{
    /// <summary>The value of hyper-parameter <paramref name="name"/>.</summary>
    public double this[string name] => values[name];

    /// <summary>The value as an int.</summary>
    public int Int(string name) => (int)values[name];

    /// <summary>The value as a flag (non-zero = true).</summary>
    public bool Flag(string name) => values[name] != 0;

    /// <summary>dtype for learnable parameters the quantizers create.</summary>
    public DType ParameterDType { get; } = parameterDType;
}

/// <summary>A registered binarization scheme: name, description, provenance, hyper-parameters and factory.</summary>
/// <param name="Name">Stable kebab-case name, e.g. <c>bnn</c>.</param>
/// <param name="Description">One line.</param>
/// <param name="Provenance">How well the implemented construction is sourced.</param>
/// <param name="Section">Legacy reference number (e.g. <c>§1.2</c> or <c>Part II §1.3</c>) of the scheme in the research notes
/// the project started from; kept for scripts that read the <c>section</c> field of <c>binarygrad schemes --json</c>.
/// Follow <see cref="Paper"/> and <see cref="Family"/> (docs/schemes/&lt;family&gt;.md) instead.</param>
/// <param name="HyperParameters">Tunable values with defaults and ranges.</param>
/// <param name="Factory">Builds the quantizers from resolved arguments.</param>
public sealed record SchemeInfo(string Name, string Description, Provenance Provenance, string Section,
    IReadOnlyList<HyperParameter> HyperParameters, Func<SchemeArguments, SchemeInstance> Factory)
{
    /// <summary>Provenance tag: <c>verified-code</c>, <c>verified-doc</c> or <c>standard-construction</c>.</summary>
    public string ProvenanceTag => Provenance switch
    {
        Provenance.VerifiedCode => "verified-code",
        Provenance.VerifiedDoc => "verified-doc",
        _ => "standard-construction",
    };

    /// <summary>The family the scheme belongs to, e.g. <c>straight-through</c>; its page is
    /// <c>docs/schemes/&lt;family&gt;.md</c>. Built-in schemes get theirs from <see cref="SchemeRegistry"/>; a user-registered
    /// scheme without one is <see cref="SchemeFamilies.Custom"/>.</summary>
    public string Family { get; init; } = SchemeFamilies.Custom;

    /// <summary>The paper the scheme comes from: first author et al., year, and arXiv id or venue (empty when the scheme
    /// has no paper, e.g. the float baseline or a user-defined scheme).</summary>
    public string Paper { get; init; } = "";

    /// <summary>The Adam/AdamW learning rate this scheme's training recipe needs when none is given (null: the
    /// framework default, 1e-3). Set only where the default measurably fails, e.g. VISPA, whose projection keeps
    /// |m| ≈ 1 so that sign flips need large steps.</summary>
    public double? AdamLearningRate { get; init; }

    /// <summary>The optimizer training uses when none is chosen explicitly (the CLI's default <c>--optimizer adam</c>
    /// becomes this). Set where the scheme is registered.</summary>
    public SchemeOptimizer ImpliedOptimizer { get; init; } = SchemeOptimizer.Adam;

    /// <summary>Creates the scheme with defaults.</summary>
    public SchemeInstance Create() => Create(new Dictionary<string, double>());

    /// <summary>Creates the scheme with <paramref name="overrides"/> applied.</summary>
    /// <exception cref="ArgumentException">An unknown key (listing the valid ones) or a value outside its range (naming
    /// key, value and range).</exception>
    public SchemeInstance Create(IReadOnlyDictionary<string, double> overrides, DType parameterDType = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        var values = HyperParameters.ToDictionary(h => h.Name, h => h.Default);
        foreach ((string key, double value) in overrides)
        {
            HyperParameter? h = HyperParameters.FirstOrDefault(p => p.Name == key);
            if (h is null)
                throw new ArgumentException($"Scheme '{Name}' has no hyper-parameter '{key}'; valid: " +
                                            (HyperParameters.Count == 0 ? "(none)" : string.Join(", ", HyperParameters.Select(p => p.Name))) + ".");
            if (!h.Allows(value))
                throw new ArgumentException($"Scheme '{Name}': hyper-parameter '{key}' = {value.ToString(CultureInfo.InvariantCulture)} is outside its allowed range {h.Range}.");
            values[key] = value;
        }
        return Factory(new SchemeArguments(values, parameterDType));
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({ProvenanceTag}, {Section}): {Description}";
}
