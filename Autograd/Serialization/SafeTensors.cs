using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BinaryGrad.Autograd.Serialization;

/// <summary>Thrown when a safetensors file is malformed; the message names the file, the byte offset and what
/// was expected.</summary>
public sealed class SafeTensorsException(string message) : Exception(message);

/// <summary>Reads and writes the <a href="https://github.com/huggingface/safetensors">safetensors</a> format, so a
/// BinaryGrad checkpoint opens in PyTorch/NumPy tools: an 8-byte little-endian header length, a UTF-8 JSON header
/// mapping each name to <c>{dtype, shape, data_offsets}</c> (plus an optional <c>__metadata__</c> string map), then
/// the raw little-endian tensor bytes.</summary>
/// <remarks>Files are written to a temporary file beside the target and renamed over it, so a crash mid-write
/// never leaves a truncated checkpoint behind: the previous file stays intact until the new one is complete.</remarks>
public static class SafeTensors
{
    private const int MaxHeaderBytes = 100 * 1024 * 1024;

    /// <summary>The <c>__metadata__</c> key holding the lowercase hex SHA-256 of the data section (every byte after
    /// the header), written by <see cref="Save"/> and verified by <see cref="Load"/> whenever present. Other safetensors
    /// readers ignore it; <c>tail -c +$((9 + header length)) file | sha256sum</c> recomputes it.</summary>
    public const string ChecksumKey = "sha256";

