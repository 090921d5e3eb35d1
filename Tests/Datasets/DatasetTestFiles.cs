using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using BinaryGrad.Datasets;

namespace BinaryGrad.Tests.Datasets;

/// <summary>Generates tiny data set files in a per-test temporary directory.</summary>
internal sealed class DatasetTestFiles : IDisposable
{
    public DatasetTestFiles() => Directory.CreateDirectory(Root);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "binarygrad-datasets-tests-" + Guid.NewGuid().ToString("N"));

    public string PathOf(string relative) => Path.Combine(Root, relative);

    public string Write(string relative, byte[] content, bool gzip = false)
    {
        string path = PathOf(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, gzip ? Gzip(content) : content);
        return path;
    }

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }

    /// <summary>Pixel (n, y, x) = (n·31 + y·7 + x) mod 256: every image distinct, every position identifiable.</summary>
    public static byte[] IdxImages(int count, int rows, int columns, int magic = IdxReader.ImagesMagic)
    {
        var bytes = new byte[16 + count * rows * columns];
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(0), magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), columns);
        for (int n = 0; n < count; n++)
            for (int y = 0; y < rows; y++)
                for (int x = 0; x < columns; x++)
                    bytes[16 + (n * rows + y) * columns + x] = (byte)(n * 31 + y * 7 + x);
        return bytes;
    }

    public static byte[] IdxLabels(params byte[] labels)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(0), IdxReader.LabelsMagic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), labels.Length);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    /// <summary>CIFAR records with label i mod 10 and pixel bytes (i + k) mod 256 for pixel k.</summary>
    public static byte[] CifarRecords(int count, int firstItem = 0)
    {
        var bytes = new byte[count * Cifar10Reader.RecordBytes];
        for (int i = 0; i < count; i++)
        {
            int item = firstItem + i, offset = i * Cifar10Reader.RecordBytes;
            bytes[offset] = (byte)(item % 10);
            for (int k = 0; k < Cifar10Reader.PixelBytesPerRecord; k++) bytes[offset + 1 + k] = (byte)(item + k);
        }
        return bytes;
    }

    public static byte[] Gzip(byte[] content)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest)) gzip.Write(content);
        return output.ToArray();
    }

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>A small labelled data set held only in memory: image n is filled with the byte n, label n mod classes.</summary>
    public static ImageDataset InMemory(int count, int channels = 1, int height = 2, int width = 2, int classes = 10)
    {
        int size = channels * height * width;
        var pixels = new byte[count * size];
        for (int n = 0; n < count; n++) pixels.AsSpan(n * size, size).Fill((byte)n);
        byte[] labels = [.. Enumerable.Range(0, count).Select(n => (byte)(n % classes))];
        return new ImageDataset("in-memory", channels, height, width, pixels, labels, [.. Enumerable.Range(0, classes).Select(c => c.ToString())]);
    }
}
