using System.Text;
using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Layers.Inference;

/// <summary>The <c>.bgm</c> file: writing, reading and bounding a model (format in <see cref="InferenceModel"/>'s remarks).</summary>
public sealed partial class InferenceModel
{
    // ---- file -----------------------------------------------------------------------------------------------

    /// <summary>Writes the model to <paramref name="path"/> atomically (temporary file, then rename), with its checksum.</summary>
    public void Save(string path)
    {
        using var body = new MemoryStream();
        using (var w = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(Channels); w.Write(Height); w.Write(Width); w.Write(Classes);
            byte[] name = Encoding.UTF8.GetBytes(Dataset);
            w.Write(name.Length); w.Write(name);
            w.Write(Layers.Count);
            foreach (InferenceLayer layer in Layers)
            {
                w.Write((byte)layer.Kind);
                layer.Write(w);
            }
            w.Write(EndMarker);
        }
        byte[] hash = System.Security.Cryptography.SHA256.HashData(body.GetBuffer().AsSpan(0, (int)body.Length));
        Autograd.Serialization.AtomicFile.Write(path, stream =>
        {
            stream.Write(body.GetBuffer(), 0, (int)body.Length);
            stream.Write(hash);
        });
    }

    /// <summary>Reads a model written by <see cref="Save"/>.</summary>
    /// <exception cref="FormatException">The file is not a <c>.bgm</c> model, has another version, is truncated or
    /// inconsistent; the message starts with the path.</exception>
    public static InferenceModel Load(string path)
    {
        byte[] bytes;
        try
        {
            using FileStream stream = Autograd.Serialization.InputFile.OpenRegular(path, "a .bgm inference model written by 'binarygrad export'");
            if (stream.Length > MaxFileBytes) throw new FormatException($"{path}: {stream.Length} bytes is larger than any .bgm model ({MaxFileBytes} bytes at most).");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (IOException e) { throw new FormatException(e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message : $"{path}: {e.Message}", e); }
        try
        {
            var r = new BgmReader(bytes);
            if (bytes.Length < Magic.Length || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
                throw new FormatException("not a BinaryGrad inference model (bad magic; expected \"BGMODEL\\x1A\").");
            r.Skip(Magic.Length);
            uint version = r.UInt();
            if (version == 1) throw new FormatException("format version 1 carries no checksum and is no longer read; export the checkpoint again with 'binarygrad export'.");
            if (version != Version) throw new FormatException($"format version {version} is not supported (this build reads version {Version}).");
            if (bytes.Length < 12 + ChecksumBytes) throw new FormatException($"truncated at byte {bytes.Length}: a version {Version} file ends with a {ChecksumBytes}-byte SHA-256.");
            byte[] stored = bytes[^ChecksumBytes..];
            bytes = bytes[..^ChecksumBytes];
            if (!System.Security.Cryptography.SHA256.HashData(bytes).AsSpan().SequenceEqual(stored))
                throw new FormatException($"the SHA-256 of bytes 0..{bytes.Length} does not match the one stored in the last {ChecksumBytes} bytes: the file is truncated or corrupted.");
            r = new BgmReader(bytes);
            r.Skip(Magic.Length + 4);
            int channels = r.Size("channels"), height = r.Size("height"), width = r.Size("width"), classes = r.Size("classes");
            string dataset = r.String();
            int count = r.Count("layer count");
            var layers = new List<InferenceLayer>(Math.Min(count, 1024));
            for (int i = 0; i < count; i++) layers.Add(ReadLayer(r, $"layer {i}", 0));
            if (!r.Remaining.SequenceEqual(EndMarker))
                throw new FormatException(r.Remaining.Length < EndMarker.Length ? "truncated (end marker missing)." : "unexpected bytes after the last layer.");
            if ((long)channels * height * width > MaxActivation)
                throw new FormatException($"input {channels}×{height}×{width} has more than {MaxActivation} values per image.");
            CheckBounds(layers, [1, channels, height, width]);
            return new InferenceModel(channels, height, width, classes, dataset, layers);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            throw new FormatException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>The largest .bgm file read (1 GiB; a binary ResNet-18 is about 2 MB).</summary>
    private const long MaxFileBytes = 1L << 30;
    /// <summary>Values per image any layer may produce or pad its input to (2²⁶ = 64 Mi floats, 256 MiB).</summary>
    private const long MaxActivation = 1L << 26;
    /// <summary>Comparisons or multiply-adds per image any one pooling or convolution layer may need (2³²).</summary>
    private const long MaxWorkPerImage = 1L << 32;

    /// <summary>Walks the layers from <paramref name="shape"/> and refuses, before any buffer is allocated or any loop
    /// runs, a layer whose padded input or output exceeds <see cref="MaxActivation"/> values per image or whose
    /// windows need more than <see cref="MaxWorkPerImage"/> steps (kernel² per output value), and a padding larger
    /// than half the window (PyTorch's rule, which every exported model meets). So a small file cannot ask for
    /// gigabytes (padding 20000) or minutes of work (a window of 2²⁸ − 1).</summary>
    private static int[] CheckBounds(IReadOnlyList<InferenceLayer> layers, int[] shape)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            InferenceLayer layer = layers[i];
            (int kernel, int padding, int outChannelsFactor) = layer switch
            {
                MaxPoolLayer p => (p.KernelSize, p.Padding, 1),
                ConvLayer c => (c.KernelSize * c.Dilation, c.Padding, c.InChannels),
                BinaryConvLayer b => (b.KernelSize, b.Padding, b.InChannels),
                _ => (0, 0, 0),
            };
            if (kernel > 0)
            {
                if (padding > kernel / 2)
                    throw new FormatException($"layer {i} ({layer}): padding {padding} is more than half its window {kernel}.");
                if (shape.Length == 4 && ((long)shape[2] + 2L * padding) * ((long)shape[3] + 2L * padding) * shape[1] > MaxActivation)
                    throw new FormatException($"layer {i} ({layer}): its padded input {shape[1]}×{(long)shape[2] + 2L * padding}×{(long)shape[3] + 2L * padding} exceeds {MaxActivation} values per image.");
            }
            if (layer is ResidualLayer residual)
            {
                CheckBounds(residual.Main, shape);
                if (residual.Shortcut.Count > 0) CheckBounds(residual.Shortcut, shape);
            }
            int[] next = layer.OutputShape(shape);
            long values = 1;
            foreach (int d in next.AsSpan(1)) values = d <= 0 ? throw new FormatException($"layer {i} ({layer}) gives the empty shape [{string.Join(",", next)}].") : Math.Min(values * d, long.MaxValue / 1024);
            if (values > MaxActivation) throw new FormatException($"layer {i} ({layer}) gives [{string.Join(",", next)}], more than {MaxActivation} values per image.");
            if (kernel > 0 && values * kernel * (long)kernel * outChannelsFactor > MaxWorkPerImage)
                throw new FormatException($"layer {i} ({layer}): {values} outputs × a {kernel}×{kernel} window need more than {MaxWorkPerImage} steps per image.");
            shape = next;
        }
        return shape;
    }

    /// <summary>How deep residual layers may nest in a file (a bound for the reader's recursion).</summary>
    internal const int MaxNesting = 4;

    /// <summary>Reads one layer record (kind byte, then the record); <paramref name="depth"/> counts the residual
    /// layers around it.</summary>
    internal static InferenceLayer ReadLayer(BgmReader r, string what, int depth)
    {
        byte kind = r.Byte();
        return (InferenceLayerKind)kind switch
        {
            InferenceLayerKind.BinaryDense => BinaryDenseLayer.Read(r),
            InferenceLayerKind.BinaryConv => BinaryConvLayer.Read(r),
            InferenceLayerKind.Conv => ConvLayer.Read(r),
            InferenceLayerKind.Dense => DenseLayer.Read(r),
            InferenceLayerKind.Affine => AffineLayer.Read(r),
            InferenceLayerKind.MaxPool => MaxPoolLayer.Read(r),
            InferenceLayerKind.HardTanh => HardTanhLayer.Read(r),
            InferenceLayerKind.ReLU => new ReLULayer(),
            InferenceLayerKind.Flatten => new FlattenLayer(),
            InferenceLayerKind.Residual => ResidualLayer.Read(r, depth),
            InferenceLayerKind.ZeroPadShortcut => ZeroPadShortcutLayer.Read(r),
            InferenceLayerKind.GlobalAvgPool => new GlobalAvgPoolLayer(),
            InferenceLayerKind.CenteredSign => new CenteredSignLayer(),
            InferenceLayerKind.PReLU => PReLULayer.Read(r),
            _ => throw new FormatException($"{what} has unknown kind {kind}."),
        };
    }
}

/// <summary>Bounds-checked little-endian reader over a <c>.bgm</c> file's bytes; every failure is a one-line
/// <see cref="FormatException"/>.</summary>
internal sealed class BgmReader(byte[] bytes)
{
    private const int MaxElements = 1 << 28;
    private int _position;

    public ReadOnlySpan<byte> Remaining => bytes.AsSpan(_position);

    private ReadOnlySpan<byte> Take(int n, string what)
    {
        if (n < 0 || bytes.Length - _position < n)
            throw new FormatException($"truncated: {what} needs {n} bytes at offset {_position}, {bytes.Length - _position} left.");
        ReadOnlySpan<byte> s = bytes.AsSpan(_position, n);
        _position += n;
        return s;
    }

    public void Skip(int n) => Take(n, "header");
    public byte Byte() => Take(1, "a byte")[0];
    public bool Bool() => Byte() switch { 0 => false, 1 => true, var b => throw new FormatException($"flag byte {b} at offset {_position - 1} is not 0 or 1.") };
    public uint UInt() => BitConverter.ToUInt32(Take(4, "a uint32"));
    public float Float() => BitConverter.ToSingle(Take(4, "a float32"));
    private int Int(string what) => BitConverter.ToInt32(Take(4, what));

    /// <summary>A positive size ≤ 2²⁸.</summary>
    public int Size(string what)
    {
        int v = Int(what);
        return v is >= 1 and <= MaxElements ? v : throw new FormatException($"{what} {v} at offset {_position - 4} is out of range.");
    }

    /// <summary>A non-negative count ≤ 2²⁸.</summary>
    public int Count(string what)
    {
        int v = Int(what);
        return v is >= 0 and <= MaxElements ? v : throw new FormatException($"{what} {v} at offset {_position - 4} is out of range.");
    }

    public string String()
    {
        int n = Count("string length");
        return Encoding.UTF8.GetString(Take(n, "a string"));
    }

    public float[] Floats(int expected)
    {
        int n = Count("vector length");
        if (n != expected) throw new FormatException($"vector of {n} values at offset {_position - 4}, expected {expected}.");
        float[] v = new float[n];
        Take(checked(n * 4), "a float32 vector").CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()));
        return v;
    }

