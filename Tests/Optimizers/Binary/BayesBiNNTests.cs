using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Optimizers;
using BinaryGrad.Optimizers.Binary;
using NUnit.Framework;

namespace BinaryGrad.Tests.Optimizers.Binary;

/// <summary>BayesBiNN (Meng et al. 2020, arXiv:2002.10778): the concrete relaxation op and the Bayesian-learning-rule optimizer against the
/// hand-computed one-step oracle, the float32 behaviour of τ = 1e-10, the code's μ lag, and hand-evaluated formulas.</summary>
[TestFixture, Category("Optimizers")]
public class BayesBiNNTests
{
    private static readonly double[] Lambda = [0.5, -1.0, 2.0];
    private static readonly double[] U = [0.3, 0.6, 0.5];
    private static readonly double[] G = [0.2, -0.1, 0.05];

    /// <summary>One forward/backward of the op on λ and one optimizer step; returns w_r and the gradient given to the optimizer.</summary>
    private static (double[] Relaxed, double[] Grad) OneStep(Parameter lambda, Optimizer optimizer, ConcreteBinaryWeight q, double[] u, double[] g)
    {
        q.NextUniforms = u;
        lambda.ZeroGrad();
        Tensor w = q.Apply(lambda.Value);
        w.Backward(g);
        double[] relaxed = w.ToDoubleArray(), grad = lambda.Grad!.ToDoubleArray();
        optimizer.Step();
        return (relaxed, grad);
    }

    [TestCase(DType.Float64, 1e-6)]
    [TestCase(DType.Float32, 1e-5)]
    public void OneStep_MatchesOracle(DType dtype, double tol)
    {
        var lambda = new Parameter("lambda", Tensor.FromValues(Lambda, [3], dtype), precision: 1);
        var optimizer = new BayesBiNN([KeyValuePair.Create("w", lambda)], trainSetSize: 1000, learningRate: 0.01);
        var q = new ConcreteBinaryWeight(temperature: 1);
        (double[] relaxed, double[] grad) = OneStep(lambda, optimizer, q, U, G);

        Assert.That(relaxed, Is.EqualTo(new[] { 0.076203, -0.662506, 0.964028 }).Within(tol), "w_r");
        double[] mu = [.. Lambda.Select(Math.Tanh)]; // [0.462117, −0.761594, 0.964028]
        double[] s = [.. grad.Select((d, i) => d / G[i] / (1 - mu[i] * mu[i] + 1e-10))];
        Assert.That(s, Is.EqualTo(new[] { 1.264157, 1.335999, 1.0 }).Within(tol), "s = (dw_r/dλ)/(dμ/dλ)");
        Assert.That(s.Select((v, i) => 1000 * v * G[i]), Is.EqualTo(new[] { 252.831321, -133.599909, 50.0 }).Within(1e-3), "ĝ = N·s·g");
        Assert.That(lambda.Value.ToDoubleArray(), Is.EqualTo(new[] { -2.033313, 0.345999, 1.48 }).Within(10 * tol), "λ_new");

        IReadOnlyDictionary<string, Tensor> state = optimizer.StateDict();
        Assert.That(state["w.mu"].ToDoubleArray(), Is.EqualTo(mu).Within(tol), "μ lags: tanh of the pre-update λ");

        q.Training = false;
        using (GradMode.NoGrad())
            Assert.That(q.Apply(lambda.Value).ToDoubleArray(), Is.EqualTo(new[] { -1.0, 1, 1 }), "test weights sign(tanh λ_new)");
    }

    [Test]
    public void MuWithoutLag_IsTanhOfNewLambda()
    {
        var lambda = new Parameter("lambda", Tensor.FromValues(Lambda, [3], DType.Float64), precision: 1);
        var optimizer = new BayesBiNN([KeyValuePair.Create("w", lambda)], 1000, 0.01, muLagsOneStep: false);
        OneStep(lambda, optimizer, new ConcreteBinaryWeight(temperature: 1), U, G);
        Assert.That(optimizer.StateDict()["w.mu"].ToDoubleArray(), Is.EqualTo(new[] { -2.033313, 0.345999, 1.48 }.Select(Math.Tanh)).Within(1e-6));
    }

