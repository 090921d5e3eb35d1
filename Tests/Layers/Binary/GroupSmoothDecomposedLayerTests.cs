using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Cli.Training;
using BinaryGrad.Datasets;
using BinaryGrad.Layers;
using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Layers.Binary;

/// <summary>Binary layers with the quantizers of the group-transform, smooth and decomposed families: weight parametrizations owned by the quantizer
/// (decomposed factors, group logits) and the exactly-binary end of a self-binarizing network.</summary>
[TestFixture]
public class GroupSmoothDecomposedLayerTests
{
    [TestCase("decomposed-matrix"), TestCase("decomposed-tucker"), TestCase("group-soft-binary")]
    public void FactorizedWeights_AreOwnedByTheQuantizer_LatentGetsZeroGradientAndMirrorsTheWeights(string scheme)
    {
        var rng = new Rng(3);
        SchemeInstance s = SchemeRegistry.Create(scheme);
        var layer = new BinaryLinear(12, 6, rng, s.Weights, s.Activations);
        string[] names = [.. layer.NamedParameters().Select(p => p.Key)];
        Assert.That(names, Has.Some.StartsWith("weight_quantizer."), "the factor/logit parameters are registered with the layer");
        Tensor x = Tensor.FromValues([.. Enumerable.Range(0, 4 * 12).Select(_ => rng.Uniform(-1, 1))], [4, 12]);
        layer.Train();
        Tensor y = layer.Forward(x);
        y.Backward(Tensor.Ones(y.Shape));
        Assert.That(layer.LatentWeight.Grad!.ToDoubleArray(), Is.All.EqualTo(0.0), "the latent weight is not optimised");
        Assert.That(layer.NamedParameters().Where(p => p.Key.StartsWith("weight_quantizer.", StringComparison.Ordinal))
            .Any(p => p.Value.Grad is { } g && g.ToDoubleArray().Any(v => v != 0)), Is.True, "factors receive gradients");

        // the mirror holds the real-valued weights the network uses: their signs are the binary weights
        double[] mirror = layer.LatentWeight.Value.ToDoubleArray();
        double[] used = s.Weights!.Apply(layer.LatentWeight.Value).ToDoubleArray();
        for (int i = 0; i < used.Length; i++)
            Assert.That(Math.Sign(used[i]) * Math.Sign(mirror[i]), Is.Not.EqualTo(-1), $"weight {i}: used {used[i]}, mirror {mirror[i]}");
    }

    [Test]
    public void DecomposedInitialisation_StartsFromTheSignOfTheGlorotWeight()
    {
        // full rank (the layer is 6×12 < the 256 cap): the reconstruction equals the Glorot latent up to float32 rounding
        var rng = new Rng(4);
        var reference = new BinaryLinear(12, 6, new Rng(4), null, null);
        SchemeInstance s = SchemeRegistry.Create("decomposed-matrix");
        var layer = new BinaryLinear(12, 6, rng, s.Weights, null);
        double[] glorot = reference.LatentWeight.Value.ToDoubleArray();
        layer.Train();
        double[] y = s.Weights!.Apply(layer.LatentWeight.Value).ToDoubleArray();
        Assert.That(y, Is.EqualTo(glorot.Select(t => BinaryMath.Sign(t)).ToArray()), "α = 1 and sign(U·Vᵀ) = sign(W₀)");
    }

    [Test, Category("Training")]
    public void SelfBinarizing_TrainedMlp_EvalOutputsEqualTheExportedHardSignNetworkWithFoldedThresholds()
    {
        string dir = Path.Combine(Path.GetTempPath(), "bg-selfbin-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var options = new TrainOptions
            {
                Dataset = "digits", Model = "mlp", Scheme = SchemeChoice.ForModel("self-binarizing"), Optimizer = "adam", Epochs = 10, BatchSize = 32, Seed = 5,
                Threads = 1, Width = 64, ShowProgress = false, DataDirectory = dir,
            };
            var trainer = new Trainer(options, TextWriter.Null);
            trainer.Run();
            var model = (BinaryClassifier)trainer.Model!;
            ImageDataset test = Digits.Load(DatasetSplit.Test);
            var normalization = Normalization.For("digits");

            // the schedule ended at v = 1000 (last epoch) on every quantizer
            TanhSharpen[] sharpeners = [.. model.BinaryLayers.SelectMany(l => l.Quantizers).OfType<TanhSharpen>()];
            Assert.That(sharpeners, Has.Length.EqualTo(4 + 3));
            Assert.That(sharpeners.Select(q => q.V), Is.All.EqualTo(1000).Within(1e-9));

            model.Eval();
            Assert.That(model.BinaryLayers.Cast<BinaryLinear>().All(l => l.UsesBitKernel || l.InputQuantizer is null), Is.True, "evaluation is exactly binary");
            float[] framework = Logits(x => model.Forward(x).ToArray<float>(), test, normalization);

            InferenceModel exported = InferenceModel.FromModule(model, 1, test.Height, test.Width, test.ClassCount, "digits");
            string bgm = Path.Combine(dir, "selfbin.bgm");
            exported.Save(bgm);
            InferenceModel loaded = InferenceModel.Load(bgm);
            float[] inference = [];
            foreach (Batch batch in DataLoader.ForEvaluation(test, 64, normalization).Epoch())
                inference = [.. inference, .. loaded.Forward(batch.ImageSpan.ToArray(), batch.Count)];

            int[] a = Predictions(framework, test.ClassCount), b = Predictions(inference, test.ClassCount);
            Assert.That(b, Is.EqualTo(a), "predictions of the evaluation network and of the exported threshold network");
            Assert.That(inference, Is.EqualTo(framework), "logits are identical, not merely close");
            double accuracy = a.Select((p, i) => p == test.Labels[i] ? 1.0 : 0).Average();
            Assert.That(accuracy, Is.GreaterThan(0.6), "the binary network learned something");

            // the sharpened tanh network itself (v = 1000, no sign substitution) against its sign limit: a measured figure
            // (76 % on this tiny 10-epoch digits run: weights with |θ| < atanh(0.99)/v and BN statistics gathered on the
            // tanh network keep the two apart), not a property — the deployed network is the sign network checked above
            foreach (TanhSharpen q in sharpeners) q.SignAtInference = false;
            float[] sharpened = Logits(x => model.Forward(x).ToArray<float>(), test, normalization);
            foreach (TanhSharpen q in sharpeners) q.SignAtInference = true;
            int[] c = Predictions(sharpened, test.ClassCount);
            double agreement = c.Zip(a, (p, q) => p == q ? 1.0 : 0).Average();
            TestContext.Out.WriteLine($"accuracy {accuracy:P2}; tanh(v=1000) vs sign agreement {agreement:P2}");
            Assert.That(agreement, Is.GreaterThan(0.1), "the tanh network is a relative of its sign limit, not noise");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static float[] Logits(Func<Tensor, float[]> forward, ImageDataset data, Normalization normalization)
    {
        var logits = new List<float>();
        using (GradMode.NoGrad())
            foreach (Batch batch in DataLoader.ForEvaluation(data, 64, normalization).Epoch())
                logits.AddRange(forward(Trainer.BatchTensor(batch)));
        return [.. logits];
    }

    private static int[] Predictions(float[] logits, int classes) =>
        [.. Enumerable.Range(0, logits.Length / classes).Select(i => Enumerable.Range(0, classes).MaxBy(c => logits[i * classes + c]))];
}
