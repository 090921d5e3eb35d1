using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Datasets;
using BinaryGrad.Layers;
using BinaryGrad.Optimizers;
using NUnit.Framework;

namespace PackageConsumer;

/// <summary>What a user of the package writes: an estimator of their own — sign forward, triangle surrogate
/// (1 − |x|)₊ backward — checked with BinaryGrad's EstimatorCheck, registered, and trained on the digits set that
/// ships inside the package.</summary>
public class TriangleSignTests
{
    private static double Sign(double x) => x >= 0 ? 1 : -1;
    private static double Triangle(double x) => Math.Max(0, 1 - Math.Abs(x));
    private static Quantizer Activation() => new FunctionQuantizer("triangle-sign", Sign, Triangle, QuantizerKind.Activation, isHardSign: true);
    private static Quantizer Weight() => new FunctionQuantizer("triangle-sign-w", Sign, _ => 1, QuantizerKind.Weight, isHardSign: true);

    [Test]
    public void Forward_IsSign() => EstimatorCheck.AssertForwardEquals(Activation(), Sign);

    [Test]
    public void Backward_IsTheTriangleSurrogate() => EstimatorCheck.AssertBackwardEquals(Activation(), Triangle);

    /// <summary>The check must be able to fail: a surrogate that is not the one the quantizer uses is caught.</summary>
    [Test]
    public void Backward_AgainstAnotherSurrogate_IsCaught() =>
        Assert.Throws<EstimatorCheckException>(() => EstimatorCheck.AssertBackwardEquals(Activation(), x => Math.Abs(x) <= 1 ? 1 : 0));

    [Test]
    public void Registered_ItTrainsABinaryMlpOnDigits()
    {
        if (!SchemeRegistry.TryGet("triangle-sign", out _))
            SchemeRegistry.Register(new SchemeInfo("triangle-sign", "sign with a triangle surrogate (1 − |x|)₊ on activations",
                Provenance.StandardConstruction, "user", [], _ => new SchemeInstance(Weight(), Activation())));
        var rng = new Rng(42);
        BinaryClassifier model = BinaryModels.Mlp(rng, () => SchemeRegistry.Create("triangle-sign"), inputs: 64, hidden: 128, hiddenLayers: 1);
        var optimizer = new Adam(model.NamedParameters(), learningRate: 3e-3);
        var train = new DataLoader(Digits.Load(DatasetSplit.Train), new DataLoaderOptions { BatchSize = 64, Seed = 42, Prefetch = false });
        for (int epoch = 0; epoch < 5; epoch++)
        {
            model.Train();
            foreach (Batch batch in train.Epoch())
            {
                optimizer.ZeroGrad();
                Tensor loss = Ops.CrossEntropy(model.Forward(Images(batch)), batch.LabelSpan);
                loss.Backward();
                optimizer.Step();
            }
        }
        model.Eval();
        int correct = 0, total = 0;
        foreach (Batch batch in DataLoader.ForEvaluation(Digits.Load(DatasetSplit.Test), 120, Normalization.UnitRange).Epoch())
        {
            float[] logits;
            using (GradMode.NoGrad()) logits = model.Forward(Images(batch)).ToArray<float>();
            for (int i = 0; i < batch.Count; i++)
            {
                int best = 0;
                for (int c = 1; c < 10; c++) if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
                correct += best == batch.Labels[i] ? 1 : 0;
                total++;
            }
        }
        // chance is 10 %; a binary MLP trained for 5 epochs on the 8×8 digits is far above it
        Assert.That((double)correct / total, Is.GreaterThan(0.6), $"test accuracy {correct} / {total}");
    }

    private static Tensor Images(Batch b) => new(b.ImageSpan.ToArray(), [b.Count, b.Channels, b.Height, b.Width]);
}
