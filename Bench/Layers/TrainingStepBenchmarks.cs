using BenchmarkDotNet.Attributes;
using BinaryGrad.Autograd;
using BinaryGrad.Layers;
using BinaryGrad.Optimizers;

namespace BinaryGrad.Bench;

/// <summary>The pieces of a training step at batch 128 on MNIST-shaped data: a Linear layer (784→512, the MLP's
/// first layer) and a Conv2d layer (3×3, 32→64, pad 1 on 14×14, the small CNN's second convolution), forward alone
/// and forward + backward, and one whole MLP 784-512-512-10 training step (forward, cross-entropy, backward, Adam)
/// as <c>binarygrad bench train</c> times it. Run: <c>dotnet run -c Release --project Bench -- --filter '*TrainingStep*'</c>.</summary>
/// <remarks>Inputs require gradients, so backward computes the input gradient as well as the weight and bias
/// gradients, as it does for any layer but the first. Gradients are cleared before every backward.</remarks>
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    private const int Batch = 128;

    private Linear _linear = null!;
    private Tensor _linearX = null!, _linearDy = null!;
    private Conv2d _conv = null!;
    private Tensor _convX = null!, _convDy = null!;
    private Module _mlp = null!;
    private Adam _adam = null!;
    private Tensor _images = null!;
    private int[] _labels = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(42);
        _linear = new Linear(784, 512, rng);
        _linearX = Tensor.Normal([Batch, 784], rng, requiresGrad: true);
        _linearDy = Tensor.Normal([Batch, 512], rng);
        _conv = new Conv2d(32, 64, 3, rng, padding: 1);
        _convX = Tensor.Normal([Batch, 32, 14, 14], rng, requiresGrad: true);
        _convDy = Tensor.Normal([Batch, 64, 14, 14], rng);
        _mlp = Models.Mlp(rng, 784, [512, 512], 10);
        _mlp.Train();
        _adam = new Adam(_mlp.NamedParameters(), 1e-3);
        _images = Tensor.Normal([Batch, 1, 28, 28], rng);
        _labels = new int[Batch];
        for (int i = 0; i < Batch; i++) _labels[i] = rng.NextInt(10);
    }

    [Benchmark]
    public Tensor LinearForward() => _linear.Forward(_linearX);

    [Benchmark]
    public Tensor LinearForwardBackward()
    {
        _linear.ZeroGrad();
        _linearX.Grad = null;
        Tensor y = _linear.Forward(_linearX);
        y.Backward(_linearDy);
        return y;
    }

    [Benchmark]
    public Tensor Conv2dForward() => _conv.Forward(_convX);

    [Benchmark]
    public Tensor Conv2dForwardBackward()
    {
        _conv.ZeroGrad();
        _convX.Grad = null;
        Tensor y = _conv.Forward(_convX);
        y.Backward(_convDy);
        return y;
    }

    [Benchmark]
    public double MlpTrainingStep()
    {
        Tensor loss = Ops.CrossEntropy(_mlp.Forward(_images), _labels);
        double value = loss.Item();
        _adam.ZeroGrad();
        loss.Backward();
        _adam.Step();
        return value;
    }
}
