using BinaryGrad.Datasets;
using NUnit.Framework;

namespace BinaryGrad.Tests.Datasets;

[TestFixture, Category("Datasets")]
public class DataLoaderTests
{
    // Image n is filled with the byte n (see DatasetTestFiles.InMemory), so with UnitRange normalization the first
    // float of each image identifies which item it is: item = round(value·255).
    private static int[] ItemsOf(Batch batch) =>
        [.. Enumerable.Range(0, batch.Count).Select(i => (int)MathF.Round(batch.Images[i * batch.ImageSize] * 255f))];

    private static List<int[]> EpochItems(DataLoader loader, int startBatch = 0) =>
        [.. loader.Epoch(startBatch).Select(ItemsOf)];

    private static DataLoader Loader(int count, int batchSize, ulong seed = 1, bool prefetch = true, bool dropLast = false,
                                     bool shuffle = true) =>
        new(DatasetTestFiles.InMemory(count), new DataLoaderOptions
        {
            BatchSize = batchSize, Seed = seed, Prefetch = prefetch, DropLast = dropLast, Shuffle = shuffle,
        });

    [TestCase(true), TestCase(false)]
    public void Epoch_VisitsEveryItemExactlyOnce_LastBatchPartial(bool prefetch)
    {
        DataLoader loader = Loader(count: 23, batchSize: 5, prefetch: prefetch);
        List<int[]> batches = EpochItems(loader);
        Assert.Multiple(() =>
        {
            Assert.That(batches.Select(b => b.Length), Is.EqualTo(new[] { 5, 5, 5, 5, 3 }));
            Assert.That(batches.SelectMany(b => b).Order(), Is.EqualTo(Enumerable.Range(0, 23)));
            Assert.That(loader.BatchesPerEpoch, Is.EqualTo(5));
        });
    }

    [Test]
    public void Epoch_LabelsTravelWithTheirImages()
    {
        DataLoader loader = Loader(count: 23, batchSize: 5);
        foreach (Batch batch in loader.Epoch())
            Assert.That(batch.LabelSpan.ToArray(), Is.EqualTo(ItemsOf(batch).Select(item => item % 10)));
    }

    [Test]
    public void Epoch_DropLast_YieldsOnlyFullBatches()
    {
        DataLoader loader = Loader(count: 23, batchSize: 5, dropLast: true);
        List<int[]> batches = EpochItems(loader);
        Assert.Multiple(() =>
        {
            Assert.That(loader.BatchesPerEpoch, Is.EqualTo(4));
            Assert.That(batches.Select(b => b.Length), Is.EqualTo(new[] { 5, 5, 5, 5 }));
            Assert.That(batches.SelectMany(b => b).Distinct().Count(), Is.EqualTo(20));
        });
    }

    [Test]
    public void Epoch_SameSeed_SameOrder_DifferentSeed_DifferentOrder()
    {
        int[] Order(ulong seed) => [.. EpochItems(Loader(50, 8, seed)).SelectMany(b => b)];
        int[] first = Order(5), again = Order(5), otherSeed = Order(6);
        Assert.Multiple(() =>
        {
            Assert.That(again, Is.EqualTo(first));
            Assert.That(otherSeed, Is.Not.EqualTo(first));
            Assert.That(first, Is.Not.EqualTo(Enumerable.Range(0, 50)), "shuffled");
        });
    }

    [Test]
    public void Epoch_SuccessiveEpochs_AreShuffledDifferently()
    {
        DataLoader loader = Loader(50, 8);
        int[] first = [.. EpochItems(loader).SelectMany(b => b)], second = [.. EpochItems(loader).SelectMany(b => b)];
        Assert.That(second, Is.Not.EqualTo(first));
    }

    [Test]
    public void RandomState_SavedAndRestored_ReplaysTheSameEpoch()
    {
        DataLoader loader = Loader(50, 8);
        EpochItems(loader);
        RandomState saved = loader.RandomState;
        List<int[]> expected = EpochItems(loader);
        EpochItems(loader);

        DataLoader fresh = Loader(50, 8, seed: 999);
        fresh.RandomState = saved;
        Assert.That(EpochItems(fresh), Is.EqualTo(expected));
    }

    [Test]
    public void EpochStartState_ResumingMidEpoch_GivesTheRemainingBatches()
    {
        var options = new DataLoaderOptions { BatchSize = 4, Seed = 3, RandomCropPadding = 1, RandomHorizontalFlip = true };
        ImageDataset data = DatasetTestFiles.InMemory(30, height: 3, width: 3);
        var original = new DataLoader(data, options);
        var completed = new List<float[]>();
        RandomState checkpoint = default;
        foreach (Batch batch in original.Epoch())
        {
            completed.Add(batch.ImageSpan.ToArray());
            if (batch.Index == 2) checkpoint = original.EpochStartState; // "checkpoint" after batch 2
        }

        var resumed = new DataLoader(data, options) { RandomState = checkpoint };
        List<float[]> rest = [.. resumed.Epoch(startBatch: 3).Select(b => b.ImageSpan.ToArray())];
        Assert.That(rest, Is.EqualTo(completed.Skip(3)));
    }

