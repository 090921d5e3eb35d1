using BinaryGrad.Autograd;
using BinaryGrad.Layers;
using NUnit.Framework;

namespace BinaryGrad.Tests.Layers;

[TestFixture, Category("Layers")]
public class LayerOpTests
{
    private static IEnumerable<GradCheckCase> Cases => LayerGradChecks.All;

    [TestCaseSource(nameof(Cases))]
    public void Backward_MatchesFiniteDifferencesInFloat64(GradCheckCase gradCheckCase)
    {
        GradCheckResult result = gradCheckCase.Run();
        Assert.That(result.Passed, Is.True, result.Describe());
    }

    [Test]
    public void Catalog_CoversEveryLayerOpAndNamesAreUnique()
    {
        string[] required = ["linear", "conv2d", "maxpool2d", "avgpool2d", "global_avg_pool2d", "batchnorm1d", "batchnorm2d", "dropout", "prelu", "layer"];
        var ops = LayerGradChecks.All.Select(c => c.Op).ToHashSet();
        Assert.That(required.Where(op => !ops.Contains(op)), Is.Empty);
        Assert.That(LayerGradChecks.All.Select(c => c.Name), Is.Unique);
    }

    /// <summary>The definition, seven nested loops, as the oracle for the im2col path.</summary>
    private static double[] NaiveConv(double[] x, double[] w, double[] b, int n, int c, int h, int wd, int o, int k, int s, int pad, int dil, out int oh, out int ow)
    {
        oh = (h + 2 * pad - dil * (k - 1) - 1) / s + 1;
        ow = (wd + 2 * pad - dil * (k - 1) - 1) / s + 1;
        var y = new double[n * o * oh * ow];
        for (int ni = 0; ni < n; ni++)
            for (int oi = 0; oi < o; oi++)
                for (int p = 0; p < oh; p++)
                    for (int q = 0; q < ow; q++)
                    {
                        double sum = b[oi];
                        for (int ci = 0; ci < c; ci++)
                            for (int i = 0; i < k; i++)
                                for (int j = 0; j < k; j++)
                                {
                                    int row = p * s - pad + i * dil, col = q * s - pad + j * dil;
                                    if (row < 0 || row >= h || col < 0 || col >= wd) continue;
                                    sum += w[((oi * c + ci) * k + i) * k + j] * x[((ni * c + ci) * h + row) * wd + col];
                                }
                        y[((ni * o + oi) * oh + p) * ow + q] = sum;
                    }
        return y;
    }

