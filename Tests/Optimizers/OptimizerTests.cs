using BinaryGrad.Autograd;
using BinaryGrad.Optimizers;
using NUnit.Framework;

namespace BinaryGrad.Tests.Optimizers;

[TestFixture, Category("Optimizers")]
public class OptimizerTests
{
    private static readonly double[] Start = [0.5, -1.5, 2.0];
    private static readonly double[][] Grads = [[0.1, -0.2, 0.3], [-0.4, 0.5, 0.05], [0.2, 0.2, -0.6]];

    private static Parameter NewParameter(DType dtype = DType.Float64) => new("w", Tensor.FromValues(Start, [3], dtype));

    private static KeyValuePair<string, Parameter>[] Named(Parameter p) => [KeyValuePair.Create("w", p)];

    /// <summary>Runs the optimizer over the fixed gradient sequence; returns the parameter after each step.</summary>
    private static double[][] Run(Optimizer optimizer, Parameter p, int steps = 3)
    {
        var history = new double[steps][];
        for (int t = 0; t < steps; t++)
        {
            p.Value.Grad = Tensor.FromValues(Grads[t], [3], p.DType);
            optimizer.Step();
            history[t] = p.Value.ToDoubleArray();
        }
        return history;
    }

    [TestCase(0.0, 0.0, false), TestCase(0.9, 0.0, false), TestCase(0.9, 0.01, false), TestCase(0.8, 0.05, true)]
    public void Sgd_MatchesPyTorchFormula(double momentum, double weightDecay, bool nesterov)
    {
        const double lr = 0.1;
        Parameter p = NewParameter();
        double[][] actual = Run(new Sgd(Named(p), lr, momentum, weightDecay, nesterov), p);
        double[] w = [.. Start], buffer = new double[3];
        for (int t = 0; t < 3; t++)
        {
            for (int i = 0; i < 3; i++)
            {
                double g = Grads[t][i] + weightDecay * w[i];
                if (momentum != 0)
                {
                    buffer[i] = t == 0 ? g : momentum * buffer[i] + g;
                    g = nesterov ? g + momentum * buffer[i] : buffer[i];
                }
                w[i] -= lr * g;
            }
            Assert.That(actual[t], Is.EqualTo(w).Within(1e-12), $"step {t + 1}");
        }
    }

    [TestCase(false, 0.0), TestCase(false, 0.1), TestCase(true, 0.1)]
    public void AdamAndAdamW_MatchPyTorchFormula(bool decoupled, double weightDecay)
    {
        const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        Parameter p = NewParameter();
        Optimizer optimizer = decoupled ? new AdamW(Named(p), lr, b1, b2, eps, weightDecay) : new Adam(Named(p), lr, b1, b2, eps, weightDecay);
        double[][] actual = Run(optimizer, p);
        double[] w = [.. Start], m = new double[3], v = new double[3];
        for (int t = 1; t <= 3; t++)
        {
            for (int i = 0; i < 3; i++)
            {
                double g = Grads[t - 1][i];
                if (decoupled) w[i] *= 1 - lr * weightDecay;
                else g += weightDecay * w[i];
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double denom = Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps;
                w[i] -= lr / (1 - Math.Pow(b1, t)) * m[i] / denom;
            }
            Assert.That(actual[t - 1], Is.EqualTo(w).Within(1e-12), $"step {t}");
        }
    }

