using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>Self-binarizing tanh sharpening, the group-transform placeholders and the decomposed binary weights against
/// hand-computed oracle values (plain-math Python; docs/schemes/smooth.md, group-transform.md, decomposed.md).</summary>
[TestFixture]
public class GroupSmoothDecomposedTests
{
    private const double Tol = 1e-6;

    [TestCase(1.0, new[] { -0.462117, 0.099668, 0.664037 }, new[] { 0.786448, 0.990066, 0.559055 })]
    [TestCase(5.0, new[] { -0.986614, 0.462117, 0.999329 }, new[] { 0.132961, 3.932239, 0.006705 })]
    [TestCase(50.0, new[] { -1.0, 0.999909, 1.0 }, new[] { 0.0, 0.009079, 0.0 })]
    public void TanhSharpen_MatchesOracle(double v, double[] forward, double[] gradient)
    {
        var q = new TanhSharpen(Schedule.Constant(v));
        QuantizerHarness.Result r = QuantizerHarness.Run(q, [-0.5, 0.1, 0.8]);
        Assert.That(r.Y, Is.EqualTo(forward).Within(1e-6));
        Assert.That(r.Dx, Is.EqualTo(gradient).Within(1e-6));
    }

    [TestCase(31.6228, new[] { -0.306092, 0.031612, 0.306092 }, new[] { 28.659981, 31.591198, 28.659981 })]
    [TestCase(1000.0, new[] { -1.0, 0.761594, 1.0 }, new[] { 8e-06, 419.974342, 8e-06 })]
    public void TanhSharpen_MatchesPartII33Oracle(double v, double[] forward, double[] gradient)
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(new TanhSharpen(Schedule.Constant(v)), [-0.01, 0.001, 0.01]);
        Assert.That(r.Y, Is.EqualTo(forward).Within(1e-6));
        Assert.That(r.Dx, Is.EqualTo(gradient).Within(1e-5));
    }

    [Test]
    public void SharpnessSchedules_MatchPartII33Oracle()
    {
        var geometric = new SharpnessSchedule(SharpnessScheduleKind.GeometricPerEpoch, 1, 1000);
        var staircase = new SharpnessSchedule(SharpnessScheduleKind.Staircase, 1, 1000, 40, 20);
        int[] epochs = [0, 1, 50, 100, 150, 199];
        double[] expectedGeometric = [1.0, 1.0353, 5.6724, 32.1764, 182.5183, 1000.0], expectedStairs = [1, 1, 21, 41, 61, 81];
        for (int i = 0; i < epochs.Length; i++)
        {
            var p = new TrainingProgress(epochs[i], epochs[i] * 10L, 200, 2000);
            Assert.That(geometric.ValueAt(p), Is.EqualTo(expectedGeometric[i]).Within(5e-5), $"geometric at epoch {epochs[i]}");
            Assert.That(staircase.ValueAt(p), Is.EqualTo(expectedStairs[i]), $"staircase at epoch {epochs[i]}");
        }
        var perStep = new SharpnessSchedule(SharpnessScheduleKind.GeometricPerStep, 1, 1000);
        Assert.That(perStep.ValueAt(new TrainingProgress(0, 1999, 200, 2000)), Is.EqualTo(1000).Within(1e-9));
        Assert.That(perStep.ValueAt(new TrainingProgress(0, 0, 200, 2000)), Is.EqualTo(1).Within(1e-12));
    }

    [Test]
    public void TanhSharpen_DeploysExactSignAndFollowsTheSchedule()
    {
        var q = new TanhSharpen(new SharpnessSchedule(SharpnessScheduleKind.GeometricPerEpoch, 1, 1000));
        q.OnProgress(new TrainingProgress(4, 0, 5, 0));
        Assert.That(q.V, Is.EqualTo(1000).Within(1e-9));
        q.Training = false;
        Assert.That(q.IsHardSign, Is.True);
        QuantizerHarness.Result r = QuantizerHarness.Run(q, [-0.3, 0.0, 1e-9, -1e-9, 2]);
        Assert.That(r.Y, Is.EqualTo(new[] { -1.0, 1, 1, -1, 1 }));
        q.SignAtInference = false;
        Assert.That(q.IsHardSign, Is.False);
        Assert.That(QuantizerHarness.Run(q, [0.001]).Y[0], Is.EqualTo(Math.Tanh(1)).Within(1e-12));
    }

    [TestCase(1.0, true), TestCase(46.4, true), TestCase(1000.0, true), TestCase(5.0, false)]
    public void TanhSharpen_Float32PathEqualsFloat64PathBitForBit(double v, bool training)
    {
        var rng = new Rng(21);
        double[] x = [.. Enumerable.Range(0, 37).Select(_ => (double)(float)rng.Uniform(-0.05, 0.05)), 0, 1e-30, -2, 3];
        double[] dy = [.. x.Select(_ => (double)(float)rng.Uniform(-2, 2))];
        var q = new TanhSharpen(Schedule.Constant(v)) { Training = training };
        QuantizerHarness.Result reference = QuantizerHarness.Run(q, x, dy: dy, dtype: DType.Float64);
        QuantizerHarness.Result fast = QuantizerHarness.Run(q, x, dy: dy, dtype: DType.Float32);
        Assert.That(fast.Y, Is.EqualTo(reference.Y.Select(y => (double)(float)y).ToArray()));
        if (training) Assert.That(fast.Dx, Is.EqualTo(reference.Dx.Select(d => (double)(float)d).ToArray()));
    }

    [Test]
    public void BinaryBatchNorm_MatchesOracleAndSignOfBatchNorm()
    {
        BinaryBatchNorm fold = BinaryBatchNorm.Fold(gamma: -2, beta: 0.5, mean: 1, variance: 4, epsilon: 0);
        Assert.That(fold.Threshold, Is.EqualTo(1.5));
        Assert.That(fold.Direction, Is.EqualTo(-1));
        double[] xs = [0, 1, 1.4, 1.5, 2, 3];
        Assert.That(xs.Select(fold.Apply), Is.EqualTo(new double[] { 1, 1, 1, 1, -1, -1 }));

        // independent oracle: sign(γ(x − μ)/√(σ²+ε) + β) evaluated directly, on integer pre-activations (popcount results)
        var rng = new Rng(7);
        for (int trial = 0; trial < 200; trial++)
        {
            double gamma = rng.Uniform(-2, 2), beta = rng.Uniform(-3, 3), mean = rng.Uniform(-5, 5), variance = rng.Uniform(0.1, 9);
            if (trial % 50 == 0) gamma = 0;
            BinaryBatchNorm b = BinaryBatchNorm.Fold(gamma, beta, mean, variance, 1e-5);
            for (int x = -12; x <= 12; x++)
            {
                double bn = gamma * (x - mean) / Math.Sqrt(variance + 1e-5) + beta;
                if (Math.Abs(bn) < 1e-9) continue; // exact ties depend on rounding of the two algebraically equal forms
                Assert.That(b.Apply(x), Is.EqualTo(BinaryMath.Sign(bn)), $"γ={gamma} β={beta} μ={mean} σ²={variance} x={x}");
            }
        }
    }

    private static GroupSoftBinary SoftBinaryWithLogits(double[] logits, double t)
    {
        var q = new GroupSoftBinary(groupSize: 2, Schedule.Constant(t), DType.Float64);
        q.Initialize(Tensor.FromValues([0.1, -0.2], [1, 2], DType.Float64));
        q.Logits!.Load(Tensor.FromValues(logits, [4], DType.Float64));
        q.OnProgress(default);
        return q;
    }

    [Test]
    public void GroupSoftBinary_MatchesPartII23Oracle()
    {
        double[] z = [0.5, -0.2, 0.1, 1.0];
        GroupSoftBinary q = SoftBinaryWithLogits(z, 1);
        QuantizerHarness.Result r = QuantizerHarness.Run(q, [0, 0], [1, 2], dy: [1, 0]);
        Assert.That(r.Y, Is.EqualTo(new[] { 0.215549, 0.124485 }).Within(Tol));
        Assert.That(r.ParameterGrads[0], Is.EqualTo(new[] { -0.318571, -0.158198, 0.13781, 0.338959 }).Within(Tol), "row 0 of dw/dz");
        Assert.That(r.Dx, Is.EqualTo(new[] { 0.0, 0.0 }), "the latent weight is not used");

        r = QuantizerHarness.Run(q, [0, 0], [1, 2], dy: [0, 1]);
        Assert.That(r.ParameterGrads[0], Is.EqualTo(new[] { -0.294705, 0.113944, -0.197547, 0.378308 }).Within(Tol), "row 1 of dw/dz");

        q = SoftBinaryWithLogits(z, 0.1);
        Assert.That(QuantizerHarness.Run(q, [0, 0], [1, 2]).Y, Is.EqualTo(new[] { 0.986604, 0.986371 }).Within(Tol));
        q.Training = false;
        Assert.That(q.IsHardSign, Is.True);
        Assert.That(QuantizerHarness.Run(q, [0, 0], [1, 2]).Y, Is.EqualTo(new[] { 1.0, 1.0 }));
    }

    [Test]
    public void GroupSoftBinary_InitialisationFactorisesIntoTanhOfScaledWeights_AndHandlesShortGroups()
    {
        double[] theta = [0.3, -0.1, 0.05, -0.4, 0.2, 0.15, -0.25]; // one channel of 7: groups of 3, 3, 1
        var q = new GroupSoftBinary(groupSize: 3, Schedule.Constant(1), DType.Float64);
        q.Initialize(Tensor.FromValues(theta, [1, 7], DType.Float64));
        q.OnProgress(default);
        Assert.That(q.Logits!.Length, Is.EqualTo(8 + 8 + 2));
        double m = theta.Average(Math.Abs);
        double[] y = QuantizerHarness.Run(q, new double[7], [1, 7]).Y;
        Assert.That(y, Is.EqualTo(theta.Select(t => Math.Tanh(t / m)).ToArray()).Within(1e-12));
        q.Training = false;
        Assert.That(QuantizerHarness.Run(q, new double[7], [1, 7]).Y, Is.EqualTo(theta.Select(t => BinaryMath.Sign(t)).ToArray()));
        Assert.That(() => QuantizerHarness.Run(q, new double[6], [2, 3]), Throws.ArgumentException.With.Message.Contains("[1,7]"));
    }

    [Test]
    public void GroupSphereRelax_MatchesPartII23Oracle()
    {
        var q = new GroupSphereRelax(4);
        QuantizerHarness.Result r = QuantizerHarness.Run(q, [0.3, -1.2, 0.05, 0.8], [1, 4], dy: [1, 0.5, -2, 0.25]);
        Assert.That(r.Y, Is.EqualTo(new[] { 0.407072, -1.628288, 0.067845, 1.085526 }).Within(Tol));
        Assert.That(r.Dx, Is.EqualTo(new[] { 1.394382, 0.528554, -2.707568, 0.43916 }).Within(Tol));
        q.Training = false;
        Assert.That(QuantizerHarness.Run(q, [0.3, -1.2, 0.05, 0.8], [1, 4]).Y, Is.EqualTo(new[] { 1.0, -1, 1, 1 }));
    }

    /// <summary>The vertex blend against the sphere-point oracle combined by hand: at λ the forward is
    /// (1 − λ)·oracle w + λ·sign(θ) and the backward (1 − λ)·oracle dθ; λ follows a linear per-step ramp to blend-end.</summary>
    [Test]
    public void GroupSphereRelax_VertexBlend_IsTheOracleMixedWithTheSigns()
    {
        var q = new GroupSphereRelax(4, blendEnd: 1);
        q.OnProgress(new TrainingProgress(Epoch: 0, Step: 250, TotalEpochs: 1, TotalSteps: 1000));
        Assert.That(q.Blend, Is.EqualTo(0.25).Within(1e-12));
        QuantizerHarness.Result r = QuantizerHarness.Run(q, [0.3, -1.2, 0.05, 0.8], [1, 4], dy: [1, 0.5, -2, 0.25]);
        double[] sphere = [0.407072, -1.628288, 0.067845, 1.085526], signs = [1, -1, 1, 1], dSphere = [1.394382, 0.528554, -2.707568, 0.43916];
        Assert.That(r.Y, Is.EqualTo(sphere.Select((w, i) => 0.75 * w + 0.25 * signs[i]).ToArray()).Within(Tol));
        Assert.That(r.Dx, Is.EqualTo(dSphere.Select(d => 0.75 * d).ToArray()).Within(Tol));
        q.OnProgress(new TrainingProgress(Epoch: 0, Step: 1000, TotalEpochs: 1, TotalSteps: 1000));
        Assert.That(QuantizerHarness.Run(q, [0.3, -1.2, 0.05, 0.8], [1, 4]).Y, Is.EqualTo(signs).Within(1e-15)); // λ = 1: the deployed weights
        Assert.That(() => new GroupSphereRelax(4, blendEnd: 1.5), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    /// <summary>At λ = 0.6 the backward still equals float64 central differences of the forward (θ away from 0, so
    /// the signs do not flip within the step).</summary>
    [Test]
    public void GroupSphereRelax_VertexBlend_BackwardMatchesFiniteDifferences()
    {
        var q = new GroupSphereRelax(3, blendEnd: 1);
        q.OnProgress(new TrainingProgress(Epoch: 0, Step: 600, TotalEpochs: 1, TotalSteps: 1000));
        Assert.That(q.Blend, Is.EqualTo(0.6).Within(1e-12));
        double[] theta = [0.7, -0.4, 1.1, -0.9, 0.25, 0.5, -1.3], dy = [0.3, -1.0, 0.8, 0.2, -0.5, 1.5, 0.4];
        double[] analytic = QuantizerHarness.Run(q, theta, [1, 7], dy: dy).Dx;
        const double h = 1e-6;
        for (int i = 0; i < theta.Length; i++)
        {
            double[] plus = (double[])theta.Clone(), minus = (double[])theta.Clone();
            plus[i] += h;
            minus[i] -= h;
            double[] yp = QuantizerHarness.Run(q, plus, [1, 7]).Y, ym = QuantizerHarness.Run(q, minus, [1, 7]).Y;
            double numeric = 0;
            for (int j = 0; j < theta.Length; j++) numeric += dy[j] * (yp[j] - ym[j]) / (2 * h);
            Assert.That(analytic[i], Is.EqualTo(numeric).Within(1e-7), $"θ[{i}]");
        }
    }

    [Test]
    public void GroupSphereRelax_ScalarViewIsTheDiagonalJacobianOfAUnitPaddedGroup()
    {
        var q = new GroupSphereRelax(4);
        foreach (double x in new[] { -1.3, -0.2, 0.4, 2.0 })
        {
            QuantizerHarness.Result r = QuantizerHarness.Run(q, [x, 1, 1, 1], [1, 4], dy: [1, 0, 0, 0]);
            Assert.That(q.Forward(x), Is.EqualTo(r.Y[0]).Within(1e-12));
            Assert.That(q.Derivative(x), Is.EqualTo(r.Dx[0]).Within(1e-12));
        }
    }

    private static void Load(Quantizer q, string name, double[] values) =>
        q.Parameters.Single(p => p.Name == name).Load(Tensor.FromValues(values, q.Parameters.Single(p => p.Name == name).Value.Shape, DType.Float64));

    [Test]
    public void MatrixDecomposedSign_MatchesOracle()
    {
        var q = new MatrixDecomposedSign(dtype: DType.Float64);
        q.Initialize(Tensor.Zeros([2, 3], DType.Float64));
        Assert.That(q.UsedRank, Is.EqualTo(2));
        Load(q, "u", [1, 0.5, -0.5, 2]);
        Load(q, "v", [0.2, -1, 0.4, 0.3, -0.6, 0.1]);
        Load(q, "scale", [1, 2]);
        QuantizerHarness.Result r = QuantizerHarness.Run(q, new double[6], [2, 3], dy: [1, -1, 0.5, 2, 0, -1]);
        Assert.That(r.Y, Is.EqualTo(new double[] { -1, 1, -1, -2, 2, 2 }));
        string[] order = [.. q.Parameters.Select(p => p.Name)];
        Assert.That(r.ParameterGrads[Array.IndexOf(order, "scale")], Is.EqualTo(new[] { -2.5, -3.0 }).Within(1e-12));
        Assert.That(r.ParameterGrads[Array.IndexOf(order, "u")], Is.EqualTo(new[] { -0.5, -1.25, 2.0, -4.2 }).Within(1e-12));
        Assert.That(r.ParameterGrads[Array.IndexOf(order, "v")], Is.EqualTo(new[] { -1, 8.5, -1, -0.5, 1.5, -3.75 }).Within(1e-12));
        Assert.That(r.Dx, Is.All.EqualTo(0.0));
    }

    [Test]
    public void TuckerDecomposedSign_MatchesPartII43Oracle()
    {
        var q = new TuckerDecomposedSign(dtype: DType.Float64, ranks: [2, 1, 2, 1]);
        q.Initialize(Tensor.Zeros([2, 2, 2, 1], DType.Float64));
        Load(q, "core", [0.5, -1.0, 0.8, 0.3]);
        Load(q, "factor0", [1, -0.5, 0.2, 0.7]);
        Load(q, "factor1", [0.9, -0.4]);
        Load(q, "factor2", [1, 0, 0.5, -1.2]);
        Load(q, "factor3", [1]);
        var linear = new TuckerDecomposedSign(dtype: DType.Float64, ranks: [2, 1, 2, 1], linearize: true);
        linear.Initialize(Tensor.Zeros([2, 2, 2, 1], DType.Float64));
        foreach (Parameter p in q.Parameters) Load(linear, p.Name, p.Value.ToDoubleArray());
        double[] dy = [1, -2, 0.5, 1, -1, 0, 2, 1.5];
        Assert.That(QuantizerHarness.Run(linear, new double[8], [2, 2, 2, 1]).Y,
            Is.EqualTo(new[] { 0.09, 1.287, -0.04, -0.572, 0.594, 0.2862, -0.264, -0.1272 }).Within(1e-12), "reconstruction W");
        QuantizerHarness.Result r = QuantizerHarness.Run(q, new double[8], [2, 2, 2, 1], dy: dy);
        Assert.That(r.Y, Is.EqualTo(new double[] { 1, 1, -1, -1, 1, 1, -1, -1 }));
        string[] order = [.. q.Parameters.Select(p => p.Name)];
        Assert.That(r.ParameterGrads[Array.IndexOf(order, "scale")], Is.EqualTo(new[] { -2.5, -4.5 }).Within(1e-12));
        Assert.That(r.ParameterGrads[Array.IndexOf(order, "factor0")], Is.EqualTo(new[] { -2.84, 0.472, -1.72, -1.384 }).Within(1e-12));
        Assert.That(r.ParameterGrads[Array.IndexOf(order, "core")], Is.EqualTo(new[] { -0.8, 2.784, -1.2, -0.816 }).Within(1e-12));
    }

    [TestCase(false, new[] { 5, 7 }), TestCase(true, new[] { 5, 7 }), TestCase(false, new[] { 4, 3, 3, 3 }), TestCase(true, new[] { 4, 3, 3, 3 })]
    public void FullRankInitialisation_ReconstructsTheLatentWeight(bool tucker, int[] shape)
    {
        var rng = new Rng(5);
        int n = shape.Aggregate(1, (a, b) => a * b);
        double[] w = [.. Enumerable.Range(0, n).Select(_ => rng.Uniform(-0.3, 0.3))];
        DecomposedSign q = tucker ? new TuckerDecomposedSign(0, linearize: true, dtype: DType.Float64) : new MatrixDecomposedSign(0, linearize: true, dtype: DType.Float64);
        q.Initialize(Tensor.FromValues(w, shape, DType.Float64));
        Assert.That(QuantizerHarness.Run(q, new double[n], shape).Y, Is.EqualTo(w).Within(1e-10));
    }

    // A = P·diag(5, 2, 0.5)·Qᵀ with orthonormal P (m×3), Q (n×3): rank 2 keeps 5 and 2, error = the dropped 0.5 term.
    // Tall and wide shapes take the two QR orientations; 3×40 and 40×3 are the Tucker-unfolding shape.
    [TestCase(6, 4)]
    [TestCase(4, 6)]
    [TestCase(40, 3)]
    [TestCase(3, 40)]
    public void TruncatedSvd_KeepsTheLeadingSingularTriplets(int m, int n)
    {
        var rng = new Rng(9);
        double[] p = Orthonormal(m, 3, rng), q = Orthonormal(n, 3, rng);
        double[] s = [5, 2, 0.5], a = new double[m * n];
        for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) for (int c = 0; c < 3; c++) a[i * n + j] += p[i * 3 + c] * s[c] * q[j * 3 + c];
        (double[] u, double[] sv, double[] v) = Decompositions.TruncatedSvd(a, m, n, 2);
        Assert.That(sv, Is.EqualTo(new[] { 5.0, 2.0 }).Within(1e-9));
        double err = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double r = a[i * n + j];
                for (int c = 0; c < 2; c++) r -= u[i * 2 + c] * sv[c] * v[j * 2 + c];
                err += r * r;
            }
        Assert.That(Math.Sqrt(err), Is.EqualTo(0.5).Within(1e-9));
        for (int c = 0; c < 2; c++)
        {
            // the kept triplets are P's and Q's columns up to one common sign, fixed by the largest entry of u being positive
            double[] uc = [.. Enumerable.Range(0, m).Select(i => u[i * 2 + c])];
            Assert.That(uc.MaxBy(Math.Abs), Is.GreaterThan(0), $"sign convention of u{c}");
            double sign = Math.Sign(Enumerable.Range(0, m).Sum(i => uc[i] * p[i * 3 + c]));
            for (int i = 0; i < m; i++) Assert.That(uc[i], Is.EqualTo(sign * p[i * 3 + c]).Within(1e-9), $"u{c}[{i}]");
            for (int j = 0; j < n; j++) Assert.That(v[j * 2 + c], Is.EqualTo(sign * q[j * 3 + c]).Within(1e-9), $"v{c}[{j}]");
        }
    }

    /// <summary>A rows×cols matrix (row-major) with orthonormal columns: the Q factor of a Gaussian matrix.</summary>
    private static double[] Orthonormal(int rows, int cols, Rng rng)
    {
        var gaussian = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(rows, cols, (_, _) => rng.Normal());
        return gaussian.QR(MathNet.Numerics.LinearAlgebra.Factorization.QRMethod.Thin).Q.ToRowMajorArray();
    }

    [Test]
    public void Registry_ListsTheNewSchemesAsStandardConstructions_NeverAsShulman()
    {
        foreach (string name in new[] { "group-soft-binary", "group-sphere-relax", "self-binarizing", "decomposed-matrix", "decomposed-tucker" })
        {
            SchemeInfo s = SchemeRegistry.Get(name);
            Assert.That(s.ProvenanceTag, Is.EqualTo("standard-construction"), name);
            Assert.That(s.Create().Weights, Is.Not.Null, name);
        }
        foreach (string name in new[] { "group-soft-binary", "group-sphere-relax" })
            Assert.That(SchemeRegistry.Get(name).Description, Does.Contain("PLACEHOLDER").And.Contain("not Shulman"));
    }
}
