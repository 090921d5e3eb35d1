using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>RBNN's rotation op (Lin et al. 2020, arXiv:2009.13055): rotations stay orthogonal, the alternating update is an ascent step,
/// forward and angle gradient follow the documented formulas, the weight gradient is the surrogate through the standardisation.</summary>
[TestFixture, Category("Binarization")]
public class RotatedSignTests
{
    private static readonly int[] Shape = [4, 2, 3, 2]; // n = 12 → a = 3, b = 4

    private static double[] Theta(ulong seed = 8)
    {
        var rng = new Rng(seed);
        return [.. Enumerable.Range(0, 48).Select(_ => rng.Normal())];
    }

    private static double[] Standardize(double[] v, int groups)
    {
        int n = v.Length / groups;
        double[] z = new double[v.Length];
        for (int g = 0; g < groups; g++)
        {
            double[] run = v[(g * n)..((g + 1) * n)];
            double m = run.Average();
            double s = Math.Sqrt(run.Sum(x => (x - m) * (x - m)) / (n - 1) + 1e-12);
            for (int i = 0; i < n; i++) z[g * n + i] = (run[i] - m) / s;
        }
        return z;
    }

    /// <summary>R1ᵀ·X_o·R2 for every filter, flattened.</summary>
    private static double[] Rotate(double[] w2, double[,] r1, double[,] r2)
    {
        int a = r1.GetLength(0), b = r2.GetLength(0), channels = w2.Length / (a * b);
        double[] rw = new double[w2.Length];
        for (int o = 0; o < channels; o++)
            for (int i = 0; i < a; i++)
                for (int j = 0; j < b; j++)
                {
                    double s = 0;
                    for (int p = 0; p < a; p++)
                        for (int q = 0; q < b; q++) s += r1[p, i] * w2[o * a * b + p * b + q] * r2[q, j];
                    rw[o * a * b + i * b + j] = s;
                }
        return rw;
    }