    /// <summary>Float32 precision: λ = ±10 with τ = 1e-10 and δ = 0 (u = ½). In float32 tanh(10) = 1 exactly, so
    /// 1 − μ² + 1e-10 = 1e-10 and s = 1e10; in float64 s = 1/(1 − tanh²(10) + 1e-10) ≈ 1.2e8. With N = 1, κ = 0 and
    /// α = 1 the update is Δλ = −s·g, so s is read off the new λ.</summary>
    [Test]
    public void Float32_SaturatedWeights_GiveScaleOneE10_Float64_OneE8()
    {
        double[] g = [1e-3, -1e-3];
        double ScaleIn(DType dtype)
        {
            var lambda = new Parameter("lambda", Tensor.FromValues([10.0, -10.0], [2], dtype), precision: 1);
            var optimizer = new BayesBiNN([KeyValuePair.Create("w", lambda)], trainSetSize: 1, learningRate: 1, klReweight: 0);
            (double[] relaxed, double[] grad) = OneStep(lambda, optimizer, new ConcreteBinaryWeight(temperature: 1e-10), [0.5, 0.5], g);
            Assert.That(relaxed, Is.EqualTo(new[] { 1.0, -1.0 }), $"{dtype}: the relaxed sample is exactly ±1");
            Assert.That(grad, Is.EqualTo(g).Within(1e-9), $"{dtype}: numerator (1 − w_r² + 1e-10)/τ = 1");
            double[] after = lambda.Value.ToDoubleArray();
            double s0 = (10 - after[0]) / g[0], s1 = (-10 - after[1]) / g[1];
            Assert.That(s1, Is.EqualTo(s0).Within(1e-3 * s0));
            return s0;
        }

        double float32 = ScaleIn(DType.Float32), float64 = ScaleIn(DType.Float64);
        Assert.That(float32, Is.EqualTo(1 / (double)1e-10f).Within(1e-3 / 1e-10), "float32: s = 1/1e-10");
        double expected64 = 1 / (1 - Math.Tanh(10) * Math.Tanh(10) + 1e-10);
        Assert.That(float64, Is.EqualTo(expected64).Within(1e-6 * expected64), "float64: s = 1/(1 − tanh²10 + 1e-10)");
        Assert.That(float64, Is.EqualTo(1.1984e8).Within(0.001e8));
    }

    [Test]
    public void Momentum_IsBiasCorrected_FirstStepEqualsNoMomentum()
    {
        double[] Run(double beta)
        {
            var lambda = new Parameter("lambda", Tensor.FromValues(Lambda, [3], DType.Float64), precision: 1);
            var optimizer = new BayesBiNN([KeyValuePair.Create("w", lambda)], 1000, 0.01, momentum: beta);
            OneStep(lambda, optimizer, new ConcreteBinaryWeight(temperature: 1), U, G);
            return lambda.Value.ToDoubleArray();
        }
        Assert.That(Run(0.9), Is.EqualTo(Run(0)).Within(1e-12));
    }

    [Test]
    public void KlTerm_PullsTowardsPrior_WithoutData()
    {
        // zero loss gradient: λ ← λ − α·κ·(λ − λ0) = (1 − ακ)λ + ακλ0
        var lambda = new Parameter("lambda", Tensor.FromValues(Lambda, [3], DType.Float64), precision: 1);
        var optimizer = new BayesBiNN([KeyValuePair.Create("w", lambda)], 1000, 0.1, klReweight: 2, priorLambda: 0.5);
        lambda.Value.Grad = Tensor.Zeros([3], DType.Float64);
        optimizer.Step();
        Assert.That(lambda.Value.ToDoubleArray(), Is.EqualTo(Lambda.Select(l => 0.8 * l + 0.2 * 0.5)).Within(1e-12));
    }

