using System.Numerics.Tensors;
using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Layers.Inference;

/// <summary>Values flowing between inference layers: float NCHW / [N,F], or signs packed channels-last
/// ([N][H][W][WordsPerPixel(C)], <see cref="BitPack"/>) when a binary convolution feeds another one, or packed rows
/// ([N][WordsPerRow(F)]) when a binary dense layer feeds another one. Between two
/// Bi-Real units the floats may be channels-last too (<see cref="ChannelsLast"/>), only ever read by the next unit.</summary>
public sealed class Activation
{
    private Activation(int[] shape, float[]? floats, ulong[]? bits, bool channelsLast = false) =>
        (Shape, Floats, Bits, ChannelsLast) = (shape, floats, bits, channelsLast);

    /// <summary>Logical shape: [N,C,H,W] or [N,F].</summary>
    public int[] Shape { get; }

    /// <summary>Float values (row-major), or null when packed.</summary>
    public float[]? Floats { get; }

    /// <summary>Packed channels-last signs, or null when only float (both may be set: then they agree).</summary>
    public ulong[]? Bits { get; }

    /// <summary>True when <see cref="Floats"/> are [N][H][W][C] (channels-last) rather than NCHW; <see cref="Shape"/>
    /// stays the logical [N,C,H,W].</summary>
    public bool ChannelsLast { get; }

    public int Batch => Shape[0];

    public static Activation Float(float[] values, params int[] shape) => new(shape, values, null);

    public static Activation Packed(ulong[] bits, params int[] shape) => new(shape, null, bits);

    /// <summary>Float values together with their signs already packed channels-last (a residual stream that feeds both
    /// a shortcut and a binary convolution).</summary>
    public static Activation FloatWithSigns(float[] values, ulong[] bits, params int[] shape) => new(shape, values, bits);

    internal static Activation Create(float[]? values, ulong[]? bits, int[] shape, bool channelsLast = false) => new(shape, values, bits, channelsLast);

    /// <summary>The float values, NCHW; packed signs unpack to ±1, channels-last floats are transposed (a copy).</summary>
    public float[] ToFloats()
    {
        if (Floats is not null && ChannelsLast)
        {
            var planes = new float[Floats.Length];
            XnorConv2D.PlanesFromChannelsLast(Floats, planes, Shape[0], Shape[1], Shape[2] * Shape[3]);
            return planes;
        }
        if (Floats is not null) return Floats;
        var y = new float[Shape.Aggregate(1L, (a, b) => a * b)];
        if (Shape.Length == 2) BitPack.UnpackRows(Bits!, y, Shape[0], Shape[1]);
        else BitPack.UnpackChannelsLast(Bits!, y, Shape[0], Shape[1], Shape[2], Shape[3]);
        return y;
    }
}

/// <summary>Layer kinds of the <c>.bgm</c> format (the byte that starts each layer record).</summary>
public enum InferenceLayerKind : byte
{
    BinaryDense = 1, BinaryConv = 2, Conv = 3, Dense = 4, Affine = 5, MaxPool = 6, HardTanh = 7, ReLU = 8, Flatten = 9,
    Residual = 10, ZeroPadShortcut = 11, GlobalAvgPool = 12, CenteredSign = 13, PReLU = 14,
}

/// <summary>One layer of an <see cref="InferenceModel"/>: its shape rule, its computation and its record in the file.</summary>
public abstract class InferenceLayer
{
    public abstract InferenceLayerKind Kind { get; }

    /// <summary>The output shape for <paramref name="input"/> (batch axis included); throws
    /// <see cref="FormatException"/> naming the layer when the shapes do not fit.</summary>
    public abstract int[] OutputShape(int[] input);

    /// <summary>Computes the layer on a float or packed input.</summary>
    public abstract Activation Run(Activation x);

    /// <summary>Writes the record after the kind byte.</summary>
    internal abstract void Write(BinaryWriter w);

    /// <summary>Stored bytes of weights and per-channel vectors (for the size report).</summary>
    public abstract long ParameterBytes { get; }

    private float[]? _floatOutput, _floatScratch;
    private ulong[]? _bitOutput, _inputBits, _bitScratch;
    private int[]? _intScratch;

    // Storage reused from one forward to the next, so that steady-state forwards allocate nothing: a layer runs once
    // per forward and its output is consumed before it runs again. The contents are stale; every user overwrites
    // all of it. The model serializes forwards (one at a time per model).
    private protected float[] FloatOutput(long length) => Reuse(ref _floatOutput, length);
    private protected float[] FloatScratch(long length) => Reuse(ref _floatScratch, length);
    private protected ulong[] BitOutput(long length) => Reuse(ref _bitOutput, length);
    private protected ulong[] InputBits(long length) => Reuse(ref _inputBits, length);
    private protected ulong[] BitScratch(long length) => Reuse(ref _bitScratch, length);
    private protected int[] IntScratch(long length) => Reuse(ref _intScratch, length);

    private Activation? _result;

    /// <summary>The activation describing this layer's output: the one of the previous forward when it names the same
    /// storage and shape (a warm forward then allocates no activation objects), else a new one.</summary>
    private protected Activation Result(float[]? floats, ulong[]? bits, ReadOnlySpan<int> shape, bool channelsLast = false)
    {
        if (_result is { } r && r.Floats == floats && r.Bits == bits && r.ChannelsLast == channelsLast && shape.SequenceEqual(r.Shape)) return r;
        return _result = Activation.Create(floats, bits, shape.ToArray(), channelsLast);
    }

    private static T[] Reuse<T>(ref T[]? buffer, long length) => buffer is { } b && b.Length == length ? b : (buffer = new T[length]);

    /// <summary>A copy of this layer for another thread: it shares the weights and every derived table (read-only once
    /// built) and has its own reused storage, so copies may run at the same time on different images.</summary>
    internal virtual InferenceLayer CopyForThread()
    {
        var copy = (InferenceLayer)MemberwiseClone();
        (copy._floatOutput, copy._floatScratch) = (null, null);
        (copy._bitOutput, copy._inputBits, copy._bitScratch, copy._intScratch) = (null, null, null, null);
        copy._result = null;
        return copy;
    }

    private protected static FormatException Mismatch(InferenceLayer layer, int[] input, string expected) =>
        new($"{layer}: input [{string.Join(",", input)}] does not fit (expected {expected}).");
}