    [Test]
    public void Prefetch_GivesIdenticalBatchesToNoPrefetch_WithAugmentation()
    {
        ImageDataset data = DatasetTestFiles.InMemory(37, channels: 3, height: 4, width: 4);
        List<(float[] Images, int[] Labels)> Run(bool prefetch)
        {
            var loader = new DataLoader(data, new DataLoaderOptions
            {
                BatchSize = 6, Seed = 11, Prefetch = prefetch, RandomCropPadding = 2, RandomHorizontalFlip = true,
                Normalization = Normalization.Cifar10,
            });
            return [.. Enumerable.Range(0, 2).SelectMany(_ => loader.Epoch()).Select(b => (b.ImageSpan.ToArray(), b.LabelSpan.ToArray()))];
        }
        Assert.That(Run(prefetch: true), Is.EqualTo(Run(prefetch: false)));
    }

    [Test]
    public void Augmentation_ProducesZeroPaddedCropsAndFlips_OfTheOriginalPixels()
    {
        // One 1×2×2 image with distinct pixels; with padding 1 every output pixel is 0 or one of the originals,
        // and over many epochs both a flipped and a shifted version appear.
        var data = new ImageDataset("one", 1, 2, 2, [10, 20, 30, 40], [0], ["only"]);
        var loader = new DataLoader(data, new DataLoaderOptions
        {
            BatchSize = 1, RandomCropPadding = 1, RandomHorizontalFlip = true, Prefetch = false,
        });
        var seen = new HashSet<string>();
        for (int epoch = 0; epoch < 200; epoch++)
            foreach (Batch batch in loader.Epoch())
                seen.Add(string.Join(",", batch.ImageSpan.ToArray().Select(v => (int)MathF.Round(v * 255))));
        Assert.Multiple(() =>
        {
            Assert.That(seen, Does.Contain("10,20,30,40"), "identity");
            Assert.That(seen, Does.Contain("20,10,40,30"), "flip");
            Assert.That(seen, Does.Contain("0,0,10,20"), "crop at (0, 1): shifted down");
            Assert.That(seen, Has.Count.EqualTo(18), "9 windows × 2 flips, all distinct for this image");
        });
    }

    [Test]
    public void ForEvaluation_YieldsTheWholeSetInOrder_Normalized()
    {
        var loader = DataLoader.ForEvaluation(DatasetTestFiles.InMemory(7), batchSize: 3, Normalization.UnitRange);
        Assert.That(EpochItems(loader), Is.EqualTo(new[] { new[] { 0, 1, 2 }, [3, 4, 5], [6] }));
    }

    [TestCase(false), TestCase(true)]
    public void Epoch_ReusesTwoBuffers_AndAllocatesNothingPerBatch(bool prefetch)
    {
        var data = DatasetTestFiles.InMemory(2000, channels: 3, height: 8, width: 8);
        var loader = new DataLoader(data, new DataLoaderOptions
        {
            BatchSize = 10, RandomCropPadding = 2, RandomHorizontalFlip = true, Prefetch = prefetch,
        });
        var buffers = new HashSet<float[]>(ReferenceEqualityComparer.Instance);
        foreach (Batch batch in loader.Epoch()) buffers.Add(batch.Images); // warm-up epoch (JIT, thread pool)

        // Counted on this thread only: process-wide counters also see the test runner and background JIT. Without
        // prefetch this thread does all the work (shuffle, augment, normalize); with it, it is the consumer side.
        long before = GC.GetAllocatedBytesForCurrentThread();
        foreach (Batch batch in loader.Epoch()) buffers.Add(batch.Images);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Multiple(() =>
        {
            Assert.That(buffers, Has.Count.EqualTo(prefetch ? 2 : 1), "reused buffers");
            // Per epoch: the order (8 KB for 2000 items) plus enumerator, task and semaphores; 200 batches add nothing.
            Assert.That(allocated, Is.LessThan(8_100 + 4_000));
        });
    }

    [Test]
    public void Epoch_BreakingEarly_StopsTheProducerSoTheNextEpochCanStart()
    {
        DataLoader loader = Loader(100, 3);
        foreach (Batch batch in loader.Epoch()) if (batch.Index == 1) break;
        Assert.That(EpochItems(loader).SelectMany(b => b).Order(), Is.EqualTo(Enumerable.Range(0, 100)));
    }

    [Test]
    public void Epoch_WhileAnotherIsRunning_IsRejected()
    {
        DataLoader loader = Loader(10, 3);
        using IEnumerator<Batch> first = loader.Epoch().GetEnumerator();
        first.MoveNext();
        Assert.That(() => loader.Epoch(), Throws.InvalidOperationException.With.Message.Contains("still running"));
    }

    [Test]
    public void Constructor_NormalizationForOtherChannelCount_IsRejected() =>
        Assert.That(() => new DataLoader(DatasetTestFiles.InMemory(4), new DataLoaderOptions { Normalization = Normalization.Cifar10 }),
                    Throws.ArgumentException.With.Message.Contains("3 channels"));
}
