using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels.Binary;
using BinaryGrad.Layers;
using NUnit.Framework;

namespace BinaryGrad.Tests.Layers.Binary;

[TestFixture, Category("Layers")]
public class BinaryLayerTests
{
    private static Tensor Random(int[] shape, Rng rng, DType dtype = DType.Float32) => Tensor.Uniform(shape, rng, -1.5, 1.5, dtype);

    [TestCase(1, 1, 1), TestCase(3, 63, 5), TestCase(4, 64, 7), TestCase(5, 65, 64), TestCase(8, 200, 33), TestCase(2, 257, 129)]
    public void BinaryLinear_BitKernelForward_EqualsFloatForwardExactly(int n, int k, int o)
    {
        var rng = new Rng((ulong)(n * 1000 + k * 10 + o));
        var layer = new BinaryLinear(k, o, rng, new SteSign(), new SteSign());
        Assert.That(layer.UsesBitKernel, Is.True);
        Tensor x = Random([n, k], rng);
        foreach (bool training in new[] { true, false })
        {
            layer.Train(training);
            layer.UseBitKernel = true;
            double[] bits = Forward(layer, x, training);
            layer.UseBitKernel = false;
            double[] floats = Forward(layer, x, training);
            Assert.That(bits, Is.EqualTo(floats), $"[{n},{k}]→{o}, training {training}");
        }
    }

    [TestCase(1, 1, 5, 5, 1, 3, 1, 1), TestCase(2, 3, 6, 7, 4, 3, 1, 1), TestCase(2, 64, 5, 5, 8, 3, 1, 1), TestCase(1, 65, 4, 6, 3, 3, 2, 1),
     TestCase(3, 16, 8, 8, 5, 3, 1, 0), TestCase(2, 7, 9, 9, 6, 5, 2, 2), TestCase(1, 130, 3, 3, 2, 1, 1, 0), TestCase(2, 32, 7, 7, 70, 3, 1, 1)]
    public void BinaryConv2d_BitKernelForward_EqualsFloatForwardExactly(int n, int c, int h, int w, int o, int k, int stride, int pad)
    {
        var rng = new Rng((ulong)(n + c * 7 + h * 31 + o * 101 + k * 1009 + stride + pad * 3));
        var layer = new BinaryConv2d(c, o, k, rng, new SteSign(), new SteSign(), stride, pad);
        Assert.That(layer.UsesBitKernel, Is.True);
        Tensor x = Random([n, c, h, w], rng);
        foreach (bool training in new[] { true, false })
        {
            layer.Train(training);
            layer.UseBitKernel = true;
            double[] bits = Forward(layer, x, training);
            layer.UseBitKernel = false;
            double[] floats = Forward(layer, x, training);
            Assert.That(bits, Is.EqualTo(floats), $"[{n},{c},{h},{w}] k{k} s{stride} p{pad} → {o}, training {training}");
        }
    }

    [Test]
    public void BinaryConv2d_BitKernelBackward_EqualsFloatBackward()
    {
        var rng = new Rng(5);
        var layer = new BinaryConv2d(5, 4, 3, rng, new SteSign(), new SteSign(), padding: 1, bias: true);
        double[][] grads = new double[2][];
        for (int pass = 0; pass < 2; pass++)
        {
            layer.UseBitKernel = pass == 0;
            layer.ZeroGrad();
            Tensor x = new(Random([2, 5, 6, 6], new Rng(9)).ToArray<float>(), [2, 5, 6, 6], requiresGrad: true);
            Tensor y = layer.Forward(x);
            Ops.Sum(Ops.Mul(y, y)).Backward();
            grads[pass] = [.. x.Grad!.ToDoubleArray(), .. layer.LatentWeight.Value.Grad!.ToDoubleArray(), .. layer.Bias!.Value.Grad!.ToDoubleArray()];
        }
        Assert.That(grads[0], Is.EqualTo(grads[1]).Within(1e-4));
    }

