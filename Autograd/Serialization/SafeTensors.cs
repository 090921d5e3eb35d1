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

    /// <summary>Writes <paramref name="tensors"/> (float32 as F32, float64 as F64) and <paramref name="metadata"/> atomically.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, tensor) in tensors)
        {
            if (name == "__metadata__") throw new ArgumentException("safetensors: '__metadata__' is reserved and cannot name a tensor.");
            byte[] bytes = tensor.DType == DType.Float32
                ? MemoryMarshal.AsBytes(tensor.Contiguous().AsSpan<float>()).ToArray()
                : MemoryMarshal.AsBytes(tensor.Contiguous().AsSpan<double>()).ToArray();
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian machine.");
            header[name] = new JsonObject
            {
                ["dtype"] = tensor.DType == DType.Float32 ? "F32" : "F64",
                ["shape"] = new JsonArray([.. tensor.Shape.ToArray().Select(d => (JsonNode)d)]),
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            offset += bytes.Length;
            blobs.Add(bytes);
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8; // the format allows trailing spaces; 8-byte alignment helps mmap readers
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
                stream.Write(length);
                stream.Write(json);
                for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
                foreach (byte[] blob in blobs) stream.Write(blob);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>Reads every tensor (F32 and F64; F16/BF16/integers are rejected with a message) and the metadata.</summary>
    /// <exception cref="SafeTensorsException">The file is truncated, its header is not valid, or an entry is inconsistent.</exception>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Load(string path)
    {
        byte[] file;
        try { file = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SafeTensorsException($"{path}: cannot read checkpoint: {e.Message}");
        }
        if (file.Length < 8) throw new SafeTensorsException($"{path}: truncated at byte {file.Length}: a safetensors file starts with an 8-byte header length.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength > MaxHeaderBytes || headerLength > (ulong)(file.Length - 8))
            throw new SafeTensorsException($"{path}: header length {headerLength} at byte 0 exceeds the file's remaining {file.Length - 8} bytes; not a safetensors file or truncated.");
        JsonObject header;
        try { header = JsonNode.Parse(Encoding.UTF8.GetString(file, 8, (int)headerLength))?.AsObject() ?? throw new JsonException("empty header"); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            throw new SafeTensorsException($"{path}: the JSON header at byte 8 is not valid: {e.Message}");
        }
        long dataStart = 8 + (long)headerLength, dataLength = file.Length - dataStart;
        var tensors = new Dictionary<string, Tensor>();
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
                    || entry["dtype"] is not JsonValue dtypeNode
                    || entry["shape"] is not JsonArray shapeNode
                    || entry["data_offsets"] is not JsonArray { Count: 2 } offsets
                    || offsets[0] is null || offsets[1] is null
                    || shapeNode.Any(d => d is null))
                    throw new FormatException("missing or malformed dtype, shape or data_offsets");
                string dtype = dtypeNode.GetValue<string>();
                int[] shape = [.. shapeNode.Select(d => d!.GetValue<int>())];
                long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
                int elementSize = dtype switch
                {
                    "F32" => 4,
                    "F64" => 8,
                    _ => throw new SafeTensorsException($"{path}: tensor '{name}' has dtype {dtype}; BinaryGrad reads F32 and F64."),
                };
                long expected = (long)Shapes.ElementCount(shape) * elementSize;
                if (begin < 0 || end < begin || end > dataLength || end - begin != expected)
                    throw new SafeTensorsException(
                        $"{path}: tensor '{name}' {Shapes.Format(shape)} {dtype} needs {expected} bytes but its data_offsets [{begin}, {end}) " +
                        $"lie {(end > dataLength ? $"past the end of the {dataLength}-byte data section (file truncated?)" : "inconsistently")}, at byte {dataStart + begin}.");
                ReadOnlySpan<byte> bytes = file.AsSpan((int)(dataStart + begin), (int)expected);
                Tensor t = dtype == "F32"
                    ? new Tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray(), shape)
                    : new Tensor(MemoryMarshal.Cast<byte, double>(bytes).ToArray(), shape);
                t.Name = name;
                tensors[name] = t;
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
            {
                throw new SafeTensorsException($"{path}: header entry '{name}' is not of the form {{dtype, shape, data_offsets}}: {e.Message}");
            }
        }
        return (tensors, metadata);
    }
}