    /// <summary>37 elements: whole SIMD vectors plus a scalar tail, so both loops of the fused update are checked.</summary>
    [TestCase(false), TestCase(true)]
    public void Adam_LongParameter_VectorAndTailMatchTheFormula(bool decoupled)
    {
        const int length = 37;
        const double lr = 0.02, wd = 0.05, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        var rng = new Rng(8);
        double[] w = new double[length], m = new double[length], v = new double[length];
        for (int i = 0; i < length; i++) w[i] = rng.Uniform(-1, 1);
        var p = new Parameter("w", Tensor.FromValues(w, [length], DType.Float64));
        Optimizer optimizer = decoupled ? new AdamW(Named(p), lr, weightDecay: wd) : new Adam(Named(p), lr, weightDecay: wd);
        for (int t = 1; t <= 2; t++)
        {
            double[] grad = new double[length];
            for (int i = 0; i < length; i++) grad[i] = rng.Uniform(-1, 1);
            p.Value.Grad = Tensor.FromValues(grad, [length], DType.Float64);
            optimizer.Step();
            for (int i = 0; i < length; i++)
            {
                double g = decoupled ? grad[i] : grad[i] + wd * w[i];
                if (decoupled) w[i] *= 1 - lr * wd;
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                w[i] -= lr / (1 - Math.Pow(b1, t)) * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps);
            }
            Assert.That(p.Value.ToDoubleArray(), Is.EqualTo(w).Within(1e-12), $"step {t}");
        }
    }

    [Test]
    public void Adam_Float32_TracksFloat64()
    {
        Parameter p32 = NewParameter(DType.Float32), p64 = NewParameter();
        double[][] a = Run(new Adam(Named(p32), 0.01), p32), b = Run(new Adam(Named(p64), 0.01), p64);
        Assert.That(a[2], Is.EqualTo(b[2]).Within(1e-6));
    }

    [Test]
    public void Step_SkipsParametersWithoutGradient()
    {
        Parameter p = NewParameter();
        var optimizer = new Adam(Named(p));
        optimizer.Step();
        Assert.That(p.Value.ToDoubleArray(), Is.EqualTo(Start));
        Assert.That(optimizer.StateDict().Keys, Is.EqualTo(new[] { "group0.lr" }));
    }

    [Test]
    public void ParameterGroups_UseTheirOwnLearningRates_AndLearningRateSetsAll()
    {
        Parameter fast = new("fast", Tensor.FromValues([1.0], [1], DType.Float64)), slow = new("slow", Tensor.FromValues([1.0], [1], DType.Float64));
        var optimizer = new Sgd([new ParameterGroup([fast]) { LearningRate = 1.0 }, new ParameterGroup([slow])], learningRate: 0.1);
        fast.Value.Grad = Tensor.FromValues([1.0], [1], DType.Float64);
        slow.Value.Grad = Tensor.FromValues([1.0], [1], DType.Float64);
        optimizer.Step();
        Assert.That(fast.Value.Item(), Is.EqualTo(0.0).Within(1e-15));
        Assert.That(slow.Value.Item(), Is.EqualTo(0.9).Within(1e-15));
        optimizer.LearningRate = 0.5;
        Assert.That(optimizer.Groups.Select(g => g.LearningRate), Is.EqualTo(new double?[] { 0.5, 0.5 }));
    }

    [Test]
    public void StateDict_RoundTrip_ContinuesBitExactly()
    {
        Parameter a = NewParameter(DType.Float32), b = NewParameter(DType.Float32);
        var first = new Adam(Named(a), 0.01, weightDecay: 0.1);
        Run(first, a, 2);
        var state = first.StateDict();
        Assert.That(state.Keys, Is.EquivalentTo(new[] { "group0.lr", "w.exp_avg", "w.exp_avg_sq", "w.step" }));

        b.Load(a.Value);
        var second = new Adam(Named(b), 0.5, weightDecay: 0.1);
        second.LoadStateDict(state);
        Assert.That(second.LearningRate, Is.EqualTo(0.01));
        a.Value.Grad = Tensor.FromValues(Grads[2], [3]);
        b.Value.Grad = Tensor.FromValues(Grads[2], [3]);
        first.Step();
        second.Step();
        Assert.That(b.Value.ToArray<float>(), Is.EqualTo(a.Value.ToArray<float>()));
    }

    [Test]
    public void UnnamedParameters_WithClashingNames_GetPositionalStateNames()
    {
        Parameter first = new("weight", Tensor.FromValues([1.0], [1], DType.Float64)), second = new("weight", Tensor.FromValues([2.0], [1], DType.Float64));
        var optimizer = new Sgd([new ParameterGroup([first, second])], 0.1, momentum: 0.5);
        first.Value.Grad = Tensor.FromValues([1.0], [1], DType.Float64);
        second.Value.Grad = Tensor.FromValues([1.0], [1], DType.Float64);
        optimizer.Step();
        Assert.That(optimizer.StateDict().Keys, Is.EqualTo(new[] { "group0.lr", "weight.momentum_buffer", "param1.momentum_buffer" }));
    }

    [Test]
    public void LoadStateDict_UnknownParameter_IsAnError() =>
        Assert.That(() => new Sgd(Named(NewParameter()), 0.1).LoadStateDict(new Dictionary<string, Tensor> { ["other.momentum_buffer"] = Tensor.Zeros([3]) }),
            Throws.ArgumentException.With.Message.Contains("other.momentum_buffer"));

    [Test]
    public void ClipByNorm_ScalesToMaxNormAndReturnsTheTotalNorm()
    {
        Parameter a = new("a", Tensor.FromValues([1.0], [1], DType.Float64)), b = new("b", Tensor.FromValues([1.0, 1.0], [2], DType.Float64));
        Parameter unused = new("c", Tensor.FromValues([1.0], [1], DType.Float64));
        a.Value.Grad = Tensor.FromValues([3.0], [1], DType.Float64);
        b.Value.Grad = Tensor.FromValues([0.0, 4.0], [2], DType.Float64);
        Assert.That(GradientClipping.ClipByNorm([a, b, unused], 1.0), Is.EqualTo(5.0).Within(1e-12));
        Assert.That(a.Grad!.Item(), Is.EqualTo(0.6).Within(1e-6));
        Assert.That(b.Grad!.ToDoubleArray()[1], Is.EqualTo(0.8).Within(1e-6));
        Assert.That(GradientClipping.ClipByNorm([a, b], 10.0), Is.EqualTo(1.0).Within(1e-5));
        Assert.That(a.Grad!.Item(), Is.EqualTo(0.6).Within(1e-6), "below the limit nothing changes");
    }

    [Test]
    public void Schedules_AtBoundarySteps()
    {
        var step = new StepSchedule(1.0, stepSize: 10, gamma: 0.5);
        Assert.That(new[] { step.At(0), step.At(9), step.At(10), step.At(20) }, Is.EqualTo(new[] { 1.0, 1.0, 0.5, 0.25 }));

        var cosine = new CosineWithWarmup(1.0, warmupSteps: 4, totalSteps: 14, minRate: 0.1);
        Assert.That(cosine.At(0), Is.EqualTo(0.25));
        Assert.That(cosine.At(3), Is.EqualTo(1.0));
        Assert.That(cosine.At(4), Is.EqualTo(1.0));
        Assert.That(cosine.At(9), Is.EqualTo(0.55).Within(1e-12));
        Assert.That(cosine.At(14), Is.EqualTo(0.1).Within(1e-12));
        Assert.That(cosine.At(100), Is.EqualTo(0.1).Within(1e-12));

        var linear = new LinearSchedule(1.0, 0.0, totalSteps: 4);
        Assert.That(new[] { linear.At(0), linear.At(1), linear.At(4), linear.At(8) }, Is.EqualTo(new[] { 1.0, 0.75, 0.0, 0.0 }));

        var optimizer = new Sgd(Named(NewParameter()), 0.3);
        Assert.That(step.ApplyTo(optimizer, 10), Is.EqualTo(0.5));
        Assert.That(optimizer.LearningRate, Is.EqualTo(0.5));
    }
}
