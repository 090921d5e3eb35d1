// Exact gradients in BinaryGrad: an expression, an intermediate's gradient, a hook, a float64 gradient check and the
// graph as Graphviz DOT. Run: dotnet run samples/gradients.cs
#:project ../Autograd/Autograd.csproj
using BinaryGrad.Autograd;

var rng = new Rng(seed: 42);
Tensor x = Tensor.Normal([4, 3], rng, dtype: DType.Float64, requiresGrad: true);
Tensor w = Tensor.Normal([3, 2], rng, dtype: DType.Float64, requiresGrad: true);

// loss = mean(tanh(x·w)²); keep the gradient of the hidden layer, which the engine would otherwise free
Tensor hidden = Ops.Tanh(Ops.MatMul(x, w)).RetainGrad();
// a hook sees the gradient arriving at w (and could return a replacement); here it records its largest entry
double largest = 0;
using IDisposable hook = w.RegisterHook(g => { largest = g.ToDoubleArray().Max(Math.Abs); return null; });
Tensor loss = Ops.Mean(hidden * hidden);
loss.Backward();

Console.WriteLine($"loss = {loss.Item():F6}");
Console.WriteLine($"dL/dw =\n{w.Grad}");
Console.WriteLine($"largest |dL/dw| seen by the hook: {largest:F6}");

// dL/dhidden = 2·hidden / 8, by hand — the engine's value must agree exactly up to rounding
double[] h = hidden.ToDoubleArray(), dh = hidden.Grad!.ToDoubleArray();
double worst = h.Select((v, i) => Math.Abs(dh[i] - 2 * v / h.Length)).Max();
Console.WriteLine($"dL/dhidden vs 2·hidden/8: largest difference {worst:E1}");
if (worst > 1e-15) throw new InvalidOperationException("the retained gradient is not 2·hidden/8");

// the backward against float64 central differences (throws with the failing entries if they disagree)
GradCheck.AssertMatchesFiniteDifferences(t => Ops.Mean(Ops.Tanh(Ops.MatMul(t[0], t[1])) * Ops.Tanh(Ops.MatMul(t[0], t[1]))), x, w);
Console.WriteLine("gradient check against float64 central differences: pass");

string dot = GraphViz.ToDot(loss);
File.WriteAllText(Path.Combine(Path.GetTempPath(), "binarygrad-gradients.dot"), dot);
Console.WriteLine($"graph: {dot.Split('\n').Count(l => l.Contains("->"))} edges written to binarygrad-gradients.dot (dot -Tpng … -o graph.png)");
