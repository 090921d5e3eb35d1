using System.IO.Compression;

namespace BinaryGrad.Datasets;

/// <summary>Reads a whole data file into memory, transparently decompressing gzip.</summary>
/// <remarks>
/// Gzip is recognised by its magic bytes <c>1F 8B</c> (RFC 1952), never by the file name: mirrors ship the
/// same content as <c>name</c>, <c>name.gz</c>, or gzip without the suffix. Neither IDX (magic
/// <c>00 00 08 ..</c>) nor CIFAR-10 (first byte a label 0–9) can start with <c>1F 8B</c>, so the test is unambiguous.
/// </remarks>
internal static class DatasetFileBytes
{
    public static bool IsGzip(ReadOnlySpan<byte> firstBytes) =>
        firstBytes.Length >= 2 && firstBytes[0] == 0x1F && firstBytes[1] == 0x8B;

    /// <summary>Returns the (decompressed) content of <paramref name="path"/>.</summary>
    /// <exception cref="DatasetException">The file is missing or the gzip stream is corrupt.</exception>
    public static byte[] ReadAll(string path)
    {
        byte[] raw;
        try { raw = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"{path}: cannot read: {e.Message}", e);
        }
        return IsGzip(raw) ? Gunzip(raw, path) : raw;
    }

    public static byte[] Gunzip(byte[] compressed, string nameForErrors)
    {
        try
        {
            using var input = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
            using var output = new MemoryStream(capacity: compressed.Length * 4);
            input.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new DatasetException($"{nameForErrors}: corrupt gzip data: {e.Message}", e);
        }
    }
}
