using BinaryGrad.Autograd;
using NUnit.Framework;

namespace BinaryGrad.Tests.Autograd;

[TestFixture, Category("Autograd")]
public class AutogradEngineTests
{
    [Test]
    public void Backward_OfPolynomial_MatchesHandDerivative()
    {
        // f(x) = x³ + 2x at x = 1.5: f'(x) = 3x² + 2 = 8.75
        var x = Tensor.Scalar(1.5, DType.Float64, requiresGrad: true);
        Tensor y = Ops.Pow(x, 3) + x * 2;
        y.Backward();
        Assert.That(x.Grad!.Item(), Is.EqualTo(8.75).Within(1e-12));
    }

    [Test]
    public void TensorUsedSeveralTimes_AccumulatesEveryPath()
    {
        // y = x·x + x·3 → dy/dx = 2x + 3
        var x = Tensor.FromValues([1, -2, 0.5], [3], DType.Float64, requiresGrad: true);
        Ops.Sum(x * x + x * 3).Backward();
        Assert.That(x.Grad!.ToDoubleArray(), Is.EqualTo(new[] { 5.0, -1.0, 4.0 }).Within(1e-12));
    }

    /// <summary>Add hands dy itself to both operands; the engine must neither write into that shared buffer (the other
    /// operand still reads it) nor lose a path when it sums an operand's gradients. a = 2x and b = 3x meet in s = a + b
    /// (one dy aliased to both), and a also feeds d = 5a (a fresh buffer) and the loss directly:
    /// L = Σ w·(s + d + a) in every operand order, so ∂L/∂a = (1 + 5 + 1)·w, ∂L/∂b = w and ∂L/∂x = 2·7w + 3w = 17w.</summary>
    [TestCase(DType.Float32, 0), TestCase(DType.Float32, 1), TestCase(DType.Float32, 2), TestCase(DType.Float64, 0), TestCase(DType.Float64, 1), TestCase(DType.Float64, 2)]
    public void AddPassingDyToBothOperands_SumsEveryPathWithoutWritingTheSharedBuffer(DType dtype, int order)
    {
        double[] xs = [1, -2, 0.5, 3], ws = [0.25, -1, 2, 0.5];
        var x = Tensor.FromValues(xs, [4], dtype, requiresGrad: true);
        Tensor w = Tensor.FromValues(ws, [4], dtype);
        Tensor a = x * 2, b = x * 3;
        Tensor s = order == 1 ? b + a : a + b, d = a * 5;
        Tensor total = order switch { 0 => s + d + a, 1 => a + (d + s), _ => d + (a + s) };
        Ops.Sum(total * w).Backward();
        Assert.That(x.Grad!.ToDoubleArray(), Is.EqualTo(ws.Select(v => 17 * v).ToArray()));
    }

    [Test]
    public void Grad_AccumulatesAcrossBackwardCallsUntilZeroGrad()
    {
        var x = Tensor.FromValues([2], [1], DType.Float64, requiresGrad: true);
        Ops.Sum(x * x).Backward();
        Ops.Sum(x * x).Backward();
        Assert.That(x.Grad!.ToDoubleArray(), Is.EqualTo(new[] { 8.0 }));
        x.ZeroGrad();
        Assert.That(x.Grad, Is.Null);
    }

    [Test]
    public void ChainOf100000Ops_BackpropagatesWithoutStackOverflow()
    {
        // y = x · 1.00001^100000 (as 100 000 separate multiplications); dy/dx = 1.00001^100000
        var x = Tensor.Scalar(1.0, DType.Float64, requiresGrad: true);
        Tensor y = x;
        for (int i = 0; i < 100_000; i++) y = y * 1.00001;
        y.Backward();
        Assert.That(x.Grad!.Item(), Is.EqualTo(Math.Pow(1.00001, 100_000)).Within(1e-9).Percent);
    }

    [Test]
    public void Backward_WithSeed_ComputesVectorJacobianProduct()
    {
        var x = Tensor.FromValues([1, 2, 3], [3], DType.Float64, requiresGrad: true);
        (x * x).Backward(Tensor.FromValues([1, 0, -1], [3], DType.Float64));
        Assert.That(x.Grad!.ToDoubleArray(), Is.EqualTo(new[] { 2.0, 0.0, -6.0 }));
    }

    [Test]
    public void Backward_OnNonScalarWithoutSeed_SaysWhatToDo() =>
        Assert.That(() => (Tensor.Ones([2, 3], requiresGrad: true) * 2).Backward(),
            Throws.InvalidOperationException.With.Message.Contains("shape [2,3]").And.Message.Contains("Sum()"));

    [Test]
    public void Backward_OnTensorNotRequiringGrad_SaysWhatToDo() =>
        Assert.That(() => Ops.Sum(Tensor.Ones([2])).Backward(),
            Throws.InvalidOperationException.With.Message.Contains("RequiresGrad = true"));

    [Test]
    public void Backward_TwiceThroughFreedGraph_SaysRetainGraph()
    {
        var x = Tensor.Ones([2], DType.Float64, requiresGrad: true);
        Tensor y = Ops.Sum(Ops.Exp(x));
        y.Backward();
        Assert.That(() => y.Backward(), Throws.InvalidOperationException.With.Message.Contains("retainGraph: true"));
    }