    /// <summary>Without bias, the bit-kernel convolution of an input quantizer's ±1 output (not folded in: SiMaN's
    /// standardised sign, and SteSign with folding off) takes the shared-stacking backward of a sign convolution; its
    /// input and weight gradients equal the float convolution's: stride-1 and stride-2 3×3 (stacked kernels), 5×5
    /// (general route).</summary>
    [TestCase(2, 5, 6, 6, 4, 3, 1, 1, true), TestCase(2, 8, 8, 8, 16, 3, 2, 1, true), TestCase(2, 3, 7, 7, 4, 5, 1, 2, false), TestCase(3, 16, 8, 8, 16, 3, 1, 1, false)]
    public void BinaryConv2d_BitKernelBackwardWithoutBias_EqualsFloatBackward(int n, int c, int h, int w, int o, int k, int stride, int pad, bool standardized)
    {
        var layer = new BinaryConv2d(c, o, k, new Rng(5), new SteSign(), standardized ? new StandardizedSign(center: true) : new SteSign(), stride, pad)
        {
            FuseInputSign = false,
        };
        double[][] grads = new double[2][];
        for (int pass = 0; pass < 2; pass++)
        {
            layer.UseBitKernel = pass == 0;
            layer.ZeroGrad();
            Tensor x = new(Random([n, c, h, w], new Rng(9)).ToArray<float>(), [n, c, h, w], requiresGrad: true);
            Tensor y = layer.Forward(x);
            Ops.Sum(Ops.Mul(y, Tensor.Uniform(y.Shape, new Rng(4), -1, 1))).Backward();
            grads[pass] = [.. x.Grad!.ToDoubleArray(), .. layer.LatentWeight.Value.Grad!.ToDoubleArray()];
        }
        Assert.That(grads[0].Count(v => v != 0), Is.GreaterThan(grads[0].Length / 4), "gradients flow");
        Assert.That(grads[0], Is.EqualTo(grads[1]).Within(1e-4));
    }

    /// <summary>The sign folded into the convolution (<see cref="BinaryConv2d.FuseInputSign"/>) against the SteSign op
    /// followed by the convolution: same output, same input and weight gradients, bit for bit. The input holds values
    /// exactly at ±clip, ±0 and outside the clip window; stride-1 3×3 (stacked kernels) and strided/5×5 (general route).</summary>
    [TestCase(3, 5, 7, 9, 6, 3, 1, 1, 1.0), TestCase(2, 16, 8, 8, 16, 3, 1, 1, 0.5), TestCase(2, 8, 9, 8, 12, 3, 2, 1, 1.0),
     TestCase(2, 3, 7, 7, 4, 5, 1, 2, double.PositiveInfinity)]
    public void BinaryConv2d_FusedInputSign_EqualsSteSignThenConvolution(int n, int c, int h, int w, int o, int k, int stride, int pad, double clip)
    {
        var layer = new BinaryConv2d(c, o, k, new Rng((ulong)(c * 31 + h)), new SteSign(), new SteSign(clip), stride, pad);
        float[] values = Random([n, c, h, w], new Rng(11)).ToArray<float>();
        float[] special = [1f, -1f, 0.5f, -0.5f, 0f, -0f, 2f, -2f];
        for (int i = 0; i < values.Length; i += 3) values[i] = special[i / 3 % special.Length];
        var results = new double[2][];
        for (int pass = 0; pass < 2; pass++)
        {
            layer.FuseInputSign = pass == 0;
            layer.ZeroGrad();
            Tensor x = new(values, [n, c, h, w], requiresGrad: true);
            Tensor y = layer.Forward(x);
            Ops.Sum(Ops.Mul(y, Tensor.Uniform(y.Shape, new Rng(4), -1, 1))).Backward();
            results[pass] = [.. y.ToDoubleArray(), .. x.Grad!.ToDoubleArray(), .. layer.LatentWeight.Value.Grad!.ToDoubleArray()];
        }
        Assert.That(results[0], Is.EqualTo(results[1]));
    }