    private static void AssertOrthogonal(double[,] r)
    {
        int n = r.GetLength(0);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double dot = 0;
                for (int k = 0; k < n; k++) dot += r[k, i] * r[k, j];
                Assert.That(dot, Is.EqualTo(i == j ? 1.0 : 0.0).Within(1e-10));
            }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Svd_Reconstructs_WithOrthogonalFactors(bool rankDeficient)
    {
        var rng = new Rng(21);
        var m = new double[6, 6];
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) m[i, j] = rankDeficient ? (i + 1) * (j % 2 == 0 ? 1.0 : -2.0) + (i % 3) * j : rng.Normal();
        (double[,] u, double[] s, double[,] v) = Orthogonal.Svd(m);
        AssertOrthogonal(u);
        AssertOrthogonal(v);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
            {
                double x = 0;
                for (int k = 0; k < 6; k++) x += u[i, k] * s[k] * v[j, k];
                Assert.That(x, Is.EqualTo(m[i, j]).Within(1e-10));
            }
        if (rankDeficient) Assert.That(s.Count(x => x < 1e-9), Is.GreaterThanOrEqualTo(1));
        Assert.That(s, Is.Ordered.Descending);
    }

    [TestCase(1)]
    [TestCase(5)]
    [TestCase(17)]
    public void RandomRotation_IsGramSchmidtOfTheSameGaussianDraws(int n)
    {
        // oracle: modified Gram–Schmidt on the Gaussian columns drawn in the same order (column by column)
        var rng = new Rng(33);
        var g = new double[n, n];
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) g[i, j] = rng.Normal();
        for (int j = 0; j < n; j++)
        {
            for (int p = 0; p < j; p++)
            {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += g[i, p] * g[i, j];
                for (int i = 0; i < n; i++) g[i, j] -= dot * g[i, p];
            }
            double norm = Math.Sqrt(Enumerable.Range(0, n).Sum(i => g[i, j] * g[i, j]));
            for (int i = 0; i < n; i++) g[i, j] /= norm;
        }
        double[,] q = Orthogonal.Random(n, new Rng(33));
        AssertOrthogonal(q);
        Assert.That(q, Is.EqualTo(g).Within(1e-10));
    }

    [TestCase(27, 3, 9)]
    [TestCase(16, 4, 4)]
    [TestCase(4608, 64, 72)]
    [TestCase(7, 1, 7)]
    public void Factor_LargestDivisorBelowSqrt(int n, int a, int b) => Assert.That(RotatedSign.Factor(n), Is.EqualTo((a, b)));

    [Test]
    public void Multiply_EqualsTheNaiveTripleLoopBitForBit([Values(1, 3, 5, 9, 28)] int n, [Values(false, true)] bool ta, [Values(false, true)] bool tb)
    {
        // the vectorised row update keeps the scalar i-p-j accumulation order (multiply, then add): identical results
        var rng = new Random(n);
        double[,] Random(int r, int c)
        {
            var m = new double[r, c];
            for (int i = 0; i < r; i++)
                for (int j = 0; j < c; j++) m[i, j] = rng.Next(4) == 0 ? 0 : rng.NextDouble() * 2 - 1;
            return m;
        }
        int k = n + 2, m = n + 1;
        double[,] a = ta ? Random(k, n) : Random(n, k), b = tb ? Random(m, k) : Random(k, m);
        double[,] c = Orthogonal.Multiply(a, b, ta, tb);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double expected = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = ta ? a[p, i] : a[i, p];
                    if (av != 0) expected += av * (tb ? b[j, p] : b[p, j]);
                }
                Assert.That(c[i, j], Is.EqualTo(expected), $"[{i}, {j}]");
            }
    }

    [Test]
    public void RotationSteps_UpdatesOnlyEverySthForward()
    {
        double[] theta = Theta();
        var every = new RotatedSign(4, seed: 3, dtype: DType.Float64);
        var sparse = new RotatedSign(4, seed: 3, dtype: DType.Float64, rotationSteps: 2);
        QuantizerHarness.Run(every, theta, Shape);
        QuantizerHarness.Run(sparse, theta, Shape);
        // forward 1 updates under both settings
        Assert.That(sparse.LeftRotation, Is.EqualTo(every.LeftRotation));
        double[,] afterFirst = sparse.LeftRotation!;
        QuantizerHarness.Run(sparse, theta, Shape);
        Assert.That(sparse.LeftRotation, Is.EqualTo(afterFirst), "forward 2 of s = 2 must not update");
        QuantizerHarness.Run(every, theta, Shape);
        QuantizerHarness.Run(sparse, theta, Shape);
        Assert.That(sparse.LeftRotation, Is.EqualTo(every.LeftRotation), "forward 3 of s = 2 updates once more, as forward 2 of s = 1 did");
    }

    [Test]
    public void RotationUpdate_KeepsOrthogonality_AndIncreasesTheAlignmentObjective()
    {
        double[] theta = Theta();
        var frozen = new RotatedSign(4, seed: 3, dtype: DType.Float64) { UpdateRotation = false };
        QuantizerHarness.Run(frozen, theta, Shape);
        var q = new RotatedSign(4, seed: 3, dtype: DType.Float64);
        QuantizerHarness.Run(q, theta, Shape);
        AssertOrthogonal(q.LeftRotation!);
        AssertOrthogonal(q.RightRotation!);
        double[] w2 = Standardize(theta, 4);
        double before = Rotate(w2, frozen.LeftRotation!, frozen.RightRotation!).Sum(Math.Abs);
        double after = Rotate(w2, q.LeftRotation!, q.RightRotation!).Sum(Math.Abs);
        // Σ_o tr(B_oᵀ R1ᵀ X_o R2) with B = sign(·) is the ℓ1 norm; each alternating step cannot decrease it.
        Assert.That(after, Is.GreaterThanOrEqualTo(before - 1e-9));
    }

    [Test]
    public void Forward_AndAngleGradient_FollowTheDocumentedFormulas()
    {
        double[] theta = Theta();
        var q = new RotatedSign(4, seed: 5, dtype: DType.Float64);
        q.OnProgress(new TrainingProgress(500, 0, 1000, 0));
        QuantizerHarness.Run(q, theta, Shape);
        q.UpdateRotation = false;
        double[] phi = [0.3, 1.0, 2.0, -0.7];
        q.Angle.Load(Tensor.FromValues(phi, [4], DType.Float64));
        double[] dy = QuantizerHarness.Upstream(theta.Length);
        QuantizerHarness.Result r = QuantizerHarness.Run(q, theta, Shape, dy);

        (double t, double k) = q.Surrogate;
        Assert.That(t, Is.EqualTo(0.316228).Within(1e-6));
        double[] w2 = Standardize(theta, 4);
        double[] rw = Rotate(w2, q.LeftRotation!, q.RightRotation!);
        double[] dphi = new double[4];
        for (int i = 0; i < theta.Length; i++)
        {
            int o = i / 12;
            double w3 = w2[i] + Math.Abs(Math.Sin(phi[o])) * (rw[i] - w2[i]);
            Assert.That(r.Y[i], Is.EqualTo(w3 >= 0 ? 1.0 : -1.0));
            dphi[o] += dy[i] * k * Math.Max(Math.Sqrt(2) * t - t * t * Math.Abs(w3), 0) * Math.Sign(Math.Sin(phi[o])) * Math.Cos(phi[o]) * (rw[i] - w2[i]);
        }
        Assert.That(r.ParameterGrads[0], Is.EqualTo(dphi).Within(1e-9));
    }

    [Test]
    public void WithZeroAngle_WeightGradient_IsSurrogateThroughStandardization()
    {
        double[] theta = Theta(9);
        var q = new RotatedSign(4, dtype: DType.Float64);
        q.OnProgress(new TrainingProgress(500, 0, 1000, 0));
        q.Angle.Load(Tensor.Zeros([4], DType.Float64));
        double[] dy = QuantizerHarness.Upstream(theta.Length);
        QuantizerHarness.Result r = QuantizerHarness.Run(q, theta, Shape, dy);
        (double t, double k) = q.Surrogate;
        // G is the antiderivative of the surrogate k(√2t − t²|x|)₊.
        double G(double x)
        {
            double m = Math.Min(Math.Abs(x), Math.Sqrt(2) / t);
            return Math.Sign(x) * k * (Math.Sqrt(2) * t * m - t * t * m * m / 2);
        }
        double Loss(double[] v) => Standardize(v, 4).Select((z, i) => dy[i] * G(z)).Sum();
        for (int i = 0; i < theta.Length; i++)
        {
            double[] p = (double[])theta.Clone(), m = (double[])theta.Clone();
            p[i] += 1e-6;
            m[i] -= 1e-6;
            Assert.That(r.Dx[i], Is.EqualTo((Loss(p) - Loss(m)) / 2e-6).Within(1e-6), $"element {i}");
        }
        Assert.That(r.Y, Is.EqualTo(Standardize(theta, 4).Select(z => z >= 0 ? 1.0 : -1.0).ToArray()));
    }
}

