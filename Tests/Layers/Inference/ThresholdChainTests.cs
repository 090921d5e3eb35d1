using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels;
using BinaryGrad.Layers;
using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Layers.Inference;

/// <summary>The inference model's fused paths (integer thresholds, OR/AND pooling on bits, skipped Hardtanhs, packed
/// signs between binary layers) against the training framework's evaluation forward of the same network, on odd
/// shapes and on every SIMD path: the logits must be equal, not close.</summary>
[TestFixture, Category("Kernels")]
public class ThresholdChainTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    private static BinaryConv2d Binary(int inChannels, int outChannels, Rng rng, int stride = 1)
    {
        SchemeInstance scheme = SchemeRegistry.Create("bnn");
        return new BinaryConv2d(inChannels, outChannels, 3, rng, scheme.Weights, scheme.Activations, stride: stride, padding: 1);
    }

    /// <summary>real conv 3→5 → BN → Hardtanh → bin 5→65 → MP2 → BN → Hardtanh → bin 65→7 (stride 2) → BN → Hardtanh →
    /// Hardtanh → bin 7→66 → MP3 → BN (1×1 map: fma) → Hardtanh → bin 66→9 → BN → Flatten → Linear. Every binary
    /// layer but the last feeds a binary layer through a threshold chain; the pool sizes leave odd remainders.</summary>
    private static Sequential Network(Rng rng) => new Sequential()
        .Add(new Conv2d(3, 5, 3, rng, padding: 1, bias: false)).Add(new BatchNorm2d(5)).Add(new HardTanh())
        .Add(Binary(5, 65, rng)).Add(new MaxPool2d(2)).Add(new BatchNorm2d(65)).Add(new HardTanh())
        .Add(Binary(65, 7, rng, stride: 2)).Add(new BatchNorm2d(7)).Add(new HardTanh()).Add(new HardTanh(-2, 3))
        .Add(Binary(7, 66, rng)).Add(new MaxPool2d(3)).Add(new BatchNorm2d(66)).Add(new HardTanh())
        .Add(Binary(66, 9, rng)).Add(new BatchNorm2d(9)).Add(new Flatten()).Add(new Linear(9, 4, rng));

    private static void PerturbBatchNorms(Module model, Rng rng)
    {
        foreach (BatchNormBase bn in Modules(model).OfType<BatchNormBase>())
        {
            Span<float> mean = bn.RunningMean.AsSpan<float>(), variance = bn.RunningVar.AsSpan<float>();
            Span<float> gamma = bn.Weight!.Value.AsSpan<float>(), beta = bn.Bias!.Value.AsSpan<float>();
            for (int c = 0; c < mean.Length; c++)
            {
                // integer means and unit variances with γ = ±1 make BN(d) = 0 ties frequent
                mean[c] = c % 3 == 0 ? rng.NextInt(9) - 4 : (float)rng.Uniform(-6, 6);
                variance[c] = c % 3 == 0 ? 1f - 1e-5f : (float)rng.Uniform(0.1, 4);
                gamma[c] = c % 4 == 0 ? -1f : c % 4 == 1 ? 1f : (float)rng.Uniform(-1.5, 1.5);
                beta[c] = c % 3 == 0 ? 0f : (float)rng.Uniform(-1, 1);
            }
        }
    }

    private static IEnumerable<Module> Modules(Module m) => new[] { m }.Concat(m.NamedChildren().SelectMany(c => Modules(c.Value)));

    [Test]
    public void FusedChain_EqualsFrameworkEvaluation([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 2)] int threads)
    {
        using var threadsScope = KernelThreadsScope.Set(threads);
        var rng = new Rng(21);
        Sequential net = Network(rng);
        PerturbBatchNorms(net, rng);
        InferenceModel inference = InferenceModel.FromModule(net, 3, 11, 11, 4, "test");
        Tensor x = Tensor.Uniform([7, 3, 11, 11], rng, -2, 2);
        float[] expected, actual;
        int[] predictions = new int[7];
        using (Simd.Force(path))
        {
            net.Eval();
            using (GradMode.NoGrad()) expected = net.Forward(x).ToArray<float>();
            actual = inference.Forward(x.ToArray<float>(), 7);
            inference.Predict(x.ToArray<float>(), predictions);
        }
        Assert.That(actual, Is.EqualTo(expected));
        for (int i = 0; i < 7; i++)
            Assert.That(predictions[i], Is.EqualTo(Enumerable.Range(0, 4).MaxBy(c => (expected[i * 4 + c], -c))), $"image {i}");
    }

    /// <summary>The chain really runs fused: no max pool or Hardtanh runs on floats (each is folded into the bits of a
    /// threshold chain or skipped before a sign).</summary>
    [Test]
    public void EveryPoolAndHardtanh_IsFoldedIntoBits()
    {
        var rng = new Rng(8);
        Sequential net = Network(rng);
        PerturbBatchNorms(net, rng);
        InferenceModel inference = InferenceModel.FromModule(net, 3, 11, 11, 4, "test");
        var timing = new InferenceTiming();
        inference.Predict(Tensor.Uniform([2, 3, 11, 11], rng, -2, 2).ToArray<float>(), new int[2], timing);
        Assert.That(timing.ByKind.Keys.Select(k => k.Split(' ')[0]).Distinct(), Is.EquivalentTo(new[] { "Conv", "Affine", "BinaryConv", "Flatten", "Dense" }));
    }

    /// <summary>Layers reuse their buffers from one forward to the next: a forward with another batch size in between
    /// leaves nothing stale.</summary>
    [Test]
    public void SecondForwardWithAnotherBatch_GivesTheSameLogitsPerImage()
    {
        var rng = new Rng(5);
        Sequential net = Network(rng);
        PerturbBatchNorms(net, rng);
        InferenceModel inference = InferenceModel.FromModule(net, 3, 11, 11, 4, "test");
        float[] x = Tensor.Uniform([6, 3, 11, 11], rng, -2, 2).ToArray<float>();
        float[] all = inference.Forward(x, 6);
        float[] firstTwo = inference.Forward(x[..(2 * 3 * 11 * 11)], 2);
        float[] againAll = inference.Forward(x, 6);
        Assert.That(firstTwo, Is.EqualTo(all[..8]));
        Assert.That(againAll, Is.EqualTo(all));
    }
}
