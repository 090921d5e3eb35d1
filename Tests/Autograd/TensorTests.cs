using BinaryGrad.Autograd;
using MathNet.Numerics.LinearAlgebra;
using NUnit.Framework;

namespace BinaryGrad.Tests.Autograd;

[TestFixture, Category("Autograd")]
public class TensorTests
{
    [Test]
    public void Views_ShareStorageWithoutCopying()
    {
        Tensor x = Tensor.Arange(6).Reshape(2, 3);
        Tensor t = x.Transpose();
        Assert.That(t.Shape.ToArray(), Is.EqualTo(new[] { 3, 2 }));
        Assert.That(t.IsContiguous, Is.False);
        x[0, 1] = 42;
        Assert.That(t[1, 0], Is.EqualTo(42.0));
        Tensor s = x.Slice(1, 1, 2);
        Assert.That(s.ToDoubleArray(), Is.EqualTo(new[] { 42.0, 2, 4, 5 }));
    }

    [Test]
    public void Transpose_Contiguous_IsRowMajorCopy() =>
        Assert.That(Tensor.Arange(6).Reshape(2, 3).Transpose().Contiguous().ToDoubleArray(), Is.EqualTo(new double[] { 0, 3, 1, 4, 2, 5 }));

    [Test]
    public void Broadcasting_FollowsNumPyRules()
    {
        Tensor a = Tensor.Arange(3).Reshape(3, 1), b = Tensor.Arange(4).Reshape(1, 4);
        Tensor c = a + b;
        Assert.That(c.Shape.ToArray(), Is.EqualTo(new[] { 3, 4 }));
        Assert.That(c[2, 3], Is.EqualTo(5.0));
        Assert.That(() => Tensor.Ones([2, 3]) + Tensor.Ones([4]),
            Throws.ArgumentException.With.Message.Contains("[2,3]").And.Message.Contains("[4]").And.Message.Contains("add"));
    }

    [Test]
    public void MatMul_ShapeMismatch_NamesOpAndBothShapes() =>
        Assert.That(() => Ops.MatMul(Tensor.Ones([3, 4]), Tensor.Ones([5, 6])),
            Throws.ArgumentException.With.Message.EqualTo("matmul: [3,4] @ [5,6]: inner dimensions 4 and 5 differ."));

    [Test]
    public void MatMul_EqualsMathNetProduct([Values(DType.Float32, DType.Float64)] DType dtype)
    {
        var rng = new Rng(11);
        Tensor a = Tensor.Uniform([7, 5], rng, -1, 1, dtype), b = Tensor.Uniform([5, 9], rng, -1, 1, dtype);
        Matrix<double> expected = Matrix<double>.Build.DenseOfRowMajor(7, 5, a.ToDoubleArray()) * Matrix<double>.Build.DenseOfRowMajor(5, 9, b.ToDoubleArray());
        double[] actual = Ops.MatMul(a, b).ToDoubleArray();
        double tolerance = dtype == DType.Float32 ? 1e-5 : 1e-13;
        for (int i = 0; i < 7; i++)
            for (int j = 0; j < 9; j++)
                Assert.That(actual[i * 9 + j], Is.EqualTo(expected[i, j]).Within(tolerance));
    }

    [Test]
    public void Softmax_RowsSumToOneAndMatchFormula()
    {
        Tensor x = Tensor.FromValues([1, 2, 3, 1000, 1000, 1000], [2, 3], DType.Float64);
        double[] y = Ops.Softmax(x).ToDoubleArray();
        double z = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        Assert.That(y[..3], Is.EqualTo(new[] { Math.Exp(1) / z, Math.Exp(2) / z, Math.Exp(3) / z }).Within(1e-15));
        Assert.That(y[3..], Is.EqualTo(new[] { 1 / 3.0, 1 / 3.0, 1 / 3.0 }).Within(1e-15)); // no overflow
    }

    [Test]
    public void CrossEntropy_MatchesHandComputedValue()
    {
        // logits [0, ln 2, ln 3] → p = [1/6, 2/6, 3/6]; label 2 → −ln(1/2); with ε = 0.3 and C = 3:
        // q = [0.1, 0.1, 0.8] → −(0.1 ln(1/6) + 0.1 ln(1/3) + 0.8 ln(1/2))
        Tensor logits = Tensor.FromValues([0, Math.Log(2), Math.Log(3)], [1, 3], DType.Float64);
        Assert.That(Ops.CrossEntropy(logits, [2]).Item(), Is.EqualTo(Math.Log(2)).Within(1e-14));
        double smoothed = -(0.1 * Math.Log(1 / 6.0) + 0.1 * Math.Log(1 / 3.0) + 0.8 * Math.Log(0.5));
        Assert.That(Ops.CrossEntropy(logits, [2], labelSmoothing: 0.3).Item(), Is.EqualTo(smoothed).Within(1e-14));
        Assert.That(Ops.CrossEntropy(Tensor.FromValues([1e4, 0], [1, 2]), [1]).Item(), Is.EqualTo(1e4).Within(1e-2)); // stable
    }

