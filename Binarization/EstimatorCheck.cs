using System.Globalization;
using System.Text;
using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>Thrown by <see cref="EstimatorCheck"/> when a quantizer's forward or backward disagrees with the
/// formula it is checked against; the message lists the disagreeing points.</summary>
public sealed class EstimatorCheckException(string message) : Exception(message);

/// <summary>Unit-test helpers for elementwise binarization schemes, yours or BinaryGrad's: does the recorded backward
/// equal the documented surrogate derivative times the upstream gradient, element by element, exactly where the
/// conventions bite (x = 0, x = ±clip and just inside/outside it) and at random points? Throws
/// <see cref="EstimatorCheckException"/>, so it works from NUnit, xUnit, MSTest or a plain program.</summary>
/// <remarks>
/// <para>Why a separate check besides <see cref="GradCheck"/>: a straight-through estimator's backward is by design
/// <em>not</em> the derivative of its forward (sign has derivative 0 almost everywhere), so finite differences cannot
/// judge it. What can be judged is that the code implements the surrogate the paper states:
/// dx_i = dy_i · s(x_i). The probe points include the boundaries where inclusive vs exclusive masks
/// (1[|x| ≤ c] vs 1[|x| &lt; c]) and sign(0) conventions differ, which is where implementations silently disagree.</para>
/// <para>Both dtypes are probed: float64 must match to 1e-12 relative; float32 (the training dtype, which may run a
/// vectorized kernel) to 2e-6 relative — a few float32 roundings of the same formula. The points are float32-exact,
/// so both dtypes see the same x.</para>
/// <para>Only elementwise schemes can be checked this way; per-tensor schemes (XNOR scaling, LAB, SiMaN) have a
/// backward that depends on the whole tensor — check those with your own oracle.</para>
/// </remarks>
public static class EstimatorCheck
{
    /// <summary>Relative tolerance for float64 comparisons.</summary>
    public const double Float64Tolerance = 1e-12;

    /// <summary>Relative tolerance for float32 comparisons (a few roundings of the same formula).</summary>
    public const double Float32Tolerance = 2e-6;

    /// <summary>The probe points: 0, ±clip, ±clip·(1 ± 1e-3), ±clip/2, ±2·clip, then <paramref name="randomPoints"/>
    /// uniform points in [−2·clip, 2·clip] from <paramref name="seed"/>; every value is exactly representable in float32.</summary>
    public static double[] ProbePoints(double clip = 1, int randomPoints = 64, ulong seed = 1)
    {
        if (!(clip > 0) || double.IsInfinity(clip))
            throw new ArgumentOutOfRangeException(nameof(clip), clip, "EstimatorCheck: clip must be a finite positive number (the surrogate's pass-through bound, 1 for most schemes).");
        ArgumentOutOfRangeException.ThrowIfNegative(randomPoints);
        var points = new List<double> { 0 };
        foreach (double magnitude in new[] { clip, clip * (1 - 1e-3), clip * (1 + 1e-3), clip / 2, 2 * clip })
        {
            points.Add(magnitude);
            points.Add(-magnitude);
        }
        var rng = new Rng(seed);
        for (int i = 0; i < randomPoints; i++) points.Add(rng.Uniform(-2 * clip, 2 * clip));
        return [.. points.Select(p => (double)(float)p)];
    }