    /// <summary>A convolution whose input comes from a Bi-Real unit's fused epilogue (<see cref="Ops.BatchNormAddClamp"/>)
    /// builds its bits from the sign planes the epilogue packed: same output, input and weight gradients as with the
    /// planes switched off (the convolution packs the float input itself), bit for bit; channel counts below, at and
    /// past a 64-channel word, planes with a 64-pixel tail.</summary>
    [TestCase(2, 16, 8, 8, 1), TestCase(3, 5, 7, 9, 1), TestCase(2, 70, 5, 13, 1), TestCase(2, 16, 8, 8, 2)]
    public void BinaryConv2d_InputSignPlanesFromTheEpilogue_EqualPackingTheInput(int n, int c, int h, int w, int stride)
    {
        var layer = new BinaryConv2d(c, 6, 3, new Rng((ulong)(c + h)), new SteSign(), new SteSign(), stride, 1);
        float[] values = Random([n, c, h, w], new Rng(21)).ToArray<float>(), shortcut = Random([n, c, h, w], new Rng(22)).ToArray<float>();
        var results = new double[2][];
        bool saved = Ops.SignPlanesInEpilogue;
        try
        {
            for (int pass = 0; pass < 2; pass++)
            {
                Ops.SignPlanesInEpilogue = pass == 0;
                layer.ZeroGrad();
                Tensor x = new(values, [n, c, h, w], requiresGrad: true);
                Tensor unit = Ops.BatchNormAddClamp(x, null, null, null, null, new Tensor(shortcut, [n, c, h, w]), training: true);
                Assert.That(unit.SignPlanes is not null, Is.EqualTo(pass == 0), "planes packed only when on");
                Tensor y = layer.Forward(unit);
                Ops.Sum(Ops.Mul(y, Tensor.Uniform(y.Shape, new Rng(4), -1, 1))).Backward();
                results[pass] = [.. y.ToDoubleArray(), .. x.Grad!.ToDoubleArray(), .. layer.LatentWeight.Value.Grad!.ToDoubleArray()];
            }
        }
        finally { Ops.SignPlanesInEpilogue = saved; }
        Assert.That(results[0], Is.EqualTo(results[1]));
    }

    /// <summary>The convolution really reads the planes: planes of all-zero bits (every sign −1) attached to a positive
    /// input give the convolution of −1s; planes of the wrong size are not used (the input is packed instead).</summary>
    [Test]
    public void BinaryConv2d_ReadsAttachedSignPlanesOnlyWhenTheyFit()
    {
        const int n = 2, c = 3, h = 5, w = 6;
        var layer = new BinaryConv2d(c, 4, 3, new Rng(5), new SteSign(), new SteSign(), 1, 1);
        Tensor positive = Tensor.Full([n, c, h, w], 0.5f), negative = Tensor.Full([n, c, h, w], -0.5f);
        double[] expected = layer.Forward(negative).ToDoubleArray(), unchanged = layer.Forward(positive).ToDoubleArray();
        Assert.That(expected, Is.Not.EqualTo(unchanged), "the signs matter");

        positive.SignPlanes = Tensor.Zeros([n * c * BitPack.WordsPerPlane(h * w)], DType.Float64);
        Assert.That(layer.Forward(positive).ToDoubleArray(), Is.EqualTo(expected), "planes used");
        positive.SignPlanes = Tensor.Zeros([n * c * BitPack.WordsPerPlane(h * w) - 1], DType.Float64);
        Assert.That(layer.Forward(positive).ToDoubleArray(), Is.EqualTo(unchanged), "planes of another size ignored");
    }

