using System.Text;

namespace BinaryGrad.Autograd;

/// <summary>How one input fared in a gradient check.</summary>
/// <param name="Input">Position of the input in the list passed to the check.</param>
/// <param name="MaxAbsError">max |analytic − numeric| over the input's elements.</param>
/// <param name="MaxRelError">max |analytic − numeric| / max(|numeric|, <see cref="GradCheck.RelativeFloor"/>).</param>
/// <param name="WorstIndex">Flat (row-major) index of the element with the largest relative error.</param>
/// <param name="Analytic">The backward's value at that element.</param>
/// <param name="Numeric">The finite-difference value at that element.</param>
public sealed record GradCheckInputReport(int Input, double MaxAbsError, double MaxRelError, int WorstIndex, double Analytic, double Numeric);

/// <summary>The outcome of <see cref="GradCheck.Check"/>.</summary>
public sealed record GradCheckResult(IReadOnlyList<GradCheckInputReport> Inputs, double Tolerance)
{
    /// <summary>Largest absolute error over all inputs.</summary>
    public double MaxAbsError => Inputs.Count == 0 ? 0 : Inputs.Max(r => r.MaxAbsError);
    /// <summary>Largest relative error over all inputs.</summary>
    public double MaxRelError => Inputs.Count == 0 ? 0 : Inputs.Max(r => r.MaxRelError);
    /// <summary>True when every relative error is within <see cref="Tolerance"/> (NaN fails).</summary>
    public bool Passed => Inputs.All(r => r.MaxRelError <= Tolerance);

    /// <summary>One line per input, naming the worst element of each failing one.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        foreach (GradCheckInputReport r in Inputs)
            sb.AppendLine($"input {r.Input}: max abs error {r.MaxAbsError:E3}, max rel error {r.MaxRelError:E3} " +
                          $"(worst at element {r.WorstIndex}: analytic {r.Analytic:G10} vs finite difference {r.Numeric:G10})" +
                          (r.MaxRelError <= Tolerance ? "" : $"  FAILS tolerance {Tolerance:E1}"));
        return sb.ToString();
    }
}

/// <summary>Thrown by <see cref="GradCheck.AssertMatchesFiniteDifferences"/>; any test framework reports it as a failure.</summary>
public sealed class GradCheckException(string message) : Exception(message);

/// <summary>Compares the analytic gradients that backward computes with central finite differences in float64.</summary>
/// <remarks>
/// The scalar checked is <c>L = Σ w ⊙ f(inputs)</c> with fixed random weights w, so every output element matters
/// and a backward that mixes up elements cannot pass by symmetry. For each input element,
/// <c>numeric = (L(x + h) − L(x − h)) / 2h</c>, with truncation error O(h²) and rounding error O(ε·|L|/h); h = 1e-6
/// balances the two at about 1e-10 in float64. An element passes when
/// <c>|analytic − numeric| ≤ tolerance · max(|numeric|, RelativeFloor)</c>: relative error 1e-6, and for gradients
/// smaller than the floor an absolute error of 1e-6·floor. Keep inputs away from kinks (ReLU at 0, ties in max):
/// there the finite difference straddles two pieces and disagrees with any one-sided convention.
/// </remarks>
public static class GradCheck
{
    /// <summary>Gradients smaller than this are judged by absolute error tolerance·floor.</summary>
    public const double RelativeFloor = 1e-2;

    /// <summary>Runs the check. Inputs must be float64 leaves; those with <c>RequiresGrad</c> are checked, the
    /// others are held constant. Their values are restored afterwards.</summary>
    /// <exception cref="ArgumentException">An input is not a contiguous float64 leaf.</exception>
    public static GradCheckResult Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double step = 1e-6, double tolerance = 1e-6, ulong seed = 7)
    {
        ArgumentNullException.ThrowIfNull(f);
        foreach (Tensor x in inputs)
            if (x.DType != DType.Float64 || !x.IsLeaf || !x.IsContiguous)
                throw new ArgumentException($"GradCheck needs contiguous float64 leaf inputs; got {x.DType.Name()} {Shapes.Format(x.Shape)}{(x.IsLeaf ? "" : " computed by " + x.GradFn!.Name)}. Use To(DType.Float64).");

        Tensor output = f(inputs);
        var rng = new Rng(seed);
        double[] weights = new double[output.Length];
        for (int i = 0; i < weights.Length; i++) weights[i] = rng.Uniform(-1, 1);
        foreach (Tensor x in inputs) x.ZeroGrad();
        if (!output.RequiresGrad) throw new ArgumentException("GradCheck: the function's output does not depend on any input with RequiresGrad.");
        output.To(DType.Float64).Backward(weights);

        var reports = new List<GradCheckInputReport>();
        for (int k = 0; k < inputs.Length; k++)
        {
            Tensor x = inputs[k];
            if (!x.RequiresGrad) continue;
            double[] analytic = x.Grad?.ToDoubleArray() ?? new double[x.Length];
            Span<double> values = x.AsSpan<double>();
            double maxAbs = 0, maxRel = 0, worstA = 0, worstN = 0;
            int worst = 0;
            for (int i = 0; i < values.Length; i++)
            {
                double original = values[i];
                values[i] = original + step;
                double plus = WeightedSum(f, inputs, weights);
                values[i] = original - step;
                double minus = WeightedSum(f, inputs, weights);
                values[i] = original;
                double numeric = (plus - minus) / (2 * step);
                double abs = Math.Abs(analytic[i] - numeric);
                double rel = abs / Math.Max(Math.Abs(numeric), RelativeFloor);
                if (double.IsNaN(rel)) rel = double.PositiveInfinity;
                maxAbs = Math.Max(maxAbs, double.IsNaN(abs) ? double.PositiveInfinity : abs);
                if (i == 0 || rel > maxRel) (maxRel, worst, worstA, worstN) = (rel, i, analytic[i], numeric);
            }
            reports.Add(new GradCheckInputReport(k, maxAbs, maxRel, worst, worstA, worstN));
        }
        foreach (Tensor x in inputs) x.ZeroGrad();
        return new GradCheckResult(reports, tolerance);
    }

    /// <summary>Checks and throws <see cref="GradCheckException"/> with the per-input report when the check fails.
    /// Usable from NUnit, xUnit or any other framework.</summary>
    public static void AssertMatchesFiniteDifferences(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        GradCheckResult result = Check(f, inputs);
        if (!result.Passed)
            throw new GradCheckException("Backward disagrees with central finite differences (float64):" + Environment.NewLine + result.Describe());
    }

    private static double WeightedSum(Func<Tensor[], Tensor> f, Tensor[] inputs, double[] weights)
    {
        using GradMode.NoGradScope _ = GradMode.NoGrad();
        double[] y = f(inputs).ToDoubleArray();
        double sum = 0;
        for (int i = 0; i < y.Length; i++) sum += weights[i] * y[i];
        return sum;
    }
}
