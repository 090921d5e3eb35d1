using BinaryGrad.Autograd;
using BinaryGrad.Cli;
using BinaryGrad.Cli.Commands;
using BinaryGrad.Cli.Training;
using BinaryGrad.Kernels;
using BinaryGrad.Layers;
using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Layers.Inference;

/// <summary>The inference model's chunked forward (each thread takes a few images through the whole network on its own
/// copy of the layers) against the training framework's evaluation forward of the same 1W/1A network, and its steady
/// state: a warm forward allocates nothing.</summary>
[TestFixture, Category("Kernels")]
public class ChunkedForwardTests
{
    private static (Module Net, InferenceModel Inference, int[] Shape) Build(string model, string scheme = "bnn")
    {
        string dataset = model is "mlp" or "cnn" ? "mnist" : "cifar10";
        BinaryGrad.Datasets.ImageDataset shape = ExportCommand.DatasetShape(dataset);
        var rng = new Rng(7);
        Module net = ModelFactory.Create(new TrainOptions { Model = model, Scheme = SchemeChoice.ForModel(scheme), Dataset = dataset }, shape, rng);
        BenchInfer.RandomizeBatchNorms(net, rng);
        var inference = InferenceModel.FromModule(net, shape.Channels, shape.Height, shape.Width, shape.ClassCount, dataset);
        return (net, inference, [shape.Channels, shape.Height, shape.Width]);
    }

    private static T WithThreads<T>(int threads, Func<T> body)
    {
        using var threadsScope = KernelThreadsScope.Set(threads);
        return body();
    }

    /// <summary>7 images in chunks of 2 (a tail of 1) on 2 threads, and the whole batch on 1: the logits equal the
    /// evaluation forward's bit for bit (every layer computes an image from that image alone, in an order that does not
    /// depend on how many images share the call). VGG-Small 1W/32A runs its ±1-filter convolutions by table look-up in
    /// both (the stacked groups differ with the chunk, the sums do not).</summary>
    [TestCase("mlp"), TestCase("cnn"), TestCase("vgg-small"), TestCase("resnet20"), TestCase("vgg-small", "binaryconnect")]
    public void ChunkedLogits_EqualTheFrameworkEvaluation(string model, string scheme = "bnn")
    {
        (Module net, InferenceModel inference, int[] shape) = Build(model, scheme);
        const int batch = 7;
        Tensor x = Tensor.Uniform([batch, .. shape], new Rng(3), -2, 2);
        net.Eval();
        float[] expected;
        using (GradMode.NoGrad()) expected = net.Forward(x).ToArray<float>();
        float[] images = x.ToArray<float>();
        inference.ImagesPerChunk = 2;
        float[] chunked = WithThreads(2, () => inference.Forward(images, batch));
        inference.ImagesPerChunk = 0;
        float[] whole = WithThreads(1, () => inference.Forward(images, batch));
        Assert.That(chunked, Is.EqualTo(expected), "chunked");
        Assert.That(whole, Is.EqualTo(expected), "whole batch");
    }

    /// <summary>The chunk size follows the widest activation: a CIFAR ResNet-20 (16×32×32 floats in and out, 128 KB an
    /// image) gets 4 images per chunk in 512 KB; the MLP's activations are small, so a batch of 128 fits in one chunk per
    /// thread and runs whole; one thread never chunks.</summary>
    [Test]
    public void ChunkSize_FollowsTheWidestActivation()
    {
        Assert.That(WithThreads(2, () => Build("resnet20").Inference.ChunkSizeFor(128)), Is.EqualTo(4));
        Assert.That(WithThreads(2, () => Build("mlp").Inference.ChunkSizeFor(128)), Is.EqualTo(0));
        Assert.That(WithThreads(1, () => Build("resnet20").Inference.ChunkSizeFor(128)), Is.EqualTo(0));
        Assert.That(WithThreads(2, () => Build("resnet20").Inference.ChunkSizeFor(8)), Is.EqualTo(0), "one chunk per thread: nothing to gain");
    }

    /// <summary>Once warm, <see cref="InferenceModel.Predict(ReadOnlySpan{float}, Span{int})"/> allocates nothing, chunked
    /// (with a tail chunk: 10 images in chunks of 4) or whole, on two threads, on every SIMD path.</summary>
    /// <remarks>
    /// <para>Counted on our own threads — the caller and the kernel workers inside their parts
    /// (<see cref="KernelThreads.AllocatedBytesOnWorkers"/>) — since the process-wide count also sees the test host's
    /// threads, which allocate while they report earlier results (168 B per forward was seen in CI).</para>
    /// <para>Five warm forwards are measured and the fewest bytes must be zero: anything of ours that allocates per
    /// forward (a buffer, an activation object, a closure) does so in all five. Within the full suite a single forward
    /// of the five has now and then allocated once (128 B – 0.5 MB, one in several runs, not reproducible alone);
    /// chunk buffers handed to whichever thread came first were one such cause, fixed (ranges keep their slot).</para>
    /// </remarks>
    [TestCase("mlp", 4), TestCase("cnn", 4), TestCase("vgg-small", 4), TestCase("resnet20", 4), TestCase("resnet20", 0)]
    [NonParallelizable]
    public void WarmPredict_AllocatesNothing(string model, int imagesPerChunk)
    {
        (_, InferenceModel inference, int[] shape) = Build(model);
        inference.ImagesPerChunk = imagesPerChunk;
        const int batch = 10;
        float[] images = Tensor.Uniform([batch, .. shape], new Rng(4), -2, 2).ToArray<float>();
        var predictions = new int[batch];
        long[] allocated = WithThreads(2, () =>
        {
            for (int i = 0; i < 3; i++) inference.Predict(images, predictions);
            var bytes = new long[5];
            for (int i = 0; i < bytes.Length; i++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread() + KernelThreads.AllocatedBytesOnWorkers();
                inference.Predict(images, predictions);
                bytes[i] = GC.GetAllocatedBytesForCurrentThread() + KernelThreads.AllocatedBytesOnWorkers() - before;
            }
            return bytes;
        });
        Assert.That(allocated.Min(), Is.Zero, $"bytes allocated by each of five warm forwards: {string.Join(", ", allocated)}");
    }
}
