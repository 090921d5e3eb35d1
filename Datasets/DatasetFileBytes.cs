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

    /// <summary>The largest data file read, raw or decompressed (256 MiB; the largest official file, MNIST's training
    /// images, is 47 MB), so a forged header or a gzip bomb cannot exhaust memory.</summary>
    public const long MaxBytes = 256L << 20;

    /// <summary>Returns the (decompressed) content of <paramref name="path"/>, streamed from a regular file.</summary>
    /// <exception cref="DatasetException">The file is missing, empty or not a regular file (a device or pipe), larger
    /// than <see cref="MaxBytes"/> (raw or decompressed), or the gzip stream is corrupt.</exception>
    public static byte[] ReadAll(string path)
    {
        byte[] raw;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new DatasetException($"{path}: cannot read: the file does not exist");
            // devices and pipes report length 0 and never end (or block on open); refused before opening
            if (info.Length == 0) throw new DatasetException($"{path}: is empty or not a regular file (a device, pipe or socket)");
            if (info.Length > MaxBytes) throw new DatasetException($"{path}: {info.Length} bytes is larger than any data file ({MaxBytes} bytes at most)");
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            raw = new byte[info.Length];
            stream.ReadExactly(raw);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"{path}: cannot read: {e.Message}", e);
        }
        return IsGzip(raw) ? Gunzip(raw, path) : raw;
    }

    /// <summary>Decompresses, stopping with an error once the output passes <see cref="MaxBytes"/>.</summary>
    public static byte[] Gunzip(byte[] compressed, string nameForErrors)
    {
        try
        {
            using var input = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
            using var output = new MemoryStream(capacity: (int)Math.Min(MaxBytes, compressed.Length * 4L));
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = input.Read(buffer)) > 0)
            {
                if (output.Length + n > MaxBytes)
                    throw new DatasetException($"{nameForErrors}: decompresses to more than {MaxBytes} bytes, larger than any data file; stopped there");
                output.Write(buffer, 0, n);
            }
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new DatasetException($"{nameForErrors}: corrupt gzip data: {e.Message}", e);
        }
    }
}
