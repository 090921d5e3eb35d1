using System.Runtime.CompilerServices;
using BinaryGrad.Autograd;
using Tensor = BinaryGrad.Autograd.Tensor;

namespace BinaryGrad.Optimizers.Binary;

/// <summary>Routes binary parameters (<see cref="Parameter.Precision"/> = 1, Larq's <c>Bop.is_binary_variable</c>) to
/// one optimizer and every other parameter to another — Larq's <c>CaseOptimizer</c>, e.g. Bop for the binary weights
/// and Adam for batch norm and real-valued layers.</summary>
/// <remarks>
/// <para>The two inner optimizers serve as update rules: this optimizer holds copies of their groups (same parameters,
/// same hyper-parameters) with names prefixed <c>binary.</c> and <c>real.</c>, keeps all state, and applies each
/// inner optimizer's own per-parameter update to its parameters. So <see cref="Optimizer.Step"/>,
/// <see cref="Optimizer.ZeroGrad"/>, <see cref="Optimizer.StateDict"/> (keys <c>binary.{name}.m</c>,
/// <c>real.{name}.exp_avg</c>, <c>group{i}.lr</c>) and <see cref="Optimizer.LoadStateDict"/> cover both sides and
/// resume bit-exactly. The real-valued groups come first, so <see cref="Optimizer.LearningRate"/> reads the real-valued
/// optimizer's rate; setting it sets every group's, which Bop-type rules ignore (they have no learning rate). Group
/// hyper-parameters must be changed through <see cref="Optimizer.Groups"/> of this optimizer, not of the inner ones.</para>
/// <para>Why the inner update is reached through <see cref="UnsafeAccessorAttribute"/>: <c>Optimizer.Update</c> is
/// protected, and a sibling subclass may not call it on another instance. The accessor binds at JIT time (no
/// reflection, no per-call cost) and dispatches virtually, so any <see cref="Optimizer"/> works as a rule.</para>
/// </remarks>
public sealed class CaseOptimizer : Optimizer
{
    /// <summary>State-name prefix of the binary side.</summary>
    public const string BinaryPrefix = "binary.";

    /// <summary>State-name prefix of the real-valued side.</summary>
    public const string RealPrefix = "real.";

    private readonly Dictionary<Parameter, Optimizer> _rule = [];

    /// <summary>Combines <paramref name="binary"/> (for the parameters it holds) and <paramref name="real"/> (for its own).</summary>
    /// <exception cref="ArgumentException">A parameter appears in both, or two parameters share a name on one side.</exception>
    public CaseOptimizer(Optimizer binary, Optimizer real)
        : base(PrefixedGroups(real, RealPrefix).Concat(PrefixedGroups(binary, BinaryPrefix)), new ParameterGroup(Array.Empty<Parameter>()))
    {
        Binary = binary;
        Real = real;
        foreach (ParameterGroup g in binary.Groups) foreach (Parameter p in g.Parameters) _rule[p] = binary;
        foreach (ParameterGroup g in real.Groups) foreach (Parameter p in g.Parameters) _rule[p] = real;
    }

    /// <summary>Splits <paramref name="parameters"/> by <see cref="IsBinary"/> and builds each side with its factory
    /// (called with an empty list when a side has no parameter).</summary>
    public static CaseOptimizer ByPrecision(IEnumerable<KeyValuePair<string, Parameter>> parameters,
        Func<IEnumerable<KeyValuePair<string, Parameter>>, Optimizer> binary, Func<IEnumerable<KeyValuePair<string, Parameter>>, Optimizer> real)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(binary);
        ArgumentNullException.ThrowIfNull(real);
        KeyValuePair<string, Parameter>[] all = [.. parameters];
        return new CaseOptimizer(binary([.. all.Where(e => IsBinary(e.Value))]), real([.. all.Where(e => !IsBinary(e.Value))]));
    }

    /// <summary>True for binary latent weights: <see cref="Parameter.Precision"/> = 1.</summary>
    public static bool IsBinary(Parameter parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        return parameter.Precision == 1;
    }

    /// <summary>The rule for binary parameters (e.g. <see cref="Bop"/>).</summary>
    public Optimizer Binary { get; }

    /// <summary>The rule for the other parameters (e.g. <see cref="Adam"/>).</summary>
    public Optimizer Real { get; }

    /// <inheritdoc/>
    protected override void Update(ParameterGroup group, Parameter parameter, Tensor grad, Dictionary<string, Tensor> state) =>
        InnerUpdate(_rule[parameter], group, parameter, grad, state);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = nameof(Update))]
    private static extern void InnerUpdate(Optimizer rule, ParameterGroup group, Parameter parameter, Tensor grad, Dictionary<string, Tensor> state);

    /// <summary>Copies of <paramref name="inner"/>'s groups with prefixed names and its (already filled) hyper-parameters.</summary>
    private static IEnumerable<ParameterGroup> PrefixedGroups(Optimizer inner, string prefix)
    {
        ArgumentNullException.ThrowIfNull(inner);
        return inner.Groups.Select(g => new ParameterGroup(g.Named.Select(e => KeyValuePair.Create(prefix + (e.Name ?? e.Parameter.Name), e.Parameter)))
        {
            LearningRate = g.LearningRate,
            WeightDecay = g.WeightDecay,
            Momentum = g.Momentum,
            Beta1 = g.Beta1,
            Beta2 = g.Beta2,
            Eps = g.Eps,
        });
    }
}
