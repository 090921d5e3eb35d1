using System.Runtime.ExceptionServices;

namespace BinaryGrad.Datasets;

/// <summary>How a <see cref="DataLoader"/> forms batches.</summary>
public sealed record DataLoaderOptions
{
    /// <summary>Images per batch (the last batch of an epoch may be smaller unless <see cref="DropLast"/>).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Visit the images in a fresh seeded random order each epoch; otherwise in data set order.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Seeds shuffling and augmentation; the same seed gives the same batches on every machine.</summary>
    public ulong Seed { get; init; }

    /// <summary>Skip the final partial batch, so every batch has exactly <see cref="BatchSize"/> images
    /// (useful when batch statistics, as in batch norm, are noisy for tiny batches).</summary>
    public bool DropLast { get; init; }

    /// <summary>Byte-to-float conversion; defaults to scaling to [0, 1].</summary>
    public Normalization Normalization { get; init; } = Normalization.UnitRange;

    /// <summary>Zero padding for random crops (4 is standard for CIFAR-10); 0 disables cropping.</summary>
    public int RandomCropPadding { get; init; }

    /// <summary>Mirror each image left-right with probability 1/2 (wrong for digits; standard for CIFAR-10).</summary>
    public bool RandomHorizontalFlip { get; init; }

    /// <summary>Prepare the next batch on a background task while the caller works on the current one.</summary>
    public bool Prefetch { get; init; } = true;
}

/// <summary>
/// Turns an <see cref="ImageDataset"/> into epochs of float mini-batches: seeded shuffling, optional augmentation,
/// normalization into reusable buffers, and background prefetch of the next batch.
/// </summary>
/// <remarks>
/// <para><b>Reproducibility.</b> Each call to <see cref="Epoch"/> draws one 64-bit epoch seed from the loader's
/// <see cref="Xoshiro256"/> and derives everything in the epoch from it: the permutation, and for batch b a generator
/// seeded from (epoch seed, b) for that batch's crops and flips. The loader's state therefore advances by exactly one
/// draw per epoch however far the epoch is consumed, and a batch's content does not depend on prefetching or on which
/// batch the epoch started from. To checkpoint mid-epoch, save <see cref="EpochStartState"/> and the index of the next
/// batch; to resume, set <see cref="RandomState"/> to the saved state and call <c>Epoch(startBatch: index)</c>.</para>
/// <para><b>Memory.</b> The loader owns two <see cref="Batch"/> buffers. Without prefetch it fills one and yields it.
/// With prefetch, one producer task fills the buffers alternately, at most two batches ahead (double buffering): it
/// refills a buffer only after the consumer has moved past it. Steady state allocates nothing per batch.</para>
/// <para>A yielded batch is valid until the enumerator advances. Enumerate one epoch at a time, with <c>foreach</c> (so
/// that an early <c>break</c> disposes the enumerator, which stops the producer).</para>
/// </remarks>
public sealed class DataLoader
{
    private readonly Batch[] _buffers;
    private Xoshiro256 _rng;
    private int _activeEpochs;

