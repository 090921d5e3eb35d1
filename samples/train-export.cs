// Train a binary (BNN) MLP on the digits set shipped inside BinaryGrad, export it as a bit-packed .bgm, and run the
// .bgm on the XNOR-popcount kernels: the same predictions as the trained model. Run: dotnet run samples/train-export.cs
#:project ../Layers/Layers.csproj
#:project ../Optimizers/Optimizers.csproj
#:project ../Datasets/Datasets.csproj
using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Datasets;
using BinaryGrad.Layers;
using BinaryGrad.Layers.Inference;
using BinaryGrad.Optimizers;

var rng = new Rng(42);
BinaryClassifier model = BinaryModels.Mlp(rng, () => SchemeRegistry.Create("bnn"), inputs: 64, hidden: 256, hiddenLayers: 2);
var optimizer = new Adam(model.NamedParameters(), learningRate: 3e-3);
var train = new DataLoader(Digits.Load(DatasetSplit.Train), new DataLoaderOptions { BatchSize = 64, Seed = 42, Prefetch = false });
for (int epoch = 1; epoch <= 15; epoch++)
{
    model.Train();
    foreach (Batch batch in train.Epoch())
    {
        using TensorPool.StepScope step = TensorPool.BeginStep(); // storage reused from step to step
        optimizer.ZeroGrad();
        Ops.CrossEntropy(model.Forward(Images(batch)), batch.LabelSpan).Backward();
        optimizer.Step();
    }
}

// Export: binary layers as packed bits, batch norms folded, real layers in float32; then load it back.
string path = Path.Combine(Path.GetTempPath(), "binarygrad-digits-bnn.bgm");
InferenceModel.FromModule(model, 1, 8, 8, 10, "digits").Save(path);
InferenceModel deployed = InferenceModel.Load(path);

model.Eval();
int agree = 0, correct = 0, total = 0;
foreach (Batch batch in DataLoader.ForEvaluation(Digits.Load(DatasetSplit.Test), 120, Normalization.UnitRange).Epoch())
{
    float[] logits;
    using (GradMode.NoGrad()) logits = model.Forward(Images(batch)).ToArray<float>();
    var predictions = new int[batch.Count];
    deployed.Predict(batch.ImageSpan, predictions);   // the bit kernels
    for (int i = 0; i < batch.Count; i++)
    {
        int best = 0;
        for (int c = 1; c < 10; c++) if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
        agree += best == predictions[i] ? 1 : 0;
        correct += predictions[i] == batch.Labels[i] ? 1 : 0;
    }
    total += batch.Count;
}
Console.WriteLine($"{path}: {new FileInfo(path).Length:N0} bytes; test accuracy on the bit kernels {(double)correct / total:P2}; " +
                  $"same prediction as the trained model for {agree} of {total} images");
return agree == total && correct > total * 0.8 ? 0 : 1;

static Tensor Images(Batch b) => new(b.ImageSpan.ToArray(), [b.Count, b.Channels, b.Height, b.Width]);