    [Test]
    public void Backward_WithRetainGraph_CanRunTwice()
    {
        var x = Tensor.Ones([2], DType.Float64, requiresGrad: true);
        Tensor y = Ops.Sum(Ops.Exp(x));
        y.Backward(retainGraph: true);
        y.Backward();
        Assert.That(x.Grad!.ToDoubleArray(), Is.EqualTo(new[] { 2 * Math.E, 2 * Math.E }).Within(1e-12));
    }

    [Test]
    public void Backward_WithSeedOfWrongShape_NamesBothShapes() =>
        Assert.That(() => (Tensor.Ones([2], requiresGrad: true) * 2).Backward(Tensor.Ones([3])),
            Throws.InvalidOperationException.With.Message.Contains("[3]").And.Message.Contains("[2]"));

    [Test]
    public void NoGradScope_RecordsNothing()
    {
        var x = Tensor.Ones([2], requiresGrad: true);
        Tensor y;
        using (GradMode.NoGrad()) y = x * 2;
        Assert.That(y.RequiresGrad, Is.False);
        Assert.That(y.GradFn, Is.Null);
        Assert.That(GradMode.IsEnabled, Is.True);
    }

    [Test]
    public void Detach_StopsGradientButSharesValues()
    {
        var x = Tensor.FromValues([3], [1], DType.Float64, requiresGrad: true);
        Tensor d = x.Detach();
        Ops.Sum(x * d).Backward(); // d is a constant: d(x·c)/dx = c = 3
        Assert.That(x.Grad!.Item(), Is.EqualTo(3.0));
        x[0] = 5;
        Assert.That(d[0], Is.EqualTo(5.0));
    }

    [Test]
    public void RetainGrad_KeepsIntermediateGradient()
    {
        var x = Tensor.FromValues([1, 2], [2], DType.Float64, requiresGrad: true);
        Tensor h = (x * 3).RetainGrad();
        Ops.Sum(h * h).Backward(); // dL/dh = 2h = 6x
        Assert.That(h.Grad!.ToDoubleArray(), Is.EqualTo(new[] { 6.0, 12.0 }));
    }

    [Test]
    public void Hook_SeesAndCanReplaceGradientInFlight()
    {
        var x = Tensor.FromValues([1, 2], [2], DType.Float64, requiresGrad: true);
        Tensor h = x * 3;
        double[]? seen = null;
        using (h.RegisterHook(g => { seen = g.ToDoubleArray(); return g * 0.5; }))
            Ops.Sum(h * h).Backward();
        Assert.That(seen, Is.EqualTo(new[] { 6.0, 12.0 }));
        Assert.That(x.Grad!.ToDoubleArray(), Is.EqualTo(new[] { 9.0, 18.0 })); // halved, then ·3
    }

    [Test]
    public void RequiresGrad_CannotBeClearedOnComputedTensor() =>
        Assert.That(() => (Tensor.Ones([1], requiresGrad: true) * 2).RequiresGrad = false,
            Throws.InvalidOperationException.With.Message.Contains("Detach"));

    [Test]
    public void Graph_ExportsDotWithOpsShapesAndEdges()
    {
        var w = Tensor.Ones([3, 2], DType.Float64, requiresGrad: true);
        w.Name = "weight";
        Tensor loss = Ops.Sum(Ops.Relu(Ops.MatMul(Tensor.Ones([4, 3], DType.Float64), w)));
        string dot = GraphViz.ToDot(loss);
        Assert.That(dot, Does.StartWith("digraph"));
        Assert.That(dot, Does.Contain("matmul\\n[4,2]").And.Contain("relu").And.Contain("sum\\n[]").And.Contain("weight\\n[3,2]").And.Contain("->"));
    }

    /// <summary>A node whose two consumers' gradients are summed over two kernel threads (above 2 × 32 Ki elements the
    /// engine splits the sum): h = c0·x feeds Σ c1·h and Σ c2·h, so ∂L/∂h = c1 + c2 rounded once and ∂L/∂x = that
    /// times c0 rounded once — in float32 arithmetic evaluated here, on one thread and on two.</summary>
    [TestCase(1), TestCase(2)]
    public void GradientSum_OverThreads_IsTheElementwiseSum(int threads)
    {
        const int n = 70_001; // odd: the ranges end off the vector width
        var rng = new Rng(7);
        float[] c0 = new float[n], c1 = new float[n], c2 = new float[n];
        for (int i = 0; i < n; i++) (c0[i], c1[i], c2[i]) = ((float)rng.Uniform(-2, 2), (float)rng.Uniform(-2, 2), (float)rng.Uniform(-2, 2));
        using var threadsScope = KernelThreadsScope.Set(threads);
        var x = Tensor.FromValues([.. Enumerable.Range(0, n).Select(i => (double)(i % 13) - 6)], [n], DType.Float32, requiresGrad: true);
        Tensor h = Ops.Mul(x, Tensor.FromValues([.. c0.Select(v => (double)v)], [n], DType.Float32));
        Tensor loss = Ops.Sum(Ops.Mul(h, Tensor.FromValues([.. c1.Select(v => (double)v)], [n], DType.Float32)))
            + Ops.Sum(Ops.Mul(h, Tensor.FromValues([.. c2.Select(v => (double)v)], [n], DType.Float32)));
        loss.Backward();
        double[] grad = x.Grad!.ToDoubleArray();
        for (int i = 0; i < n; i++)
        {
            float expected = (c1[i] + c2[i]) * c0[i];
            Assert.That(grad[i], Is.EqualTo(expected), $"element {i}");
        }
    }
}