    [Test]
    public void Bind_InitialisesLambdaToPlusMinusLambdaInit()
    {
        var q = new ConcreteBinaryWeight();
        Tensor lambda = Tensor.Zeros([1000]);
        q.Bind(lambda, new Rng(4));
        float[] values = lambda.ToArray<float>();
        Assert.That(values, Is.All.EqualTo(10f).Or.EqualTo(-10f));
        Assert.That(values.Count(v => v > 0), Is.InRange(430, 570));
    }

    [Test]
    public void ModeMapsZeroToMinusOne()
    {
        var q = new ConcreteBinaryWeight { Training = false };
        using var _ = GradMode.NoGrad();
        Assert.That(q.Apply(Tensor.FromValues([0.0, 1e-30, -3], [3])).ToDoubleArray(), Is.EqualTo(new[] { -1.0, 1, -1 }));
        Assert.That(q.EvaluationSamples, Is.EqualTo(1));
    }

    [Test]
    public void TestSamples_AreBernoulliWithProbabilitySigmoidTwoLambda()
    {
        double[] lambdaNew = [-2.033313, 0.345999, 1.48];
        var q = new ConcreteBinaryWeight(testSamples: 5) { Training = false };
        Assert.That(q.EvaluationSamples, Is.EqualTo(5));
        Tensor lambda = Tensor.FromValues(lambdaNew, [3]);
        var plus = new int[3];
        const int draws = 4000;
        using var _ = GradMode.NoGrad();
        for (int n = 0; n < draws; n++)
        {
            double[] w = q.Apply(lambda).ToDoubleArray();
            for (int i = 0; i < 3; i++) if (w[i] == 1) plus[i]++;
        }
        // One-step oracle: P(w=+1) = σ(2λ_new) = [0.016846, 0.666411, 0.950734]; 4000 draws: standard error ≤ 0.008
        Assert.That(plus.Select(p => (double)p / draws), Is.EqualTo(new[] { 0.016846, 0.666411, 0.950734 }).Within(0.03));
    }

    [Test]
    public void FixedNoiseSeed_MakesTheRelaxationDeterministic()
    {
        var q = new ConcreteBinaryWeight(temperature: 1, fixedNoiseSeed: 3);
        Tensor lambda = Tensor.FromValues(Lambda, [3], DType.Float64);
        using var _ = GradMode.NoGrad();
        double[] first = q.Apply(lambda).ToDoubleArray(), second = q.Apply(lambda).ToDoubleArray();
        Assert.That(second, Is.EqualTo(first));
        Assert.That(q.IsSmooth, Is.True);
        Assert.That(new ConcreteBinaryWeight().IsSmooth, Is.False, "τ = 1e-10 is a step function numerically");
    }

    [Test]
    public void CaseOptimizer_RoutesBinaryToBayesBiNN_AndRealToAdam()
    {
        var lambda = new Parameter("lambda", Tensor.FromValues(Lambda, [3]), precision: 1);
        var gamma = new Parameter("gamma", Tensor.FromValues([1.0], [1]));
        var optimizer = (CaseOptimizer)BinaryOptimizers.CreateBayesBiNN([KeyValuePair.Create("l", lambda), KeyValuePair.Create("g", gamma)], 1e-4, 60000);
        Assert.That(optimizer.Binary, Is.TypeOf<BayesBiNN>());
        Assert.That(((BayesBiNN)optimizer.Binary).TrainSetSize, Is.EqualTo(60000));
        Assert.That(optimizer.Real, Is.TypeOf<Adam>());
    }

    [Test]
    public void BadArguments_NameTheirRule()
    {
        var p = new Parameter("w", Tensor.Zeros([2]), precision: 1);
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new BayesBiNN([KeyValuePair.Create("w", p)], 0))!.Message, Does.Contain("training-set size"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new BayesBiNN([KeyValuePair.Create("w", p)], 10, momentum: 1))!.Message, Does.Contain("momentum"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new ConcreteBinaryWeight(temperature: 0))!.Message, Does.Contain("temperature"));
    }
}
