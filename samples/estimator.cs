// Your own binarization scheme: define it, unit-test it with EstimatorCheck, register it by name, and use it like a
// built-in one. Run: dotnet run samples/estimator.cs
#:project ../Binarization/Binarization.csproj
#:project ../Layers/Layers.csproj
using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Layers;

// 1. Define: sign forward; backward the triangle surrogate s(x) = (1 − |x|)₊ on activations.
static double Sign(double x) => x >= 0 ? 1 : -1;
static double Triangle(double x) => Math.Max(0, 1 - Math.Abs(x));
Quantizer NewActivation() => new FunctionQuantizer("triangle-sign", Sign, Triangle, QuantizerKind.Activation, isHardSign: true);
Quantizer NewWeight() => new FunctionQuantizer("triangle-sign-w", Sign, _ => 1, QuantizerKind.Weight, isHardSign: true);

// 2. Test: the recorded forward and backward, in float64 and float32, at 0, ±1, just inside and outside ±1 and at
//    random points (each call throws EstimatorCheckException naming the failing points; call them from NUnit the same).
EstimatorCheck.AssertForwardEquals(NewActivation(), Sign);
EstimatorCheck.AssertBackwardEquals(NewActivation(), Triangle);
EstimatorCheck.AssertBackwardEquals(NewWeight(), _ => 1);
try
{
    EstimatorCheck.AssertBackwardEquals(NewActivation(), x => Math.Abs(x) <= 1 ? 1 : 0); // the plain STE: not ours
    throw new InvalidOperationException("EstimatorCheck accepted the wrong surrogate");
}
catch (EstimatorCheckException e)
{
    Console.WriteLine($"the wrong surrogate is caught: {e.Message.Split('\n')[0]}");
}
Console.WriteLine("estimator checks passed");

// 3. Register it, then build layers from it by name, like "bnn" or "approxsign".
SchemeRegistry.Register(new SchemeInfo("triangle-sign", "sign with a triangle surrogate (1 − |x|)₊ on activations",
    Provenance.StandardConstruction, "user", [], _ => new SchemeInstance(NewWeight(), NewActivation())));
var rng = new Rng(1);
BinaryClassifier model = BinaryModels.Mlp(rng, () => SchemeRegistry.Create("triangle-sign"), inputs: 8, hidden: 16, hiddenLayers: 1, classes: 3);

// 4. One gradient through the whole model: the surrogate is what flows back through every sign.
Tensor x = Tensor.Uniform([5, 8], rng, -1.5, 1.5, requiresGrad: true);
Tensor loss = Ops.CrossEntropy(model.Forward(x), [0, 1, 2, 0, 1]);
loss.Backward();
Console.WriteLine($"loss {loss.Item():F4}; input gradient norm {Math.Sqrt(x.Grad!.ToDoubleArray().Sum(g => g * g)):F6}");
Console.WriteLine($"\"triangle-sign\" registered: {SchemeRegistry.Names.Contains("triangle-sign")} ({SchemeRegistry.All.Count} schemes)");
