using System.IO.Compression;
using System.Security.Cryptography;

namespace BinaryGrad.Datasets;

/// <summary>Checksums and the atomic install of verified files into the data directory.</summary>
internal static class FileVerification
{
    public static string Sha256Of(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Checks a file already in place against its spec: exact size, then SHA-256 when one is known.</summary>
    /// <exception cref="DatasetException">Size or checksum differ.</exception>
    public static void Verify(string path, DatasetFileSpec spec, string advice)
    {
        long length = new FileInfo(path).Length;
        if (length != spec.Length)
            throw new DatasetException($"{path}: wrong size: expected {spec.Length} bytes, file has {length}; {advice}");
        if (spec.Sha256 is null) return;
        string actual = Sha256Of(path);
        if (actual != spec.Sha256)
            throw new DatasetException($"{path}: SHA-256 mismatch: expected {spec.Sha256}, found {actual}; {advice}");
    }

    /// <summary>Copies <paramref name="source"/> (raw or gzip, detected by content) uncompressed to
    /// <paramref name="destination"/> through a temporary file in the same directory, verifying it before the rename,
    /// so the destination is either absent, the old file, or a complete verified file — never a partial one.</summary>
    /// <exception cref="DatasetException">The content fails its size, checksum or structural check.</exception>
    public static void InstallVerified(string source, string destination, DatasetFileSpec spec, string origin)
    {
        string temporary = Path.Combine(Path.GetDirectoryName(destination)!, $".{spec.FileName}.{Guid.NewGuid():N}.partial");
        try
        {
            using (FileStream input = File.OpenRead(source))
            using (FileStream output = File.Create(temporary))
            {
                Span<byte> magic = stackalloc byte[2];
                int read = input.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
                input.Position = 0;
                Stream content = DatasetFileBytes.IsGzip(magic[..read]) ? new GZipStream(input, CompressionMode.Decompress) : input;
                try { CopyAtMost(content, output, spec.Length + 1); }
                catch (InvalidDataException e) { throw new DatasetException($"{source} (from {origin}): corrupt gzip data: {e.Message}", e); }
                if (output.Length > spec.Length)
                    throw new DatasetException($"{source} (from {origin}): holds more than the {spec.Length} bytes of {spec.FileName}; stopped decompressing there (not the expected file)");
            }
            Verify(temporary, spec, $"the copy from {origin} is not the expected {spec.FileName}");
            if (spec.Sha256 is null)
                Cifar10Reader.CheckStructure(File.ReadAllBytes(temporary), $"{spec.FileName} (from {origin})",
                                             (int)(spec.Length / Cifar10Reader.RecordBytes));
            File.Move(temporary, destination, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>Copies at most <paramref name="limit"/> bytes: decompression stops one byte past the catalog's size, so a
    /// gzip bomb costs at most that much disk, never its full expansion.</summary>
    private static void CopyAtMost(Stream input, Stream output, long limit)
    {
        byte[] buffer = new byte[1 << 16];
        long copied = 0;
        while (copied < limit)
        {
            int n = input.Read(buffer, 0, (int)Math.Min(buffer.Length, limit - copied));
            if (n == 0) break;
            output.Write(buffer, 0, n);
            copied += n;
        }
    }

    /// <summary>Writes text to <paramref name="destination"/> atomically (temporary file, then rename).</summary>
    public static void WriteAllTextAtomic(string destination, string text)
    {
        string temporary = destination + $".{Guid.NewGuid():N}.partial";
        File.WriteAllText(temporary, text);
        File.Move(temporary, destination, overwrite: true);
    }
}