    [TestCase(1, 0, 1), TestCase(2, 1, 1), TestCase(1, 2, 2), TestCase(2, 1, 2)]
    public void Conv2D_Forward_MatchesNaiveLoops(int stride, int padding, int dilation)
    {
        var rng = new Rng(3);
        Tensor x = Tensor.Uniform([2, 3, 7, 6], rng, -1, 1, DType.Float64), w = Tensor.Uniform([4, 3, 3, 3], rng, -1, 1, DType.Float64);
        Tensor b = Tensor.Uniform([4], rng, -1, 1, DType.Float64);
        Tensor y = Ops.Conv2D(x, w, b, stride, padding, dilation);
        double[] expected = NaiveConv(x.ToDoubleArray(), w.ToDoubleArray(), b.ToDoubleArray(), 2, 3, 7, 6, 4, 3, stride, padding, dilation, out int oh, out int ow);
        Assert.That(y.Shape.ToArray(), Is.EqualTo(new[] { 2, 4, oh, ow }));
        Assert.That(y.ToDoubleArray(), Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void Conv2D_ChannelMismatch_NamesShapes() =>
        Assert.That(() => Ops.Conv2D(Tensor.Zeros([1, 2, 5, 5]), Tensor.Zeros([3, 4, 3, 3])),
            Throws.ArgumentException.With.Message.Contains("[1,2,5,5]").And.Message.Contains("[3,4,3,3]"));

    [Test]
    public void ShapeErrors_NameTheOpAndTheShapes()
    {
        Assert.That(() => Ops.Linear(Tensor.Zeros([8, 3]), Tensor.Zeros([4, 5])),
            Throws.ArgumentException.With.Message.EqualTo("linear: x [8,3] does not match weight [4,5] (in-features 3 vs 5)."));
        Assert.That(() => Ops.BatchNorm(Tensor.Zeros([4, 3]), Tensor.Ones([2]), null, null, null, training: true),
            Throws.ArgumentException.With.Message.Contains("batch_norm: gamma [2] must be [3]"));
        Assert.That(() => new BatchNorm2d(3).Forward(Tensor.Zeros([2, 3])),
            Throws.ArgumentException.With.Message.Contains("BatchNorm2d(3): input [2,3]"));
        Assert.That(() => Ops.MaxPool2D(Tensor.Zeros([1, 1, 2, 2]), 3),
            Throws.ArgumentException.With.Message.StartsWith("max_pool2d: x [1,1,2,2]"));
    }

    [Test]
    public void LinearLayer_AppliesToTheLastAxisOfHigherRankInputs()
    {
        var layer = new Linear(4, 2, new Rng(9));
        Tensor x = Tensor.Uniform([3, 5, 4], new Rng(10));
        Tensor y = layer.Forward(x);
        Assert.That(y.Shape.ToArray(), Is.EqualTo(new[] { 3, 5, 2 }));
        Assert.That(y.ToDoubleArray(), Is.EqualTo(layer.Forward(x.Reshape(15, 4)).ToDoubleArray()));
    }

    [Test]
    public void Linear_Float32_MatchesMatMulPlusBias()
    {
        var rng = new Rng(4);
        Tensor x = Tensor.Uniform([5, 7], rng, -1, 1), w = Tensor.Uniform([3, 7], rng, -1, 1), b = Tensor.Uniform([3], rng, -1, 1);
        double[] y = Ops.Linear(x, w, b).ToDoubleArray(), expected = Ops.Add(Ops.MatMul(x, w.Transpose()), b).ToDoubleArray();
        Assert.That(y, Is.EqualTo(expected).Within(1e-5));
    }

    [Test]
    public void MaxAndAvgPool_MatchHandComputedValues()
    {
        Tensor x = Tensor.FromValues([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [1, 1, 4, 4]);
        Assert.That(Ops.MaxPool2D(x, 2).ToDoubleArray(), Is.EqualTo(new double[] { 6, 8, 14, 16 }));
        Assert.That(Ops.AvgPool2D(x, 2).ToDoubleArray(), Is.EqualTo(new double[] { 3.5, 5.5, 11.5, 13.5 }));
        Assert.That(Ops.MaxPool2D(x, 3, stride: 1).ToDoubleArray(), Is.EqualTo(new double[] { 11, 12, 15, 16 }));
        Tensor g = Ops.GlobalAvgPool2D(x);
        Assert.That(g.Shape.ToArray(), Is.EqualTo(new[] { 1, 1 }));
        Assert.That(g.ToDoubleArray(), Is.EqualTo(new double[] { 8.5 }));
    }

    [Test]
    public void MaxPool_Backward_RoutesGradientToTheMaximum()
    {
        Tensor x = Tensor.FromValues([1, 9, 3, 4, 5, 6, 7, 8, 2, 10, 11, 12, 13, 14, 15, 0], [1, 1, 4, 4], requiresGrad: true);
        Ops.Sum(Ops.MaxPool2D(x, 2)).Backward();
        Assert.That(x.Grad!.ToDoubleArray(), Is.EqualTo(new double[] { 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0 }));
    }

    [TestCase(false), TestCase(true)]
    public void BatchNorm_Forward_MatchesFormulaAndUpdatesRunningStats(bool image)
    {
        var rng = new Rng(5);
        int[] shape = image ? [3, 2, 2, 3] : [6, 2];
        int plane = image ? 6 : 1, n = shape[0], c = 2, count = n * plane;
        Tensor x = Tensor.Uniform(shape, rng, -2, 3, DType.Float64);
        Tensor gamma = Tensor.FromValues([1.5, 0.5], [2], DType.Float64), beta = Tensor.FromValues([0.25, -1], [2], DType.Float64);
        Tensor rm = Tensor.FromValues([0.1, -0.2], [2], DType.Float64), rv = Tensor.FromValues([2, 0.5], [2], DType.Float64);
        double[] xs = x.ToDoubleArray();
        double[] mean = new double[c], biased = new double[c];
        Func<int, int, int, int> at = (i, ch, s) => (i * c + ch) * plane + s;
        for (int ch = 0; ch < c; ch++)
        {
            for (int i = 0; i < n; i++) for (int s = 0; s < plane; s++) mean[ch] += xs[at(i, ch, s)] / count;
            for (int i = 0; i < n; i++) for (int s = 0; s < plane; s++) biased[ch] += Math.Pow(xs[at(i, ch, s)] - mean[ch], 2) / count;
        }
        double[] train = Ops.BatchNorm(x, gamma, beta, rm, rv, training: true, momentum: 0.1, eps: 1e-5).ToDoubleArray();
        double[] g = [1.5, 0.5], bt = [0.25, -1];
        for (int i = 0; i < n; i++) for (int ch = 0; ch < c; ch++) for (int s = 0; s < plane; s++)
            Assert.That(train[at(i, ch, s)], Is.EqualTo(g[ch] * (xs[at(i, ch, s)] - mean[ch]) / Math.Sqrt(biased[ch] + 1e-5) + bt[ch]).Within(1e-12));
        double[] expectedRm = [0.9 * 0.1 + 0.1 * mean[0], 0.9 * -0.2 + 0.1 * mean[1]];
        double[] expectedRv = [0.9 * 2 + 0.1 * biased[0] * count / (count - 1), 0.9 * 0.5 + 0.1 * biased[1] * count / (count - 1)];
        Assert.That(rm.ToDoubleArray(), Is.EqualTo(expectedRm).Within(1e-12));
        Assert.That(rv.ToDoubleArray(), Is.EqualTo(expectedRv).Within(1e-12));

        double[] eval = Ops.BatchNorm(x, gamma, beta, rm, rv, training: false, eps: 1e-5).ToDoubleArray();
        for (int i = 0; i < n; i++) for (int ch = 0; ch < c; ch++) for (int s = 0; s < plane; s++)
            Assert.That(eval[at(i, ch, s)], Is.EqualTo(g[ch] * (xs[at(i, ch, s)] - expectedRm[ch]) / Math.Sqrt(expectedRv[ch] + 1e-5) + bt[ch]).Within(1e-12));
        Assert.That(rm.ToDoubleArray(), Is.EqualTo(expectedRm).Within(1e-12), "evaluation must not move the running statistics");
    }

    [Test]
    public void BatchNorm_Float32_MatchesFloat64()
    {
        var rng = new Rng(6);
        Tensor x64 = Tensor.Uniform([16, 8, 3, 3], rng, -1, 2, DType.Float64);
        double[] y64 = Ops.BatchNorm(x64, null, null, null, null, training: true).ToDoubleArray();
        double[] y32 = Ops.BatchNorm(x64.To(DType.Float32), null, null, null, null, training: true).ToDoubleArray();
        Assert.That(y32, Is.EqualTo(y64).Within(1e-4));
    }

    [Test]
    public void Dropout_ScalesKeptValuesAndIsIdentityInEvaluation()
    {
        Tensor x = Tensor.Ones([1000]);
        double[] y = Ops.Dropout(x, 0.25, new Rng(1), training: true).ToDoubleArray();
        Assert.That(y.Distinct().Order(), Is.EqualTo(new[] { 0, 1 / 0.75 }).Within(1e-6));
        Assert.That(y.Count(v => v == 0), Is.InRange(200, 300));
        Assert.That(Ops.Dropout(x, 0.25, new Rng(1), training: false), Is.SameAs(x));
    }

    [Test]
    public void PRelu_ScalesNegativesPerChannel()
    {
        Tensor x = Tensor.FromValues([-1, 2, -3, 4], [1, 2, 2]), w = Tensor.FromValues([0.5, 0.1], [2]);
        Assert.That(Ops.PRelu(x, w).ToDoubleArray(), Is.EqualTo(new[] { -0.5, 2, -0.3, 4 }).Within(1e-6));
    }
}
