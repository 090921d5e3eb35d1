// Your own binarization scheme in BinaryGrad, end to end: define → unit-test → register → train → evaluate.
using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Datasets;
using BinaryGrad.Layers;
using BinaryGrad.Optimizers;

// 1. Define: sign forward, triangle surrogate s(x) = (1 − |x|)₊ backward (a hypothetical estimator to try out).
static double Sign(double x) => x >= 0 ? 1 : -1;
static double Triangle(double x) => Math.Max(0, 1 - Math.Abs(x));
Quantizer NewActivation() => new FunctionQuantizer("triangle-sign", Sign, Triangle, QuantizerKind.Activation, isHardSign: true);
Quantizer NewWeight() => new FunctionQuantizer("triangle-sign-w", Sign, _ => 1, QuantizerKind.Weight, isHardSign: true);

// 2. Unit-test it (these throw EstimatorCheckException with the failing points; call them from NUnit/xUnit just the same):
//    the backward must be dy·s(x) at 0, ±1, just inside/outside ±1 and random points, in float64 and float32.
EstimatorCheck.AssertForwardEquals(NewActivation(), Sign);
EstimatorCheck.AssertBackwardEquals(NewActivation(), Triangle);
EstimatorCheck.AssertBackwardEquals(NewWeight(), _ => 1);
Console.WriteLine("estimator checks passed");

// 3. Register it by name, like the built-in schemes (bnn, approxsign, ...).
SchemeRegistry.Register(new SchemeInfo("triangle-sign", "sign with a triangle surrogate (1 − |x|)₊ on activations",
    Provenance.StandardConstruction, "user", [], _ => new SchemeInstance(NewWeight(), NewActivation())));

// 4. Train a binary MLP with it on the digits set shipped inside BinaryGrad (1 437 train / 360 test 8×8 images).
int epochs = args.Length > 0 ? int.Parse(args[0]) : 30;
var rng = new Rng(42);
BinaryClassifier model = BinaryModels.Mlp(rng, () => SchemeRegistry.Create("triangle-sign"), inputs: 64, hidden: 256, hiddenLayers: 2);
var optimizer = new Adam(model.NamedParameters(), learningRate: 3e-3);
var train = new DataLoader(Digits.Load(DatasetSplit.Train), new DataLoaderOptions { BatchSize = 64, Seed = 42, Prefetch = false });
for (int epoch = 1; epoch <= epochs; epoch++)
{
    model.Train();
    double lossSum = 0;
    foreach (Batch batch in train.Epoch())
    {
        optimizer.ZeroGrad();
        Tensor loss = Ops.CrossEntropy(model.Forward(Images(batch)), batch.LabelSpan);
        loss.Backward();
        optimizer.Step();
        lossSum += loss.Item() * batch.Count;
    }
    if (epoch % 10 == 0 || epoch == epochs) Console.WriteLine($"epoch {epoch}: train loss {lossSum / train.Dataset.Count:F4}");
}

// 5. Evaluate: in eval mode every binary layer runs the XNOR-popcount kernels (the scheme is hard sign).
model.Eval();
int correct = 0, total = 0;
foreach (Batch batch in DataLoader.ForEvaluation(Digits.Load(DatasetSplit.Test), 120, Normalization.UnitRange).Epoch())
{
    float[] logits = model.Forward(Images(batch)).ToArray<float>();
    for (int i = 0; i < batch.Count; i++)
        if (ArgMax(logits.AsSpan(i * 10, 10)) == batch.Labels[i]) correct++;
    total += batch.Count;
}
Console.WriteLine($"test accuracy {(double)correct / total:P2} ({correct}/{total})");
return correct > total * 0.8 ? 0 : 1;

static Tensor Images(Batch b) => new(b.ImageSpan.ToArray(), [b.Count, b.Channels, b.Height, b.Width]);
static int ArgMax(ReadOnlySpan<float> v) { int best = 0; for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i; return best; }