    /// <summary>Writable access to a unit's output drops its sign planes, so a convolution of the changed values packs
    /// them afresh: every value negated through <see cref="Tensor.AsSpan{T}"/>, the convolution equals that of a fresh
    /// tensor holding the negated values; the indexer's setter drops them too; reading (ToArray) keeps them.</summary>
    [Test]
    public void SignPlanes_DroppedByWritableAccess()
    {
        int[] shape = [2, 3, 5, 6];
        Tensor y = Ops.BatchNormAddClamp(Random(shape, new Rng(1)), null, null, null, null, Random(shape, new Rng(2)), training: true);
        _ = y.ToArray<float>();
        Assert.That(y.SignPlanes, Is.Not.Null, "reading keeps them");
        Span<float> values = y.AsSpan<float>();
        Assert.That(y.SignPlanes, Is.Null, "AsSpan drops them");
        for (int i = 0; i < values.Length; i++) values[i] = -values[i] - 0.25f;
        var layer = new BinaryConv2d(3, 4, 3, new Rng(5), new SteSign(), new SteSign(), 1, 1);
        Assert.That(layer.Forward(y).ToDoubleArray(), Is.EqualTo(layer.Forward(new Tensor(values.ToArray(), shape)).ToDoubleArray()));

        Tensor z = Ops.BatchNormAddClamp(Random(shape, new Rng(3)), null, null, null, null, Random(shape, new Rng(4)), training: true);
        Assert.That(z.SignPlanes, Is.Not.Null);
        z[0, 0, 0, 0] = 0.5;
        Assert.That(z.SignPlanes, Is.Null, "the indexer's setter drops them");
    }

    [Test]
    public void BinaryLinear_BitKernelBackward_EqualsFloatBackward()
    {
        var layer = new BinaryLinear(70, 6, new Rng(3), new SteSign(), new SteSign(), bias: true);
        double[][] grads = new double[2][];
        for (int pass = 0; pass < 2; pass++)
        {
            layer.UseBitKernel = pass == 0;
            layer.ZeroGrad();
            Tensor x = new(Random([4, 70], new Rng(4)).ToArray<float>(), [4, 70], requiresGrad: true);
            Ops.Sum(Ops.Mul(layer.Forward(x), layer.Forward(x))).Backward();
            grads[pass] = [.. x.Grad!.ToDoubleArray(), .. layer.LatentWeight.Value.Grad!.ToDoubleArray(), .. layer.Bias!.Value.Grad!.ToDoubleArray()];
        }
        Assert.That(grads[0], Is.EqualTo(grads[1]).Within(1e-4));
    }

    [Test]
    public void EvalCache_FollowsWeightChanges()
    {
        var layer = new BinaryLinear(10, 3, new Rng(1), new SteSign(), new SteSign());
        layer.Eval();
        Tensor x = Random([2, 10], new Rng(2));
        double[] before = Forward(layer, x, false);
        Span<float> w = layer.LatentWeight.Value.AsSpan<float>();
        for (int i = 0; i < w.Length; i++) w[i] = -w[i];
        double[] after = Forward(layer, x, false);
        Assert.That(after, Is.EqualTo(before.Select(v => -v).ToArray()));
    }

    [Test]
    public void FlipRatio_AfterLoadStateDict_CountsFromTheLoadedSigns()
    {
        // Two seeds give random signs that differ in about half the places; after the load none of that is a flip.
        var source = new Sequential(new BinaryConv2d(3, 4, 3, new Rng(1), new SteSign(), null), new BinaryLinear(10, 3, new Rng(3), new SteSign(), new SteSign()));
        var target = new Sequential(new BinaryConv2d(3, 4, 3, new Rng(2), new SteSign(), null), new BinaryLinear(10, 3, new Rng(4), new SteSign(), new SteSign()));
        target.LoadStateDict(source.StateDict()); // loaded through the parent: the layers are nested children
        IBinaryLayer[] layers = [.. target.NamedChildren().Select(c => (IBinaryLayer)c.Value)];
        Assert.That(layers.Select(l => l.FlipRatioSinceLastCall()), Is.EqualTo(new[] { 0.0, 0.0 }));

        // then exactly 9 of the 108 filter signs and 3 of the 30 linear signs are flipped by hand
        Span<float> conv = layers[0].LatentWeight.Value.AsSpan<float>(), linear = layers[1].LatentWeight.Value.AsSpan<float>();
        for (int i = 0; i < 9; i++) conv[i * 12] = conv[i * 12] >= 0 ? -1 : 1;
        for (int i = 0; i < 3; i++) linear[i * 10] = linear[i * 10] >= 0 ? -1 : 1;
        Assert.That(layers[0].FlipRatioSinceLastCall(), Is.EqualTo(9.0 / 108));
        Assert.That(layers[1].FlipRatioSinceLastCall(), Is.EqualTo(3.0 / 30));
    }