    [Test]
    public void CrossEntropy_BadLabel_NamesIt() =>
        Assert.That(() => Ops.CrossEntropy(Tensor.Ones([2, 3]), [0, 3]),
            Throws.ArgumentException.With.Message.Contains("label 3 at position 1").And.Message.Contains("[0, 3)"));

    [Test]
    public void Reductions_MatchHandValues()
    {
        Tensor x = Tensor.FromValues([1, 2, 3, 4, 5, 6], [2, 3], DType.Float64);
        Assert.That(Ops.Sum(x, [0]).ToDoubleArray(), Is.EqualTo(new double[] { 5, 7, 9 }));
        Assert.That(Ops.Mean(x, [1], keepDim: true).Shape.ToArray(), Is.EqualTo(new[] { 2, 1 }));
        Assert.That(Ops.Max(x, [1]).ToDoubleArray(), Is.EqualTo(new double[] { 3, 6 }));
        Assert.That(Ops.Var(x, [1]).ToDoubleArray(), Is.EqualTo(new double[] { 1, 1 }).Within(1e-14));
        Assert.That(Ops.Var(x, [1], correction: 0).ToDoubleArray(), Is.EqualTo(new double[] { 2 / 3.0, 2 / 3.0 }).Within(1e-14));
    }

    [Test]
    public void MaxTies_SplitGradientEqually()
    {
        var x = Tensor.FromValues([2, 1, 2], [3], DType.Float64, requiresGrad: true);
        Ops.Max(x).Backward();
        Assert.That(x.Grad!.ToDoubleArray(), Is.EqualTo(new[] { 0.5, 0, 0.5 }));
    }

    [Test]
    public void Sign_AndAbs_FollowDocumentedConventionsAtZero()
    {
        var x = Tensor.FromValues([-2, 0, 3], [3], DType.Float64, requiresGrad: true);
        Assert.That(Ops.Sign(x).ToDoubleArray(), Is.EqualTo(new double[] { -1, 0, 1 }));
        Ops.Sum(Ops.Abs(x)).Backward();
        Assert.That(x.Grad!.ToDoubleArray(), Is.EqualTo(new double[] { -1, 0, 1 }));
    }

    [Test]
    public void SeededCreation_IsReproducibleAndHasRequestedMoments()
    {
        double[] a = Tensor.Normal([10000], new Rng(5), 1, 2, DType.Float64).ToDoubleArray();
        double[] b = Tensor.Normal([10000], new Rng(5), 1, 2, DType.Float64).ToDoubleArray();
        Assert.That(a, Is.EqualTo(b));
        Assert.That(a.Average(), Is.EqualTo(1).Within(0.08));
        Assert.That(Math.Sqrt(a.Select(v => (v - a.Average()) * (v - a.Average())).Average()), Is.EqualTo(2).Within(0.08));
        double bound = Math.Sqrt(2) * Math.Sqrt(3.0 / 50);
        double[] k = Tensor.KaimingUniform([20, 50], 50, new Rng(1)).ToDoubleArray();
        Assert.That(k.Max(), Is.LessThanOrEqualTo(bound));
        Assert.That(k.Min(), Is.GreaterThanOrEqualTo(-bound));
    }

    [Test]
    public void Rng_StateRoundTripContinuesSequence()
    {
        var rng = new Rng(9);
        rng.Normal();
        ulong[] state = rng.GetState();
        double[] expected = [rng.Normal(), rng.NextDouble(), rng.Normal()];
        var restored = new Rng(0);
        restored.SetState(state);
        Assert.That(new[] { restored.Normal(), restored.NextDouble(), restored.Normal() }, Is.EqualTo(expected));
    }

    [Test]
    public void ToString_PrintsValuesShapeAndDtypeAndTruncatesLargeTensors()
    {
        string small = Tensor.Arange(6).Reshape(2, 3).ToString();
        Assert.That(small, Does.Contain("[[0, 1, 2],").And.Contain("shape=[2,3], dtype=float32"));
        string large = Tensor.Arange(5000).ToString();
        Assert.That(large, Does.Contain("[0, 1, 2, ..., 4997, 4998, 4999]"));
    }

    [Test]
    public void AsSpan_WrongTypeOrView_SaysWhy()
    {
        Assert.That(() => Tensor.Ones([2]).AsSpan<double>(), Throws.InvalidOperationException.With.Message.Contains("float32"));
        Assert.That(() => Tensor.Ones([2, 3]).Transpose().AsSpan<float>(), Throws.InvalidOperationException.With.Message.Contains("Contiguous()"));
    }

    [Test]
    public void Reshape_BadSize_NamesBothShapes() =>
        Assert.That(() => Tensor.Ones([2, 3]).Reshape(4, 2), Throws.ArgumentException.With.Message.Contains("[2,3]").And.Message.Contains("[4,2]"));
}
