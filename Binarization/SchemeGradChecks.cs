using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>Float64 gradient checks for every registered scheme part whose forward is differentiable (quantizers
/// with <see cref="Quantizer.IsSmooth"/> and regularizers). The tests and <c>binarygrad gradcheck</c> run the same list.</summary>
/// <remarks>
/// Each case builds the scheme with defaults and float64 parameters, moves schedules to mid-training (step 50 of 100,
/// epoch 5 of 10) so schedule-dependent state is exercised, and checks x and every learnable parameter. Inputs have
/// magnitudes in [0.04, 0.4): away from 0 (ReLU-like kinks) and from ±0.5 (the kinks of P_ρ at ρ = 2).
/// </remarks>
public static class SchemeGradChecks
{
    private static readonly TrainingProgress MidTraining = new(5, 50, 10, 100);

    /// <summary>All cases, named <c>scheme/&lt;name&gt;</c> (plus <c>-weights</c>, <c>-activations</c>,
    /// <c>-nonlinearity</c>, <c>-regularizer</c> when a scheme has several checked parts).</summary>
    public static IReadOnlyList<GradCheckCase> All => _all.Value;

    private static readonly Lazy<IReadOnlyList<GradCheckCase>> _all = new(Build);

    private static Tensor Inputs(Rng rng, ReadOnlySpan<int> shape)
    {
        Tensor t = GradCheckInputs.AwayFromZero(rng, shape, 0.1);
        foreach (ref double v in t.AsSpan<double>()) v *= 0.4;
        return t;
    }

    /// <summary>Non-default settings whose forward is smooth only when overridden (name suffix, overrides).</summary>
    private static readonly (string Scheme, string Suffix, Dictionary<string, double> Overrides)[] Variants =
    [
        ("biper", "-stage1", new() { ["stage"] = 1 }),
        ("decomposed-matrix", "-linearized", new() { ["linearize"] = 1 }),
        ("decomposed-tucker", "-linearized", new() { ["linearize"] = 1 }),
        ("bayesbinn", "-tau1", new() { ["temperature"] = 1, ["noise-seed"] = 7 }),
    ];

    private static IReadOnlyList<GradCheckCase> Build()
    {
        var cases = new List<GradCheckCase>();
        foreach (SchemeInfo scheme in SchemeRegistry.All) AddCases(cases, scheme, "", []);
        foreach ((string name, string suffix, Dictionary<string, double> overrides) in Variants)
            AddCases(cases, SchemeRegistry.Get(name), suffix, overrides);
        return cases;
    }

    private static void AddCases(List<GradCheckCase> cases, SchemeInfo scheme, string suffix, Dictionary<string, double> overrides)
    {
        SchemeInstance probe = scheme.Create(overrides, DType.Float64);
        var parts = new List<(string Part, Func<SchemeInstance, Quantizer?> Pick)>();
        if (probe.Weights is { IsSmooth: true }) parts.Add(("weights", s => s.Weights));
        if (probe.Activations is { IsSmooth: true }) parts.Add(("activations", s => s.Activations));
        if (probe.Nonlinearity is { IsSmooth: true }) parts.Add(("nonlinearity", s => s.Nonlinearity));
        int checkedParts = parts.Count + (probe.Regularizer is null ? 0 : 1);
        foreach ((string part, Func<SchemeInstance, Quantizer?> pick) in parts)
        {
            string name = checkedParts == 1 ? $"scheme/{scheme.Name}{suffix}" : $"scheme/{scheme.Name}{suffix}-{part}";
            cases.Add(new GradCheckCase(name, () =>
            {
                SchemeInstance instance = scheme.Create(overrides, DType.Float64);
                instance.OnProgress(MidTraining);
                Quantizer q = pick(instance)!;
                Tensor x = Inputs(new Rng(11), [2, 3, 4]);
                if (q is IFactorizedWeight factorized) factorized.Initialize(x); // owns factors/logits shaped after the weight
                Tensor[] inputs = [x, .. q.Parameters.Select(p => p.Value)];
                return new GradCheckProblem(t => q.Apply(t[0]), inputs);
            }));
        }
        if (probe.Regularizer is not null)
        {
            string name = checkedParts == 1 ? $"scheme/{scheme.Name}{suffix}" : $"scheme/{scheme.Name}{suffix}-regularizer";
            cases.Add(new GradCheckCase(name, () =>
            {
                Regularizer r = scheme.Create(overrides, DType.Float64).Regularizer!;
                r.OnProgress(MidTraining);
                var rng = new Rng(12);
                Tensor[] weights = [GradCheckInputs.Leaf(rng, [3, 4]), GradCheckInputs.Leaf(rng, [2, 5])];
                return new GradCheckProblem(t => r.Penalty(t), weights);
            }));
        }
    }
}