    /// <summary>SiMaN's binary weights are +1 for the larger-magnitude half of each filter, not the latent sign. One
    /// 2×2 filter θ = (0.1, 0.2, 0.3, 0.4): |θ − mean| = (.15, .05, .05, .15), binary (+1, −1, −1, +1); then
    /// θ = (0.2, 0.1, 0.4, 0.3): |θ − mean| = (.05, .15, .15, .05), binary (−1, +1, +1, −1). All four binary weights
    /// flip while no latent sign does, so the ratio is 1 (it was 0 when counted on the latent signs).</summary>
    [Test]
    public void FlipRatio_OfSiman_CountsTheBinaryWeights_NotTheLatentSigns()
    {
        var quantizer = new SimanSign(clipLatent: false) { Training = true };
        var layer = new BinaryConv2d(1, 1, 2, new Rng(1), quantizer, null);
        Span<float> w = layer.LatentWeight.Value.AsSpan<float>();
        float[] before = [0.1f, 0.2f, 0.3f, 0.4f], after = [0.2f, 0.1f, 0.4f, 0.3f];
        before.CopyTo(w);
        layer.FlipRatioSinceLastCall(); // snapshot of the first filter
        after.CopyTo(layer.LatentWeight.Value.AsSpan<float>());
        Assert.That(layer.FlipRatioSinceLastCall(), Is.EqualTo(1.0));
        Assert.That(layer.FlipRatioSinceLastCall(), Is.EqualTo(0.0), "nothing changed since");
        Assert.That(quantizer.Training, Is.True, "the counter restores the training flag it borrows");
    }

    [Test]
    public void ScaledOrRealInput_UsesFloatPath()
    {
        Assert.That(new BinaryLinear(4, 2, new Rng(1), new ScaledSign(), new SteSign()).UsesBitKernel, Is.False);
        Assert.That(new BinaryLinear(4, 2, new Rng(1), new SteSign(), null).UsesBitKernel, Is.False);
        Assert.That(new BinaryConv2d(4, 2, 3, new Rng(1), new SteSign(), new ApproxSign()).UsesBitKernel, Is.True); // ApproxSign: sign forward, surrogate backward
    }

    [Test]
    public void Statistics_CountSaturatedWeightsAndMeanMagnitude()
    {
        var layer = new BinaryLinear(2, 2, new Rng(1), new SteSign(), new SteSign());
        new float[] { 0.5f, -1.5f, 2f, -1f }.CopyTo(layer.LatentWeight.Value.AsSpan<float>());
        BinaryLayerStatistics s = layer.Statistics();
        Assert.That(s.OutsidePassThrough, Is.EqualTo(0.5)); // |w| > 1: -1.5 and 2 (|w| = 1 is inside the inclusive mask)
        Assert.That(s.MeanAbsLatent, Is.EqualTo(1.25).Within(1e-12));
        IBinaryLayer asInterface = new BinaryConv2d(1, 1, 1, new Rng(1), new SteSign(clipValue: 0.25), null);
        asInterface.LatentWeight.Value.AsSpan<float>()[0] = 0.5f;
        Assert.That(asInterface.Statistics().OutsidePassThrough, Is.EqualTo(1));
    }