/// <summary>The RBNN angle initialisation decides whether the latent weights can learn at all.</summary>
[TestFixture, Category("Binarization")]
public class RotatedSignAngleTests
{
    private static double[] LatentGradient(double randomAngle)
    {
        SchemeInstance s = SchemeRegistry.Create("rbnn", new Dictionary<string, double> { ["random-angle"] = randomAngle });
        s.OnProgress(new TrainingProgress(0, 0, 10, 100));
        Tensor theta = Tensor.Uniform([4, 3, 2, 2], new Rng(3), -0.5, 0.5, dtype: DType.Float64, requiresGrad: true);
        s.Weights!.Apply(theta).Backward(Tensor.Uniform([4, 3, 2, 2], new Rng(4), -1, 1, dtype: DType.Float64));
        return theta.Grad!.ToDoubleArray();
    }

    [Test]
    public void HalfPiAngle_IsASaddle_ThetaGetsNoGradient() =>
        // dw2 = dw3·(1 − |sin φ|) = 0 at φ = π/2 (up to the rounding of sin(π/2) in floating point)
        Assert.That(LatentGradient(0).Max(Math.Abs), Is.LessThan(1e-12));

    [Test]
    public void DefaultRandomAngle_LetsThetaLearn() =>
        Assert.That(LatentGradient(1).Max(Math.Abs), Is.GreaterThan(1e-3));
}
