using BinaryGrad.Kernels;

namespace BinaryGrad.Layers.Inference;

public sealed partial class InferenceModel
{
    /// <summary>Bytes of activations one chunk of images may keep live per thread: half of a 1 MB L2 (Zen 4 and Zen 5
    /// have 1 MB per core), leaving the rest to the packed weights and the kernels' tables.</summary>
    internal const long ChunkBudgetBytes = 512 * 1024;

    /// <summary>Images per chunk when the batch is split across threads: −1 (default) chooses (<see cref="ChunkSize"/>),
    /// 0 runs the whole batch at once with every kernel on all threads. For tests.</summary>
    internal int ImagesPerChunk { get; set; } = -1;

    private Slot[]? _slots;

    /// <summary>One thread's copies of the layers and its input storage: full-size chunks and the shorter tail chunk
    /// run on separate copies, so each keeps storage of one size and a warm forward allocates no arrays.</summary>
    private sealed class Slot(IReadOnlyList<InferenceLayer> full, IReadOnlyList<InferenceLayer> tail)
    {
        public IReadOnlyList<InferenceLayer> Full { get; } = full;
        public IReadOnlyList<InferenceLayer> Tail { get; } = tail;
        public float[] FullInput = [], TailInput = [];
        public Activation? FullActivation, TailActivation;
        public InferenceTiming? Timing;
    }

    /// <summary>Logits of <paramref name="batch"/> images into <paramref name="logits"/> ([batch × Classes]).</summary>
    /// <remarks>
    /// <para><b>Why chunks.</b> Run layer by layer over a whole batch, every activation of a CIFAR ResNet is several MB
    /// (64 KB per image at 16 channels, 8 MB at batch 128), so each binary convolution, batch-norm store and residual
    /// add streams it from memory, and the narrow layers spend more time moving activations than counting bits
    /// (docs/inference.md). Here the batch is cut into chunks of a few images (<see cref="ChunkSize"/>: the widest
    /// activation of a chunk, in and out, fits in <see cref="ChunkBudgetBytes"/>), and each thread takes whole chunks
    /// through the whole network on its own copy of the layers (<see cref="InferenceLayer.CopyForThread"/>), its
    /// kernels running single-threaded (a kernel call made inside a <see cref="KernelThreads"/> range runs inline), so
    /// each image's activations stay in that core's L2 from the first layer to the last.</para>
    /// <para><b>Same logits.</b> Every layer computes an image's outputs from that image alone, in an order that does not
    /// depend on the batch size or the thread count (tests compare chunked and whole-batch logits bit for bit).</para>
    /// </remarks>
    private unsafe void RunBatch(ReadOnlySpan<float> images, float[] logits, int batch, InferenceTiming? timing)
    {
        int chunk = ChunkSize(batch);
        if (chunk == 0)
        {
            if (_wholeInput?.Length != images.Length) _wholeInput = new float[images.Length];
            images.CopyTo(_wholeInput);
            if (_wholeActivation?.Floats != _wholeInput) _wholeActivation = Activation.Float(_wholeInput, batch, Channels, Height, Width);
            RunLayers(Layers, _wholeActivation, timing).ToFloats().AsSpan(0, logits.Length).CopyTo(logits);
            return;
        }
        int chunks = (batch + chunk - 1) / chunk;
        int parts = Math.Min(KernelThreads.Count, chunks);
        if (_slots is null || _slots.Length < parts)
        {
            var slots = new Slot[parts];
            for (int p = 0; p < parts; p++)
                slots[p] = _slots is not null && p < _slots.Length ? _slots[p]
                    : new Slot(CopyLayers(Layers), CopyLayers(Layers));
            _slots = slots;
        }
        foreach (Slot slot in _slots) slot.Timing = timing is null ? null : new InferenceTiming();
        fixed (float* pin = images)
            KernelThreads.For(chunks, 1, new ChunksBody(this, pin, batch, chunk, logits));
        // The breakdown is per batch of wall time: the threads ran side by side, so their mean is what the batch took.
        if (timing is not null)
            for (int p = 0; p < parts; p++) timing.Add(_slots[p].Timing!, parts);
    }