    [Test]
    public void Builders_ProduceTheDocumentedShapes()
    {
        var rng = new Rng(1);
        BinaryClassifier cnn = BinaryModels.Cnn(rng, () => SchemeRegistry.Create("bnn"));
        BinaryClassifier vgg = BinaryModels.VggSmall(rng, () => SchemeRegistry.Create("bnn"));
        Assert.That(cnn.BinaryLayers, Has.Count.EqualTo(3));
        Assert.That(vgg.BinaryLayers, Has.Count.EqualTo(5));
        using (GradMode.NoGrad())
        {
            cnn.Eval();
            vgg.Eval();
            Assert.That(cnn.Forward(Tensor.Zeros([2, 1, 28, 28])).Shape.ToArray(), Is.EqualTo(new[] { 2, 10 }));
            Assert.That(vgg.Forward(Tensor.Zeros([1, 3, 32, 32])).Shape.ToArray(), Is.EqualTo(new[] { 1, 10 }));
        }
        // VGG-Small: 3·128·9 real + binary 128·128·9 + 128·256·9 + 256·256·9 + 256·512·9 + 512·512·9, FC 8192·10 + 10, BN 2·(128·2+256·2+512·2)
        long expected = 3 * 128 * 9 + 9L * (128 * 128 + 128 * 256 + 256 * 256 + 256 * 512 + 512 * 512) + 8192 * 10 + 10 + 2 * (128 * 2 + 256 * 2 + 512 * 2);
        Assert.That(vgg.ParameterCount, Is.EqualTo(expected));
    }

    /// <summary>Training re-packs the ±1 weights on every forward into the array of the forward before: after the latent
    /// weights change sign the bit kernel still equals the float forward (no stale bits), and a warm forward copies no
    /// weights (before, each one copied them to a new float array and packed into a new word array: 147 KB and 37 KB
    /// for this 64→64 layer).</summary>
    [TestCase(false), TestCase(true)]
    public void TrainingForward_RepacksInPlace_AndCopiesNoWeights(bool dense)
    {
        var rng = new Rng(3);
        Module layer = dense ? new BinaryLinear(576, 64, rng, new SteSign(), new SteSign()) : new BinaryConv2d(64, 64, 3, rng, new SteSign(), new SteSign(), 1, 1);
        Parameter latent = dense ? ((BinaryLinear)layer).LatentWeight : ((BinaryConv2d)layer).LatentWeight;
        void UseBits(bool on) { if (layer is BinaryLinear l) l.UseBitKernel = on; else ((BinaryConv2d)layer).UseBitKernel = on; }
        layer.Train(true);
        Tensor x = dense ? Random([3, 576], rng) : Random([2, 64, 6, 6], rng);
        for (int step = 0; step < 3; step++)
        {
            Span<float> w = latent.Value.AsSpan<float>();
            for (int i = step; i < w.Length; i += 7) w[i] = -w[i]; // sign flips, as optimizer steps make them
            UseBits(true);
            double[] bits = Forward(layer, x, training: true);
            UseBits(false);
            double[] floats = Forward(layer, x, training: true);
            Assert.That(bits, Is.EqualTo(floats), $"step {step}");
        }
        UseBits(true);
        long fewest = long.MaxValue;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            using TensorPool.StepScope scope = TensorPool.BeginStep();
            long before = GC.GetAllocatedBytesForCurrentThread();
            layer.Forward(x);
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.That(fewest, Is.LessThan(64 * 576 / 8), "bytes allocated by a warm training forward");
    }

    private static double[] Forward(Module layer, Tensor x, bool training)
    {
        if (training) return layer.Forward(x).ToDoubleArray();
        using (GradMode.NoGrad()) return layer.Forward(x).ToDoubleArray();
    }
}
