using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>BiPer, SiMaN, RBNN surrogate and BD-BNN against hand-computed oracle values (docs/schemes/straight-through.md).</summary>
[TestFixture, Category("Binarization")]
public class StraightThroughSurrogateOracleTests
{
    private const double Tol = 1e-5;

    [Test]
    public void BiPer_Oracle_BothStages()
    {
        double[] theta = [-0.1, 0.01, 0.05, 0.2];
        double[] dtheta = [-8.322937, 19.601332, 10.806046, -13.072872];
        QuantizerHarness.Result s2 = QuantizerHarness.Run(new PeriodicSign(20, 2), theta);
        Assert.That(s2.Y, Is.EqualTo(new[] { -1.0, 1, 1, -1 }));
        Assert.That(s2.Dx, Is.EqualTo(dtheta).Within(Tol));
        QuantizerHarness.Result s1 = QuantizerHarness.Run(new PeriodicSign(20, 1), theta);
        Assert.That(s1.Y, Is.EqualTo(new[] { -0.909297, 0.198669, 0.841471, -0.756802 }).Within(Tol));
        Assert.That(s1.Dx, Is.EqualTo(dtheta).Within(Tol));
        Assert.That(new PeriodicSign(20, 1).IsSmooth, Is.True);
        Assert.That(new PeriodicSign(20, 2).IsEstimator, Is.True);
    }