    /// <exception cref="ArgumentException">The options do not fit the data set (batch size not positive, negative padding,
    /// or a normalization for a different number of channels).</exception>
    public DataLoader(ImageDataset dataset, DataLoaderOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BatchSize, nameof(options.BatchSize));
        ArgumentOutOfRangeException.ThrowIfNegative(options.RandomCropPadding, nameof(options.RandomCropPadding));
        int normalizationChannels = options.Normalization.Mean.Length;
        if (normalizationChannels != 1 && normalizationChannels != dataset.Channels)
            throw new ArgumentException(
                $"The normalization has {normalizationChannels} channels but {dataset.Name} has {dataset.Channels}.", nameof(options));
        Dataset = dataset;
        Options = options;
        int capacity = Math.Min(options.BatchSize, Math.Max(dataset.Count, 1));
        _buffers = [new Batch(capacity, dataset.Channels, dataset.Height, dataset.Width),
                    new Batch(capacity, dataset.Channels, dataset.Height, dataset.Width)];
        _rng = new Xoshiro256(options.Seed);
        EpochStartState = _rng.State;
    }

    /// <summary>A loader for evaluation: data set order, every image exactly once (last batch partial), no augmentation.</summary>
    public static DataLoader ForEvaluation(ImageDataset dataset, int batchSize, Normalization normalization) =>
        new(dataset, new DataLoaderOptions { BatchSize = batchSize, Shuffle = false, Normalization = normalization });

    public ImageDataset Dataset { get; }
    public DataLoaderOptions Options { get; }

    /// <summary>Batches one epoch yields: ⌈N/B⌉, or ⌊N/B⌋ with <see cref="DataLoaderOptions.DropLast"/>.</summary>
    public int BatchesPerEpoch => Options.DropLast
        ? Dataset.Count / Options.BatchSize
        : (int)(((long)Dataset.Count + Options.BatchSize - 1) / Options.BatchSize); // in long: N + B − 1 overflows int for B near 2³¹

    /// <summary>The generator state the next <see cref="Epoch"/> call starts from. Set it to replay an epoch.</summary>
    public RandomState RandomState
    {
        get => _rng.State;
        set => _rng = new Xoshiro256(value);
    }

    /// <summary>The generator state the most recent <see cref="Epoch"/> call started from (save this in a mid-epoch
    /// checkpoint).</summary>
    public RandomState EpochStartState { get; private set; }

    /// <summary>Starts an epoch: fixes its order now, and yields batches <paramref name="startBatch"/> onwards.</summary>
    /// <param name="startBatch">First batch to yield, for resuming an interrupted epoch; earlier batches are skipped
    /// without being computed.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="startBatch"/> is outside [0, BatchesPerEpoch].</exception>
    /// <exception cref="InvalidOperationException">A previous epoch of this loader is still being enumerated.</exception>
    public IEnumerable<Batch> Epoch(int startBatch = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(startBatch);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(startBatch, BatchesPerEpoch);
        if (Volatile.Read(ref _activeEpochs) != 0)
            throw new InvalidOperationException(
                $"An epoch of the {Dataset.Name} loader is still running: finish or dispose its enumerator before starting another (they share batch buffers).");

        EpochStartState = _rng.State;
        ulong epochSeed = _rng.NextUInt64();
        int[] order = [.. Enumerable.Range(0, Dataset.Count)];
        if (Options.Shuffle) new Xoshiro256(epochSeed).Shuffle(order);
        return Options.Prefetch ? Prefetched(order, epochSeed, startBatch) : Sequential(order, epochSeed, startBatch);
    }

    private IEnumerable<Batch> Sequential(int[] order, ulong epochSeed, int startBatch)
    {
        Interlocked.Increment(ref _activeEpochs);
        try
        {
            for (int b = startBatch; b < BatchesPerEpoch; b++)
            {
                Fill(_buffers[0], order, epochSeed, b);
                yield return _buffers[0];
            }
        }
        finally { Interlocked.Decrement(ref _activeEpochs); }
    }

    private IEnumerable<Batch> Prefetched(int[] order, ulong epochSeed, int startBatch)
    {
        Interlocked.Increment(ref _activeEpochs);
        int batchCount = BatchesPerEpoch;
        using var freeBuffers = new SemaphoreSlim(_buffers.Length);
        using var filledBuffers = new SemaphoreSlim(0);
        using var stop = new CancellationTokenSource();
        ExceptionDispatchInfo? producerFailure = null;
        Task producer = Task.Run(() =>
        {
            try
            {
                for (int b = startBatch; b < batchCount; b++)
                {
                    freeBuffers.Wait(stop.Token);
                    Fill(_buffers[b % _buffers.Length], order, epochSeed, b);
                    filledBuffers.Release();
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
            catch (Exception e)
            {
                producerFailure = ExceptionDispatchInfo.Capture(e);
                filledBuffers.Release(); // wake the consumer so it rethrows instead of waiting forever
            }
        });
        try
        {
            for (int b = startBatch; b < batchCount; b++)
            {
                filledBuffers.Wait();
                producerFailure?.Throw();
                yield return _buffers[b % _buffers.Length];
                freeBuffers.Release(); // the consumer is done with this buffer: the producer may refill it
            }
        }
        finally
        {
            stop.Cancel();
            producer.Wait();
            Interlocked.Decrement(ref _activeEpochs);
        }
    }

    /// <summary>Writes batch <paramref name="batchIndex"/> of the epoch into <paramref name="batch"/>.</summary>
    private void Fill(Batch batch, int[] order, ulong epochSeed, int batchIndex)
    {
        int first = batchIndex * Options.BatchSize;
        int count = Math.Min(Options.BatchSize, Dataset.Count - first);
        int imageSize = Dataset.ImageSize, padding = Options.RandomCropPadding;
        bool augment = padding > 0 || Options.RandomHorizontalFlip;
        // One generator per batch, seeded from (epoch, batch): a batch's augmentation is independent of which batches
        // were computed before it, which is what makes resuming and prefetching exact.
        var rng = new Xoshiro256(epochSeed ^ (0x9E3779B97F4A7C15UL * (ulong)(batchIndex + 1)));
        for (int i = 0; i < count; i++)
        {
            int item = order[first + i];
            ReadOnlySpan<byte> image = Dataset.Image(item);
            if (augment)
            {
                int offsetY = padding > 0 ? rng.NextInt(2 * padding + 1) : 0;
                int offsetX = padding > 0 ? rng.NextInt(2 * padding + 1) : 0;
                bool flip = Options.RandomHorizontalFlip && rng.NextBool();
                Augmentation.CropAndFlip(image, batch.AugmentedImage, Dataset.Channels, Dataset.Height, Dataset.Width,
                                         padding, offsetY, offsetX, flip);
                image = batch.AugmentedImage;
            }
            Options.Normalization.Apply(image, Dataset.Channels, batch.Images.AsSpan(i * imageSize, imageSize));
            batch.Labels[i] = Dataset.Labels[item];
        }
        batch.Count = count;
        batch.Index = batchIndex;
    }
}
