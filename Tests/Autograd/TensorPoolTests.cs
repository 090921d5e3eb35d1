using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels;
using BinaryGrad.Layers;
using BinaryGrad.Optimizers;
using NUnit.Framework;

namespace BinaryGrad.Tests.Autograd;

/// <summary>The per-step storage pool: it must reuse buffers, fail loudly on use after the step, and never change a
/// single bit of what training computes.</summary>
[TestFixture, Category("Autograd"), NonParallelizable]
public class TensorPoolTests
{
    [Test]
    public void SecondScope_ReusesTheFirstScopesBuffers_AndEmptyStillMeansZeros()
    {
        using (TensorPool.BeginStep())
        {
            Tensor t = Tensor.Empty([1237]);
            t.AsSpan<float>().Fill(42);
        }
        (long rents, long reuses) = TensorPool.Counters;
        float[] values;
        using (TensorPool.BeginStep()) values = Tensor.Empty([1237]).ToArray<float>();
        (long rents2, long reuses2) = TensorPool.Counters;
        Assert.Multiple(() =>
        {
            Assert.That(rents2 - rents, Is.EqualTo(1));
            Assert.That(reuses2 - reuses, Is.EqualTo(1), "the array returned by the first scope is handed out again");
            Assert.That(values, Is.All.Zero, "a reused buffer must not leak the previous step's values");
        });
    }