    /// <summary>Writes <paramref name="tensors"/> (float32 as F32, float64 as F64) and <paramref name="metadata"/>
    /// atomically (<see cref="AtomicFile"/>), adding <see cref="ChecksumKey"/>.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian machine.");
        var header = new JsonObject();
        var blobs = new List<(string Name, byte[] Bytes, Tensor Tensor)>();
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var (name, tensor) in tensors)
        {
            if (name == "__metadata__") throw new ArgumentException("safetensors: '__metadata__' is reserved and cannot name a tensor.");
            byte[] bytes = tensor.DType == DType.Float32
                ? MemoryMarshal.AsBytes(tensor.Contiguous().AsSpan<float>()).ToArray()
                : MemoryMarshal.AsBytes(tensor.Contiguous().AsSpan<double>()).ToArray();
            sha.AppendData(bytes);
            blobs.Add((name, bytes, tensor));
        }
        var meta = new JsonObject();
        if (metadata is not null)
            foreach (var (k, v) in metadata)
                if (k != ChecksumKey) meta[k] = v;
        meta[ChecksumKey] = Convert.ToHexStringLower(sha.GetHashAndReset());
        header["__metadata__"] = meta;
        long offset = 0;
        foreach (var (name, bytes, tensor) in blobs)
        {
            header[name] = new JsonObject
            {
                ["dtype"] = tensor.DType == DType.Float32 ? "F32" : "F64",
                ["shape"] = new JsonArray([.. tensor.Shape.ToArray().Select(d => (JsonNode)d)]),
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            offset += bytes.Length;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8; // the format allows trailing spaces; 8-byte alignment helps mmap readers
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
            stream.Write(length);
            stream.Write(json);
            for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
            foreach (var blob in blobs) stream.Write(blob.Bytes);
        });
    }

    /// <summary>Reads every tensor (F32 and F64; F16/BF16/integers are rejected with a message) and the metadata.</summary>
    /// <remarks>The file is streamed: the header length is checked against the file's length before the header is
    /// read, every entry's offsets are checked before any tensor is allocated, the tensors must tile the data section
    /// exactly (no gap, no overlap, no trailing bytes — so a header length off by one is refused), and when the
    /// metadata carries <see cref="ChecksumKey"/> the data section's SHA-256 must match it.</remarks>
    /// <exception cref="SafeTensorsException">The file is not a regular file, is truncated, its header is not valid,
    /// an entry is inconsistent, or the checksum does not match.</exception>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Load(string path)
    {
        try
        {
            using FileStream stream = InputFile.OpenRegular(path, "a safetensors checkpoint");
            return ReadFrom(stream, path);
        }
        catch (IOException e)
        {
            throw new SafeTensorsException(e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message : $"{path}: cannot read checkpoint: {e.Message}");
        }
    }

    private static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) ReadFrom(FileStream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8) throw new SafeTensorsException($"{path}: truncated at byte {fileLength}: a safetensors file starts with an 8-byte header length.");
        Span<byte> lengthBytes = stackalloc byte[8];
        InputFile.ReadExactly(stream, lengthBytes, path, "the header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength < 2 || headerLength > MaxHeaderBytes || headerLength > (ulong)(fileLength - 8))
            throw new SafeTensorsException($"{path}: header length {headerLength} at byte 0 is not between 2 and the file's remaining {Math.Min(fileLength - 8, MaxHeaderBytes)} bytes; not a safetensors file or truncated.");
        byte[] headerBytes = new byte[headerLength];
        InputFile.ReadExactly(stream, headerBytes, path, "the JSON header");
        JsonObject header;
        try
        {
            string text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(headerBytes);
            header = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false })?.AsObject()
                ?? throw new JsonException("empty header");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException or DecoderFallbackException)
        {
            throw new SafeTensorsException($"{path}: the JSON header at byte 8 is not valid: {e.Message}");
        }
        long dataStart = 8 + (long)headerLength, dataLength = fileLength - dataStart;
        var entries = new List<(string Name, string DType, int[] Shape, long Begin, long End)>();
        var metadata = new Dictionary<string, string>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is not JsonObject meta || meta.Any(kv => kv.Value is not JsonValue value || value.GetValueKind() != JsonValueKind.String))
                    throw new SafeTensorsException($"{path}: '__metadata__' in the header at byte 8 must map names to strings.");
                foreach (var (k, v) in meta) metadata[k] = v!.GetValue<string>();
                continue;
            }
            try
            {
                // Every field is checked explicitly: a malformed header must produce a message, never a NullReference.
                if (node is not JsonObject entry
                    || entry["dtype"] is not JsonValue dtypeNode || dtypeNode.GetValueKind() != JsonValueKind.String
                    || entry["shape"] is not JsonArray shapeNode
                    || entry["data_offsets"] is not JsonArray { Count: 2 } offsets
                    || offsets[0] is null || offsets[1] is null
                    || shapeNode.Any(d => d is null))
                    throw new FormatException("missing or malformed dtype, shape or data_offsets");
                string dtype = dtypeNode.GetValue<string>();
                int[] shape = [.. shapeNode.Select(d => d!.GetValue<int>())];
                if (shape.Any(d => d < 0)) throw new FormatException($"shape {Shapes.Format(shape)} has a negative dimension");
                long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
                int elementSize = dtype switch
                {
                    "F32" => 4,
                    "F64" => 8,
                    _ => throw new SafeTensorsException($"{path}: tensor '{name}' has dtype {dtype}; BinaryGrad reads F32 and F64."),
                };
                long elements = 1;
                foreach (int d in shape) elements = d == 0 ? 0 : elements > dataLength / d ? dataLength + 1 : elements * d; // saturates past the file
                long expected = elements * elementSize;
                if (elements > Array.MaxLength || begin < 0 || end < begin || end > dataLength || end - begin != expected)
                    throw new SafeTensorsException(
                        $"{path}: tensor '{name}' {Shapes.Format(shape)} {dtype} needs {expected} bytes but its data_offsets [{begin}, {end}) " +
                        $"lie {(end > dataLength ? $"past the end of the {dataLength}-byte data section (file truncated?)" : "inconsistently")}, at byte {dataStart + begin}.");
                entries.Add((name, dtype, shape, begin, end));
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException or OverflowException)
            {
                throw new SafeTensorsException($"{path}: header entry '{name}' is not of the form {{dtype, shape, data_offsets}}: {e.Message}");
            }
        }
        // the tensors must cover the data section exactly once, in some order: a shifted header or a stray byte shows here
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long covered = 0;
        foreach (var e in entries)
        {
            if (e.Begin != covered)
                throw new SafeTensorsException($"{path}: tensor '{e.Name}' starts at data byte {e.Begin} (file byte {dataStart + e.Begin}) but the previous tensor ends at {covered}; the data section must be tiled without gaps or overlaps.");
            covered = e.End;
        }
        if (covered != dataLength)
            throw new SafeTensorsException($"{path}: the tensors cover {covered} bytes but the data section after the {headerLength}-byte header has {dataLength}; header length or file size is wrong.");
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, dtype, shape, begin, end) in entries)
        {
            Tensor t;
            if (dtype == "F32")
            {
                float[] values = new float[(end - begin) / 4];
                InputFile.ReadExactly(stream, MemoryMarshal.AsBytes(values.AsSpan()), path, $"tensor '{name}'");
                sha.AppendData(MemoryMarshal.AsBytes(values.AsSpan()));
                t = new Tensor(values, shape);
            }
            else
            {
                double[] values = new double[(end - begin) / 8];
                InputFile.ReadExactly(stream, MemoryMarshal.AsBytes(values.AsSpan()), path, $"tensor '{name}'");
                sha.AppendData(MemoryMarshal.AsBytes(values.AsSpan()));
                t = new Tensor(values, shape);
            }
            t.Name = name;
            tensors[name] = t;
        }
        string actual = Convert.ToHexStringLower(sha.GetHashAndReset());
        if (metadata.TryGetValue(ChecksumKey, out string? stored) && !string.Equals(stored, actual, StringComparison.OrdinalIgnoreCase))
            throw new SafeTensorsException($"{path}: the data section (bytes {dataStart}..{fileLength}) has SHA-256 {actual}, but the header's __metadata__.{ChecksumKey} is {stored}; the file is corrupted.");
        return (tensors, metadata);
    }
}
