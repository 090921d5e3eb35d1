using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>The two ways to write a scheme, as the graph node runs them on float32: an <see cref="ElementwiseQuantizer"/>
/// is exactly its scalar pair (each value in float64, rounded once), and a direct <see cref="Quantizer"/> subclass's
/// whole-tensor span methods are never bypassed by an elementwise loop, even when its scalar pair says otherwise.</summary>
[TestFixture, Category("Binarization")]
public class ElementwiseQuantizerTests
{
    /// <summary>q(x) = tanh(3x)/(1 + x²), q'(x) written out by hand; smooth, so finite differences check it too.</summary>
    private sealed class RationalTanh : ElementwiseQuantizer
    {
        public override string Name => "rational_tanh";
        public override QuantizerKind Kind => QuantizerKind.Both;
        public override bool IsHardSign => false;
        public override bool IsSmooth => true;
        public override double Forward(double x) => Math.Tanh(3 * x) / (1 + x * x);
        public override double Derivative(double x)
        {
            double t = Math.Tanh(3 * x), d = 1 + x * x;
            return 3 * (1 - t * t) / d - 2 * x * t / (d * d);
        }
    }

    /// <summary>Whole-tensor methods (y = 2x − mean x, dx = 2dy) that disagree with the scalar pair (identity).</summary>
    private sealed class CenteredDouble : Quantizer
    {
        public override string Name => "centered_double";
        public override QuantizerKind Kind => QuantizerKind.Both;
        public override bool IsHardSign => false;
        public override bool IsSmooth => false;
        public override double Forward(double x) => x;
        public override double Derivative(double x) => 1;

        protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
        {
            double mean = 0;
            foreach (T v in x) mean += double.CreateTruncating(v);
            mean /= x.Length;
            for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(2 * double.CreateTruncating(x[i]) - mean);
            return null;
        }

        protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
        {
            for (int i = 0; i < dx.Length; i++) dx[i] = T.CreateTruncating(2 * double.CreateTruncating(dy[i]));
        }
    }

    private static float[] Values(int length, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 6 - 3))];
    }

    [Test]
    public void Elementwise_Float32_IsTheFloat64FormulaRoundedOnce([Values(1, 9, 37)] int length)
    {
        var q = new RationalTanh();
        float[] x = Values(length, length), dy = Values(length, length + 100);
        var x32 = new Tensor(x, [length], requiresGrad: true);
        q.Apply(x32).Backward(new Tensor(dy, [length]));
        float[] y = q.Apply(new Tensor(x, [length])).ToArray<float>(), dx = x32.Grad!.ToArray<float>();
        for (int i = 0; i < length; i++)
        {
            double xi = x[i], t = Math.Tanh(3 * xi), d = 1 + xi * xi;
            Assert.That(y[i], Is.EqualTo((float)(t / d)), $"y[{i}] at x = {x[i]}");
            Assert.That(dx[i], Is.EqualTo((float)(dy[i] * (3 * (1 - t * t) / d - 2 * xi * t / (d * d)))), $"dx[{i}] at x = {x[i]}");
        }
    }

    [Test]
    public void Elementwise_Float64_BackwardMatchesFiniteDifferences()
    {
        var q = new RationalTanh();
        float[] x = Values(11, 3);
        var x64 = Tensor.FromValues([.. x.Select(v => (double)v)], [11], DType.Float64, requiresGrad: true);
        GradCheck.AssertMatchesFiniteDifferences(t => Ops.Sum(q.Apply(t[0])), x64);
    }

    [Test]
    public void WholeTensorScheme_Float32_RunsItsOwnForwardAndBackward()
    {
        var q = new CenteredDouble();
        float[] x = Values(13, 5), dy = Values(13, 6);
        var x32 = new Tensor(x, [13], requiresGrad: true);
        Tensor y = q.Apply(x32);
        y.Backward(new Tensor(dy, [13]));
        double mean = x.Select(v => (double)v).Average();
        Assert.That(y.ToArray<float>(), Is.EqualTo(x.Select(v => (float)(2 * (double)v - mean)).ToArray()), "forward: 2x − mean, not the scalar identity");
        Assert.That(x32.Grad!.ToArray<float>(), Is.EqualTo(dy.Select(g => (float)(2 * (double)g)).ToArray()), "backward: 2dy, not dy");
    }
}