    /// <summary>Asserts dx_i = dy_i · <paramref name="surrogate"/>(x_i) for the recorded backward of
    /// <paramref name="quantizer"/> at the <see cref="ProbePoints"/>, in float64 and float32, with random upstream
    /// gradients dy. The quantizer is left in its current mode (set <see cref="Quantizer.Training"/> first).</summary>
    /// <param name="quantizer">An elementwise scheme.</param>
    /// <param name="surrogate">The documented backward factor s(x), e.g. <c>x =&gt; Math.Abs(x) &lt;= 1 ? 1 : 0</c>.</param>
    /// <param name="clip">The pass-through bound to probe around (the STE's c).</param>
    /// <param name="randomPoints">Extra uniform points in [−2·clip, 2·clip].</param>
    /// <param name="seed">Seed of the random points and upstream gradients.</param>
    /// <exception cref="EstimatorCheckException">Some element disagrees; the message lists up to ten of them.</exception>
    public static void AssertBackwardEquals(Quantizer quantizer, Func<double, double> surrogate, double clip = 1, int randomPoints = 64, ulong seed = 1)
    {
        ArgumentNullException.ThrowIfNull(quantizer);
        ArgumentNullException.ThrowIfNull(surrogate);
        double[] x = ProbePoints(clip, randomPoints, seed);
        var rng = new Rng(seed ^ 0x5EED);
        double[] dy = [.. x.Select(_ => (double)(float)rng.Uniform(-2, 2))];
        var failures = new List<string>();
        foreach (DType dtype in new[] { DType.Float64, DType.Float32 })
        {
            Tensor input = Tensor.FromValues(x, [x.Length], dtype, requiresGrad: true);
            Tensor output = quantizer.Apply(input);
            output.Backward(Tensor.FromValues(dy, [dy.Length], dtype));
            double[] actual = input.Grad?.ToDoubleArray() ?? new double[x.Length];
            double tolerance = dtype == DType.Float64 ? Float64Tolerance : Float32Tolerance;
            for (int i = 0; i < x.Length; i++)
            {
                double expected = dy[i] * surrogate(x[i]);
                if (dtype == DType.Float32) expected = (float)expected;
                if (!Close(actual[i], expected, tolerance))
                    failures.Add($"  {dtype.Name()} x = {F(x[i])}: dy·s(x) = {F(dy[i])}·{F(surrogate(x[i]))} = {F(expected)}, backward gave {F(actual[i])}");
            }
        }
        if (failures.Count > 0) throw new EstimatorCheckException(Report($"{quantizer.Name}: backward is not dy·surrogate(x)", failures, x.Length));
    }

    /// <summary>Asserts the forward equals <paramref name="forward"/>(x) at the <see cref="ProbePoints"/> in float64
    /// and float32 (rounded once), e.g. to pin down sign(0) = +1.</summary>
    /// <exception cref="EstimatorCheckException">Some element disagrees.</exception>
    public static void AssertForwardEquals(Quantizer quantizer, Func<double, double> forward, double clip = 1, int randomPoints = 64, ulong seed = 1)
    {
        ArgumentNullException.ThrowIfNull(quantizer);
        ArgumentNullException.ThrowIfNull(forward);
        double[] x = ProbePoints(clip, randomPoints, seed);
        var failures = new List<string>();
        foreach (DType dtype in new[] { DType.Float64, DType.Float32 })
        {
            double[] actual;
            using (GradMode.NoGrad()) actual = quantizer.Apply(Tensor.FromValues(x, [x.Length], dtype)).ToDoubleArray();
            double tolerance = dtype == DType.Float64 ? Float64Tolerance : Float32Tolerance;
            for (int i = 0; i < x.Length; i++)
            {
                double expected = dtype == DType.Float32 ? (float)forward(x[i]) : forward(x[i]);
                if (!Close(actual[i], expected, tolerance))
                    failures.Add($"  {dtype.Name()} x = {F(x[i])}: expected q(x) = {F(expected)}, forward gave {F(actual[i])}");
            }
        }
        if (failures.Count > 0) throw new EstimatorCheckException(Report($"{quantizer.Name}: forward is not the given q(x)", failures, x.Length));
    }

    /// <summary>For smooth schemes (backward = exact derivative of the forward): float64 central finite differences
    /// through <see cref="GradCheck.AssertMatchesFiniteDifferences"/> at the probe points, skipping ±clip where a
    /// piecewise formula has its kink.</summary>
    /// <exception cref="GradCheckException">The backward disagrees with finite differences.</exception>
    public static void AssertSmoothBackward(Quantizer quantizer, double clip = 1, int randomPoints = 32, ulong seed = 1)
    {
        ArgumentNullException.ThrowIfNull(quantizer);
        double[] x = [.. ProbePoints(clip, randomPoints, seed).Where(p => Math.Abs(Math.Abs(p) - clip) > 1e-4 * clip)];
        Tensor input = Tensor.FromValues(x, [x.Length], DType.Float64, requiresGrad: true);
        GradCheck.AssertMatchesFiniteDifferences(inputs => quantizer.Apply(inputs[0]), input);
    }

    private static bool Close(double actual, double expected, double tolerance) =>
        actual == expected || (double.IsNaN(actual) && double.IsNaN(expected))
        || Math.Abs(actual - expected) <= tolerance * Math.Max(1, Math.Abs(expected));

    private static string Report(string headline, List<string> failures, int points)
    {
        var sb = new StringBuilder($"{headline} at {failures.Count} of {2 * points} probes (float64 and float32):");
        foreach (string line in failures.Take(10)) sb.AppendLine().Append(line);
        if (failures.Count > 10) sb.AppendLine().Append($"  … and {failures.Count - 10} more");
        return sb.ToString();
    }

    private static string F(double v) => v.ToString("G9", CultureInfo.InvariantCulture);
}