    public float[]? OptionalFloats(int expected) => Bool() ? Floats(expected) : null;

    /// <summary>Reads <paramref name="rows"/> tight rows of <paramref name="tight"/> words into rows of
    /// <paramref name="stride"/> words (the padding words zero).</summary>
    public ulong[] PackedRows(int rows, int stride, int tight)
    {
        ReadOnlySpan<byte> raw = Take(checked(rows * tight * 8), "packed weights");
        var packed = new ulong[checked((long)rows * stride)];
        for (int r = 0; r < rows; r++)
            raw.Slice(r * tight * 8, tight * 8).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(packed.AsSpan(r * stride, tight)));
        return packed;
    }
}

/// <summary>Writers shared by the layer records.</summary>
internal static class BgmIo
{
    public static void WriteFloats(BinaryWriter w, float[] v)
    {
        w.Write(v.Length);
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()));
    }

    public static void WriteOptional(BinaryWriter w, float[]? v)
    {
        w.Write(v is not null);
        if (v is not null) WriteFloats(w, v);
    }

    /// <summary>Writes the first <paramref name="tight"/> words of each <paramref name="stride"/>-word row.</summary>
    public static void WritePackedRows(BinaryWriter w, ulong[] packed, int rows, int stride, int tight)
    {
        for (int r = 0; r < rows; r++)
            w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(packed.AsSpan(r * stride, tight)));
    }
}