    private float[]? _wholeInput;

    /// <summary>One thread's range of chunks [first, end): each through the whole network on that thread's slot.</summary>
    private readonly unsafe struct ChunksBody(InferenceModel model, float* images, int batch, int chunk, float[] logits) : KernelThreads.IRangeBody
    {
        public void Run(int first, int end)
        {
            // A range keeps its slot from call to call (its buffers fit its chunks, the tail's included), whichever
            // thread runs it; handing slots out first come, first served made a warm forward allocate a tail chunk's
            // buffers again whenever the other thread started first.
            int chunks = (batch + chunk - 1) / chunk;
            Slot slot = model._slots![KernelThreads.RangeIndex(chunks, 1, first)];
            int imageLength = model.Channels * model.Height * model.Width, classes = model.Classes;
            for (int c = first; c < end; c++)
            {
                int start = c * chunk, count = Math.Min(chunk, batch - start);
                bool isTail = count != chunk;
                ref float[] input = ref isTail ? ref slot.TailInput : ref slot.FullInput;
                ref Activation? activation = ref isTail ? ref slot.TailActivation : ref slot.FullActivation;
                if (input.Length != count * imageLength) input = new float[count * imageLength];
                if (activation?.Floats != input) activation = Activation.Float(input, count, model.Channels, model.Height, model.Width);
                new ReadOnlySpan<float>(images + (nint)start * imageLength, count * imageLength).CopyTo(input);
                float[] y = RunLayers(isTail ? slot.Tail : slot.Full, activation, slot.Timing).ToFloats();
                y.AsSpan(0, count * classes).CopyTo(logits.AsSpan(start * classes, count * classes));
            }
        }
    }
    private Activation? _wholeActivation;

    private static InferenceLayer[] CopyLayers(IReadOnlyList<InferenceLayer> layers) => [.. layers.Select(layer => layer.CopyForThread())];

    /// <summary>Images per chunk for a batch, or 0 to run the whole batch layer by layer: on one thread, or when the
    /// batch does not give every thread more than one chunk.</summary>
    /// <remarks>A chunk holds the images whose widest activation, input and output, fits in
    /// <see cref="ChunkBudgetBytes"/>, but at least <see cref="MinImagesPerChunk"/>: below that, the kernels' per-call
    /// set-up (packing filters into lanes, border tables) is repeated too often (VGG-Small at batch 128 and 2 threads,
    /// Zen 5: 1 227 img/s with 1-image chunks, 1 368 whole-batch, 1 431 with 4-image chunks; ResNet-20: 3 115
    /// whole-batch, 3 435 with chunks of 4, 3 264 with chunks of 32).</remarks>
    private int ChunkSize(int batch)
    {
        int threads = KernelThreads.Count;
        int chunk = ImagesPerChunk >= 0 ? ImagesPerChunk : threads <= 1 ? 0 : (int)Math.Clamp(ChunkBudgetBytes / Math.Max(1, WidestImageBytes), MinImagesPerChunk, int.MaxValue);
        return chunk == 0 || (long)chunk * threads >= batch ? 0 : chunk;
    }

    /// <summary><see cref="ChunkSize"/>, for tests.</summary>
    internal int ChunkSizeFor(int batch) => ChunkSize(batch);

    /// <summary>See <see cref="ChunkSize"/>.</summary>
    internal const int MinImagesPerChunk = 4;

    /// <summary>The largest input + output bytes of one image at any top-level layer (float32).</summary>
    private long WidestImageBytes => _widestImageBytes ??= ComputeWidestImageBytes();
    private long? _widestImageBytes;

    private long ComputeWidestImageBytes()
    {
        long widest = 0, inputBytes = (long)Channels * Height * Width * sizeof(float);
        int[] shape = [1, Channels, Height, Width];
        foreach (InferenceLayer layer in Layers)
        {
            shape = layer.OutputShape(shape);
            long outputBytes = shape.Aggregate(1L, (a, b) => a * b) * sizeof(float);
            widest = Math.Max(widest, inputBytes + outputBytes);
            inputBytes = outputBytes;
        }
        return widest;
    }
}