    [Test]
    public void TensorUsedAfterItsScope_ThrowsAndSaysWhy_UnlessKept()
    {
        Tensor dead, kept;
        using (TensorPool.BeginStep())
        {
            Tensor a = Tensor.FromValues([1.0, 2.0, 3.0], [3]);
            dead = Ops.Mul(a, a);
            kept = Ops.Add(a, a).Keep();
        }
        using (TensorPool.BeginStep()) Tensor.Empty([3]).AsSpan<float>().Fill(-1); // may take over dead's array
        var e = Assert.Throws<ObjectDisposedException>(() => dead.AsSpan<float>())!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Message, Does.Contain("Keep"));
            Assert.That(() => dead.ToDoubleArray(), Throws.TypeOf<ObjectDisposedException>());
            Assert.That(() => Ops.Sum(dead), Throws.TypeOf<ObjectDisposedException>());
            Assert.That(kept.ToDoubleArray(), Is.EqualTo(new[] { 2.0, 4.0, 6.0 }));
        });
    }

    [Test]
    public void NoScope_NothingIsPooled()
    {
        (long rents, _) = TensorPool.Counters;
        Tensor t = Ops.Mul(Tensor.Ones([64]), Tensor.Ones([64]));
        Assert.That(TensorPool.Counters.Rents, Is.EqualTo(rents));
        Assert.That(t.ToArray<float>(), Is.All.EqualTo(1f));
    }

    [TestCase("mlp", 1), TestCase("mlp", 2), TestCase("cnn", 1), TestCase("cnn", 2)]
    public void TrainingSteps_InScopes_AreBitIdenticalToUnscopedSteps(string model, int threads)
    {
        float[][] unscoped = Train(model, threads, scoped: false), scoped = Train(model, threads, scoped: true);
        Assert.That(scoped, Has.Length.EqualTo(unscoped.Length));
        for (int p = 0; p < unscoped.Length; p++) Assert.That(scoped[p], Is.EqualTo(unscoped[p]), $"parameter {p}");
    }

    [Test]
    public void SteadyStateStep_InAScope_AllocatesAlmostNothing()
    {
        // Allocation counts are deterministic (no timing): the unscoped MLP step allocates its activations and
        // gradients (MBs); the scoped one only small graph objects (tensor headers, nodes).
        using var threadsScope = KernelThreadsScope.Set(1);
        long unscoped = BytesPerStep(scoped: false), scoped = BytesPerStep(scoped: true);
        TestContext.Out.WriteLine($"MLP 784-512-512-10, batch 128, Adam: {unscoped:N0} B/step unscoped, {scoped:N0} B/step in a scope");
        Assert.That(unscoped, Is.GreaterThan(1_000_000));
        Assert.That(scoped, Is.LessThan(64 * 1024));
    }

    public static IEnumerable<string> SchemeNames() => SchemeRegistry.All.Select(s => s.Name);

    [TestCaseSource(nameof(SchemeNames))]
    public void EveryScheme_TrainsAndEvaluatesIdentically_InScopes(string scheme)
    {
        // Quantizers keep state across steps (schedules, running moments, rotations, factors, noise generators):
        // none of it may live in pooled storage, and pooling may not change a bit of the result.
        (float[][] parameters, float[] eval) plain = TrainBinary(scheme, scoped: false), pooled = TrainBinary(scheme, scoped: true);
        Assert.That(pooled.eval, Is.EqualTo(plain.eval), "eval logits");
        for (int p = 0; p < plain.parameters.Length; p++) Assert.That(pooled.parameters[p], Is.EqualTo(plain.parameters[p]), $"parameter {p}");
    }

    private static (float[][], float[]) TrainBinary(string scheme, bool scoped)
    {
        var rng = new Rng(5);
        BinaryClassifier model = BinaryModels.Mlp(rng, () => SchemeRegistry.Create(scheme), inputs: 36, hidden: 24, hiddenLayers: 2);
        var adam = new Adam(model.NamedParameters(), 1e-2);
        Tensor x = Tensor.Normal([16, 1, 6, 6], rng);
        int[] labels = [.. Enumerable.Range(0, 16).Select(i => i % 10)];
        for (int step = 0; step < 3; step++)
        {
            model.OnProgress(new BinaryGrad.Binarization.TrainingProgress(step, step, 3, 3));
            TensorPool.StepScope scope = scoped ? TensorPool.BeginStep() : default;
            Tensor loss = Ops.CrossEntropy(model.Forward(x), labels);
            if (model.Penalty() is { } penalty) loss = Ops.Add(loss, penalty);
            adam.ZeroGrad();
            loss.Backward();
            adam.Step();
            scope.Dispose();
        }
        model.Eval();
        float[] eval;
        using (GradMode.NoGrad())
        {
            TensorPool.StepScope scope = scoped ? TensorPool.BeginStep() : default;
            eval = model.Forward(x).ToArray<float>();
            scope.Dispose();
        }
        return ([.. model.Parameters().Select(p => p.Value.ToArray<float>())], eval);
    }

    private static float[][] Train(string model, int threads, bool scoped)
    {
        using var threadsScope = KernelThreadsScope.Set(threads);
        var rng = new Rng(11);
        Module m = model == "mlp" ? Models.Mlp(rng, 784, [96, 64], 10) : Models.SmallCnn(rng, 1, 10, 12);
        var adam = new Adam(m.NamedParameters(), 1e-3);
        int side = model == "mlp" ? 28 : 12;
        Tensor x = Tensor.Normal([32, 1, side, side], rng);
        int[] labels = [.. Enumerable.Range(0, 32).Select(i => i % 10)];
        for (int step = 0; step < 4; step++) TrainStep(m, adam, x, labels, scoped);
        return [.. m.Parameters().Select(p => p.Value.ToArray<float>())];
    }

    /// <summary>One Adam step on cross-entropy, inside a pool step scope when <paramref name="scoped"/>.</summary>
    private static void TrainStep(Module m, Adam adam, Tensor x, int[] labels, bool scoped)
    {
        TensorPool.StepScope scope = scoped ? TensorPool.BeginStep() : default;
        Tensor loss = Ops.CrossEntropy(m.Forward(x), labels);
        loss.Item();
        adam.ZeroGrad();
        loss.Backward();
        adam.Step();
        scope.Dispose();
    }

    private static long BytesPerStep(bool scoped)
    {
        var rng = new Rng(42);
        Module m = Models.Mlp(rng, 784, [512, 512], 10);
        var adam = new Adam(m.NamedParameters(), 1e-3);
        Tensor x = Tensor.Normal([128, 1, 28, 28], rng);
        int[] labels = [.. Enumerable.Range(0, 128).Select(i => i % 10)];
        void Step() => TrainStep(m, adam, x, labels, scoped);
        for (int i = 0; i < 3; i++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        const int steps = 10;
        for (int i = 0; i < steps; i++) Step();
        return (GC.GetAllocatedBytesForCurrentThread() - before) / steps;
    }
}