    /// <summary>Central difference of <paramref name="f"/> at every coordinate of <paramref name="x"/>.</summary>
    private static double[] NumericGradient(Func<double[], double> f, double[] x, double h = 1e-6)
    {
        double[] g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double[] p = (double[])x.Clone(), m = (double[])x.Clone();
            p[i] += h;
            m[i] -= h;
            g[i] = (f(p) - f(m)) / (2 * h);
        }
        return g;
    }

    private static double[] Standardize(double[] v, bool center)
    {
        double m = v.Average();
        double s = Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1) + 1e-5);
        return [.. v.Select(x => (x - (center ? m : 0)) / s)];
    }

    [TestCase(true)]
    [TestCase(false)]
    public void StandardizedSign_Backward_IsGradientOfSurrogateThroughStandardization(bool center)
    {
        double[] a = [0.3, -1.2, 0.05, -0.4, 0.9, -0.1, 2.0, 0.7];
        double[] dy = QuantizerHarness.Upstream(a.Length);
        QuantizerHarness.Result r = QuantizerHarness.Run(new StandardizedSign(center), a, [1, 2, 4], dy);
        double[] a0 = Standardize(a, center);
        Assert.That(r.Y, Is.EqualTo(a0.Select(v => v >= 0 ? 1.0 : -1.0).ToArray()));
        double[] numeric = NumericGradient(v => Standardize(v, center).Select((z, i) => dy[i] * BinaryMath.ApproxSignSurrogate(z)).Sum(), a);
        Assert.That(r.Dx, Is.EqualTo(numeric).Within(1e-6));
    }

    [Test]
    public void StandardizedSign_IsPerSample()
    {
        QuantizerHarness.Result r = QuantizerHarness.Run(new StandardizedSign(true), [1, 2, 3, 10, 20, 30], [2, 3]);
        Assert.That(r.Y, Is.EqualTo(new[] { -1.0, 1, 1, -1, 1, 1 }));
    }

    [Test]
    public void Siman_Oracle_AndBackwardIsGradientOfMagnitude()
    {
        double[] theta = [0.3, -1.2, 0.05, -0.4, 0.9, -0.1];
        double[] dy = QuantizerHarness.Upstream(theta.Length);
        QuantizerHarness.Result r = QuantizerHarness.Run(new SimanSign(clipLatent: false), theta, [1, 6], dy);
        Assert.That(r.Y, Is.EqualTo(new[] { 1.0, 1, -1, -1, 1, -1 }));
        double[] w2 = Standardize(theta, center: true);
        Assert.That(w2, Is.EqualTo(new[] { 0.532593, -1.597779, 0.177531, -0.461581, 1.384742, -0.035506 }).Within(Tol));
        double[] numeric = NumericGradient(v => Standardize(v, true).Select((z, i) => dy[i] * Math.Abs(z)).Sum(), theta);
        Assert.That(r.Dx, Is.EqualTo(numeric).Within(1e-6));
    }

    [Test]
    public void Siman_LatentClipping_FollowsPercentSchedule()
    {
        var rng = new Rng(4);
        double[] theta = [.. Enumerable.Range(0, 20).Select(_ => rng.Uniform(-1, 1))];
        var q = new SimanSign();
        q.OnProgress(new TrainingProgress(5, 0, 10, 0));
        Assert.That(q.Percent, Is.EqualTo(7.5).Within(1e-12));
        var p = new Parameter("w", Tensor.FromValues(theta, [2, 10], DType.Float64));
        q.Apply(p.Value);
        double[] after = p.Value.ToDoubleArray();
        double[] w1 = [.. theta.Select((v, i) => v - theta.Skip(i / 10 * 10).Take(10).Average())];
        double[] sorted = [.. w1.Select(Math.Abs).Order()];
        double low = SimanSign.Percentile(sorted, 7.5), high = SimanSign.Percentile(sorted, 92.5);
        for (int i = 0; i < after.Length; i++)
            Assert.That(after[i], Is.EqualTo(Math.Sign(w1[i]) * Math.Clamp(Math.Abs(w1[i]), low, high)).Within(1e-12));
        Assert.That(SimanSign.Percentile([1, 2, 3, 4], 50), Is.EqualTo(2.5));

        q.OnProgress(new TrainingProgress(10, 0, 10, 0));
        Assert.That(q.Percent, Is.EqualTo(0.0));
        q.Training = false;
        double[] frozen = p.Value.ToDoubleArray();
        q.Apply(p.Value);
        Assert.That(p.Value.ToDoubleArray(), Is.EqualTo(frozen));
    }

    [TestCase(0, 0.01, 100)]
    [TestCase(500, 0.316228, 3.162278)]
    [TestCase(999, 9.93116, 1)]
    public void Rbnn_Schedule_Oracle(int epoch, double t, double k)
    {
        var q = new RbnnSign();
        q.OnProgress(new TrainingProgress(epoch, 0, 1000, 0));
        Assert.That(q.T, Is.EqualTo(t).Within(Tol));
        Assert.That(q.K, Is.EqualTo(k).Within(Tol));
    }

    [Test]
    public void Rbnn_SurrogateFactors_Oracle_AndBackwardUsesThem()
    {
        var w = new RbnnSign();
        var a = new RbnnSign(activation: true);
        w.OnProgress(new TrainingProgress(500, 0, 1000, 0));
        a.OnProgress(new TrainingProgress(500, 0, 1000, 0));
        double[] x = [-0.5, 0.0, 0.1, 0.3];
        Assert.That(QuantizerHarness.Run(w, x).Dx, Is.EqualTo(new[] { 1.2561, 1.414214, 1.382591, 1.319345 }).Within(Tol));
        Assert.That(QuantizerHarness.Run(a, x).Dx, Is.EqualTo(new[] { 0.914214, 1.414214, 1.314214, 1.114214 }).Within(Tol));
        double[] probes = QuantizerHarness.Probes(1.0);
        double[] dy = QuantizerHarness.Upstream(probes.Length);
        QuantizerHarness.Result r = QuantizerHarness.Run(w, probes, dy: dy);
        for (int i = 0; i < probes.Length; i++)
            Assert.That(r.Dx[i], Is.EqualTo(dy[i] * 3.1622776601683795 * Math.Max(Math.Sqrt(2) * 0.31622776601683794 - 0.1 * Math.Abs(probes[i]), 0)).Within(1e-9));
    }

    [Test]
    public void Kurtosis_Oracle()
    {
        double[] w = [0.5, -1.0, 1.5, -0.2, 0.0, 0.8];
        Assert.That(KurtosisRegularizer.Kurtosis(w), Is.EqualTo(1.486061).Within(Tol));
        Tensor t = Tensor.FromValues(w, [2, 3], DType.Float64, requiresGrad: true);
        Tensor penalty = new KurtosisRegularizer().Penalty([t]);
        Assert.That(penalty.Item(), Is.EqualTo(0.098557).Within(Tol));
        penalty.Backward();
        Assert.That(t.Grad!.ToDoubleArray(), Is.EqualTo(new[] { 0.20867, 0.23617, -0.18109, -0.40247, -0.265, 0.40373 }).Within(Tol));
    }

    [Test]
    public void Kurtosis_Reductions()
    {
        Tensor a = Tensor.FromValues([0.5, -1.0, 1.5, -0.2, 0.0, 0.8], [6], DType.Float64, requiresGrad: true);
        Tensor b = Tensor.FromValues([1.0, -1.0, 1.0, -1.0], [4], DType.Float64, requiresGrad: true);
        double da = Math.Pow(KurtosisRegularizer.Kurtosis(a.ToDoubleArray()) - 1.8, 2), db = Math.Pow(KurtosisRegularizer.Kurtosis(b.ToDoubleArray()) - 1.8, 2);
        Assert.That(new KurtosisRegularizer(reduction: KurtosisReduction.Average).Penalty([a, b]).Item(), Is.EqualTo((da + db) / 2).Within(1e-12));
        Assert.That(new KurtosisRegularizer(weight: 2, reduction: KurtosisReduction.Sum).Penalty([a, b]).Item(), Is.EqualTo(2 * (da + db)).Within(1e-12));
        Tensor max = new KurtosisRegularizer(reduction: KurtosisReduction.Max).Penalty([a, b]);
        Assert.That(max.Item(), Is.EqualTo(Math.Max(da, db)).Within(1e-12));
        max.Backward();
        Assert.That((da > db ? b : a).Grad?.ToDoubleArray() ?? [0.0], Is.All.EqualTo(0.0));
        Assert.That(() => new KurtosisRegularizer().Penalty([]), Throws.ArgumentException);
    }

    [Test]
    public void Kurtosis_Float32PenaltyAndGradient_MatchFloat64([Values(2, 37, 1001)] int n)
    {
        // the float32 path reads the latent weights in place (no float64 copy); same values widened must give the same
        // penalty to float64 rounding and the same gradient to float32 rounding
        var rng = new Random(n);
        float[] w = [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        var t32 = new Tensor(w, [n], requiresGrad: true);
        var t64 = Tensor.FromValues([.. w.Select(v => (double)v)], [n], DType.Float64, requiresGrad: true);
        Tensor p32 = new KurtosisRegularizer().Penalty([t32]), p64 = new KurtosisRegularizer().Penalty([t64]);
        Assert.That(p32.Item(), Is.EqualTo(p64.Item()).Within(1e-6 * Math.Max(1, Math.Abs(p64.Item()))));
        Assert.That(KurtosisRegularizer.Kurtosis([.. w.Select(v => (double)v)]), Is.EqualTo(
            w.Select(v => (double)v).Select(v => v - w.Average(x => (double)x)).Select(d => d * d * d * d).Average() /
            Math.Pow(w.Select(v => (double)v).Select(v => v - w.Average(x => (double)x)).Sum(d => d * d) / (n - 1), 2)).Within(1e-12));
        p32.Backward();
        p64.Backward();
        float[] g32 = t32.Grad!.ToArray<float>();
        double[] g64 = t64.Grad!.ToDoubleArray();
        for (int i = 0; i < n; i++) Assert.That(g32[i], Is.EqualTo(g64[i]).Within(1e-6 * Math.Max(1e-3, Math.Abs(g64[i]))), $"[{i}]");
    }
}
