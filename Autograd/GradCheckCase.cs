namespace BinaryGrad.Autograd;

/// <summary>A function and float64 inputs to gradient-check.</summary>
public sealed record GradCheckProblem(Func<Tensor[], Tensor> Function, Tensor[] Inputs);

/// <summary>A named gradient check that <c>binarygrad gradcheck</c> and the tests run. Ops, layers and smooth
/// binarization schemes each publish a list of these; the CLI and tests enumerate the same lists.</summary>
/// <param name="Name">Stable name, e.g. <c>matmul</c> or <c>add/broadcast</c> (the part before '/' is the op).</param>
/// <param name="Build">Creates fresh inputs (seeded) and the function.</param>
public sealed record GradCheckCase(string Name, Func<GradCheckProblem> Build)
{
    /// <summary>Builds the problem and checks it.</summary>
    public GradCheckResult Run()
    {
        GradCheckProblem problem = Build();
        return GradCheck.Check(problem.Function, problem.Inputs);
    }

    /// <summary>The op the case belongs to (its name up to the first '/').</summary>
    public string Op => Name.Split('/')[0];

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>Helpers to create gradient-check inputs.</summary>
public static class GradCheckInputs
{
    /// <summary>A float64 leaf with values drawn from U[low, high), requiring grad.</summary>
    public static Tensor Leaf(Rng rng, ReadOnlySpan<int> shape, double low = -1, double high = 1) =>
        Tensor.Uniform(shape, rng, low, high, DType.Float64, requiresGrad: true);

    /// <summary>A float64 leaf whose values have magnitude in [margin, 1) with random signs: away from the kinks
    /// at 0 (ReLU, abs), so finite differences do not straddle them.</summary>
    public static Tensor AwayFromZero(Rng rng, ReadOnlySpan<int> shape, double margin = 0.1)
    {
        Tensor t = Tensor.Empty(shape, DType.Float64);
        Span<double> v = t.AsSpan<double>();
        for (int i = 0; i < v.Length; i++) v[i] = (rng.NextDouble() < 0.5 ? -1 : 1) * rng.Uniform(margin, 1);
        t.RequiresGrad = true;
        return t;
    }

    /// <summary>A float64 leaf holding a random permutation of evenly spaced values: no ties (for max and friends).</summary>
    public static Tensor Distinct(Rng rng, ReadOnlySpan<int> shape)
    {
        Tensor t = Tensor.Empty(shape, DType.Float64);
        Span<double> v = t.AsSpan<double>();
        for (int i = 0; i < v.Length; i++) v[i] = -1 + 2.0 * i / Math.Max(v.Length, 1);
        for (int i = v.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (v[i], v[j]) = (v[j], v[i]);
        }
        t.RequiresGrad = true;
        return t;
    }
}
