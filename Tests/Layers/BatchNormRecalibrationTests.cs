using BinaryGrad.Autograd;
using BinaryGrad.Layers;
using NUnit.Framework;

namespace BinaryGrad.Tests.Layers;

/// <summary><see cref="BatchNormRecalibration"/>: the running statistics become the plain averages of the batches'
/// means and unbiased variances (computed here in double from the layer before, by hand), the network ends in
/// evaluation mode with its training-batch counters untouched, and training afterwards uses the layer's momentum
/// again.</summary>
[TestFixture, Category("Layers")]
public class BatchNormRecalibrationTests
{
    [Test]
    public void RunningStatistics_BecomeTheAverageOfTheBatches()
    {
        var rng = new Rng(3);
        var linear = new Linear(3, 2, rng);
        var norm = new BatchNorm1d(2);
        var model = new Sequential(linear, norm);
        var random = new Random(5);
        // three batches of different sizes, so the average is over batches, not over images
        double[][][] inputs = [.. new[] { 4, 6, 5 }.Select(n => Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, 3).Select(_ => random.NextDouble() * 4 - 1).ToArray()).ToArray())];
        long trackedBefore = norm.BatchesTracked;
        int batches = BatchNormRecalibration.Run(model, inputs.Select(Tensor2D));
        Assert.That(batches, Is.EqualTo(3));

        double[] weight = linear.Weight.Value.ToDoubleArray(), bias = linear.Bias!.Value.ToDoubleArray();
        double[] expectedMean = new double[2], expectedVar = new double[2];
        foreach (double[][] batch in inputs)
            for (int f = 0; f < 2; f++)
            {
                // the batch's values of feature f, from float32 inputs and parameters, in double
                double[] h = [.. batch.Select(row => bias[f] + Enumerable.Range(0, 3).Sum(i => weight[f * 3 + i] * (float)row[i]))];
                double mean = h.Average();
                expectedMean[f] += mean / inputs.Length;
                expectedVar[f] += h.Sum(v => (v - mean) * (v - mean)) / (h.Length - 1) / inputs.Length;
            }
        Assert.That(norm.RunningMean.ToDoubleArray(), Is.EqualTo(expectedMean).Within(1e-5));
        Assert.That(norm.RunningVar.ToDoubleArray(), Is.EqualTo(expectedVar).Within(1e-5));
        Assert.That((model.Training, linear.Training, norm.Training), Is.EqualTo((false, false, false)), "evaluation mode after");
        Assert.That(norm.BatchesTracked, Is.EqualTo(trackedBefore), "recalibration batches are not training batches");

        // training afterwards moves the statistics by the layer's own momentum 0.1 again
        double[] before = norm.RunningMean.ToDoubleArray();
        model.Train();
        double[][] next = inputs[0];
        model.Forward(Tensor2D(next));
        for (int f = 0; f < 2; f++)
        {
            double mean = next.Average(row => bias[f] + Enumerable.Range(0, 3).Sum(i => weight[f * 3 + i] * (float)row[i]));
            Assert.That(norm.RunningMean.ToDoubleArray()[f], Is.EqualTo(0.9 * before[f] + 0.1 * mean).Within(1e-5), $"feature {f} after a training step");
        }
        Assert.That(norm.BatchesTracked, Is.EqualTo(trackedBefore + 1));
    }

    [Test]
    public void ModelWithoutBatchNorm_IsRefusedByName()
    {
        var model = new Sequential(new Linear(2, 2, new Rng(1)));
        var error = Assert.Throws<ArgumentException>(() => BatchNormRecalibration.Run(model, []));
        Assert.That(error!.Message, Does.Contain("Sequential has no batch norm"));
    }

    private static Tensor Tensor2D(double[][] rows)
    {
        var t = Tensor.Empty([rows.Length, rows[0].Length]);
        Span<float> span = t.AsSpan<float>();
        for (int r = 0; r < rows.Length; r++)
            for (int c = 0; c < rows[r].Length; c++) span[r * rows[r].Length + c] = (float)rows[r][c];
        return t;
    }
}
