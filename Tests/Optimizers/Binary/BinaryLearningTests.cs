using BinaryGrad.Autograd;
using BinaryGrad.Optimizers;
using BinaryGrad.Optimizers.Binary;
using NUnit.Framework;

namespace BinaryGrad.Tests.Optimizers.Binary;

/// <summary>Bop and Bop2ndOrder learn a small binary problem: a binary teacher perceptron w* ∈ {±1}ⁿ labels ±1 inputs
/// by sign(w*·x); the student is a binary perceptron trained with the logistic loss on mini-batches.</summary>
[TestFixture, Category("Optimizers")]
public class BinaryLearningTests
{
    private const int Inputs = 63, Batch = 32;

    private static IEnumerable<TestCaseData> Optimizers()
    {
        yield return new TestCaseData(new Func<KeyValuePair<string, Parameter>[], Optimizer>(ps => new Bop(ps))).SetName("Bop defaults");
        yield return new TestCaseData(new Func<KeyValuePair<string, Parameter>[], Optimizer>(ps => new Bop(ps, gamma: 1e-4, threshold: 1e-8))).SetName("Bop Larq defaults");
        yield return new TestCaseData(new Func<KeyValuePair<string, Parameter>[], Optimizer>(ps => new Bop2ndOrder(ps))).SetName("Bop2ndOrder defaults");
        yield return new TestCaseData(new Func<KeyValuePair<string, Parameter>[], Optimizer>(ps => new Bop2ndOrder(ps, gamma: 1e-3, biasCorrection: BiasCorrection.Adam))).SetName("Bop2ndOrder Adam correction");
    }

    [TestCaseSource(nameof(Optimizers))]
    public void LearnsABinaryTeacher(Func<KeyValuePair<string, Parameter>[], Optimizer> create)
    {
        var rng = new Random(3);
        float[] teacher = [.. Enumerable.Range(0, Inputs).Select(_ => rng.Next(2) == 0 ? -1f : 1f)];
        var w = new Parameter("w", Tensor.FromValues([.. Enumerable.Range(0, Inputs).Select(_ => rng.NextDouble() - 0.5)], [Inputs], DType.Float32), precision: 1);
        Optimizer optimizer = create([KeyValuePair.Create("w", w)]);
        var x = new float[Batch * Inputs];
        for (int step = 0; step < 400; step++)
        {
            for (int i = 0; i < x.Length; i++) x[i] = rng.Next(2) == 0 ? -1f : 1f;
            w.Value.Grad = Tensor.FromValues(LogisticGradient(w.Value.ToArray<float>(), teacher, x), [Inputs], DType.Float32);
            optimizer.Step();
        }
        float[] learned = w.Value.ToArray<float>();
        Assert.That(learned, Is.All.EqualTo(1f).Or.EqualTo(-1f), "binary weights");
        int agree = learned.Zip(teacher).Count(p => p.First == p.Second);
        Assert.That(agree, Is.GreaterThanOrEqualTo(Inputs - 2), "weights matching the teacher");
    }

    /// <summary>∂/∂w of mean_b softplus(−y_b·z_b), z_b = w·x_b/√n, y_b = sign(w*·x_b) (n odd, so never 0).</summary>
    private static double[] LogisticGradient(float[] w, float[] teacher, float[] x)
    {
        double[] g = new double[Inputs];
        double scale = 1 / Math.Sqrt(Inputs);
        for (int b = 0; b < Batch; b++)
        {
            ReadOnlySpan<float> xb = x.AsSpan(b * Inputs, Inputs);
            double z = 0, t = 0;
            for (int i = 0; i < Inputs; i++) { z += w[i] * xb[i]; t += teacher[i] * xb[i]; }
            double y = t > 0 ? 1 : -1, coefficient = -y * scale / (1 + Math.Exp(y * z * scale)) / Batch;
            for (int i = 0; i < Inputs; i++) g[i] += coefficient * xb[i];
        }
        return g;
    }
}
