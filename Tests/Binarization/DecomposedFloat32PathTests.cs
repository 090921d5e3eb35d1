using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>The float32 (SGEMM) training path of the decomposed schemes against their float64 (DGEMM) path, on odd
/// sizes, dense and conv shapes, full and truncated ranks. Both quantizers hold the same float32-representable factor
/// values, so the only difference is the accumulation inside the GEMMs (float32 vs float64, different order): the
/// reconstruction and the factor gradients agree to a float32-rounding tolerance, and the binary forward agrees exactly
/// wherever W is not within that tolerance of 0.</summary>
[TestFixture]
public class DecomposedFloat32PathTests
{
    [TestCase(false, new[] { 7, 13 }, 0), TestCase(false, new[] { 5, 3, 3, 3 }, 4), TestCase(false, new[] { 9, 11 }, 3),
     TestCase(true, new[] { 7, 13 }, 0), TestCase(true, new[] { 5, 3, 3, 2 }, 0), TestCase(true, new[] { 9, 11 }, 3)]
    public void Float32Path_MatchesFloat64Path(bool tucker, int[] shape, int maxRank)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var rng = new Rng(17);
        double[] latent = [.. Enumerable.Range(0, n).Select(_ => (double)(float)rng.Uniform(-0.5, 0.5))];
        double[] dy = [.. Enumerable.Range(0, n).Select(_ => (double)(float)rng.Normal())];
        double[] alpha = [.. Enumerable.Range(0, shape[0]).Select(_ => (double)(float)rng.Uniform(0.5, 1.5))];
        foreach (bool linearize in new[] { true, false })
        {
            DecomposedSign fast = Create(tucker, maxRank, linearize, DType.Float32), reference = Create(tucker, maxRank, linearize, DType.Float64);
            fast.Initialize(Tensor.FromValues(latent, shape, DType.Float32));
            reference.Initialize(Tensor.FromValues(latent, shape, DType.Float64));
            fast.Scale!.Load(Tensor.FromValues(alpha, [shape[0]], DType.Float32));
            foreach (Parameter p in fast.Parameters)
            {
                Parameter twin = reference.Parameters.Single(q => q.Name == p.Name);
                twin.Load(Tensor.FromValues(p.Value.ToDoubleArray(), p.Value.Shape.ToArray(), DType.Float64));
            }
            QuantizerHarness.Result f = QuantizerHarness.Run(fast, new double[n], shape, dy, DType.Float32);
            QuantizerHarness.Result r = QuantizerHarness.Run(reference, new double[n], shape, dy, DType.Float64);
            string what = $"{(tucker ? "tucker" : "matrix")} {string.Join("x", shape)} rank cap {maxRank} linearize {linearize}";
            const double Tol = 1e-5; // float32 GEMM accumulation over ≤ 40 terms of O(1) values, relative to the largest entry
            int compared = n;
            if (linearize) Assert.That(f.Y, Is.EqualTo(r.Y).Within(Tol * MaxAbs(r.Y)), what + ": α·W");
            else
            {
                // sign(W) agrees wherever |W| (= |y_linearized|/α, recomputed here from the float64 reference) is clear of 0
                DecomposedSign linear = Create(tucker, maxRank, linearize: true, DType.Float64);
                linear.Initialize(Tensor.FromValues(latent, shape, DType.Float64));
                foreach (Parameter p in reference.Parameters) linear.Parameters.Single(q => q.Name == p.Name).Load(p.Value);
                linear.Scale!.Load(Tensor.FromValues(new double[shape[0]].Select(_ => 1.0).ToArray(), [shape[0]], DType.Float64));
                double[] w = QuantizerHarness.Run(linear, new double[n], shape).Y;
                double margin = 10 * Tol * MaxAbs(w);
                compared = 0;
                for (int i = 0; i < n; i++)
                    if (Math.Abs(w[i]) > margin)
                    {
                        compared++;
                        Assert.That(f.Y[i], Is.EqualTo(r.Y[i]), $"{what}: y[{i}] (W = {w[i]})");
                    }
                Assert.That(compared, Is.GreaterThan(n / 2), what + ": too few entries clear of 0 to compare");
            }
            Assert.That(f.Dx, Is.All.EqualTo(0.0), what + ": latent gradient");
            string[] names = [.. fast.Parameters.Select(p => p.Name)];
            for (int k = 0; k < names.Length; k++)
            {
                double[] expected = r.ParameterGrads[Array.IndexOf([.. reference.Parameters.Select(p => p.Name)], names[k])];
                // dα sums dy·sign(W): a sign that differs next to W = 0 would move it by 2|dy|, so compare it only when
                // every W was clear of 0
                if (names[k] == "scale" && compared < n) continue;
                Assert.That(f.ParameterGrads[k], Is.EqualTo(expected).Within(Tol * Math.Max(1, MaxAbs(expected))), $"{what}: d{names[k]}");
            }
        }
    }

    private static DecomposedSign Create(bool tucker, int maxRank, bool linearize, DType dtype) =>
        tucker ? new TuckerDecomposedSign(maxRank, linearize: linearize, dtype: dtype) : new MatrixDecomposedSign(maxRank, linearize: linearize, dtype: dtype);

    private static double MaxAbs(double[] values) => values.Length == 0 ? 0 : values.Max(Math.Abs);
}
