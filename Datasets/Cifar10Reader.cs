namespace BinaryGrad.Datasets;

/// <summary>
/// Reads the CIFAR-10 binary format (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html), raw or gzip.
/// </summary>
/// <remarks>
/// <para>A batch file is a plain sequence of 3073-byte records with no header:</para>
/// <code>
/// uint8 label (0..9) | 1024 red | 1024 green | 1024 blue     (each plane row-major 32×32)
/// </code>
/// <para>The official release has 10 000 records per file: <c>data_batch_1.bin</c> … <c>data_batch_5.bin</c> for
/// training and <c>test_batch.bin</c> for testing. The planes are already channel-major, so a record's 3072 pixel
/// bytes are copied unchanged into the NCHW layout of <see cref="ImageDataset"/>.</para>
/// <para>With no header, the file length and the label range are the only structural checks available, so both are
/// enforced.</para>
/// </remarks>
public static class Cifar10Reader
{
    public const int Channels = 3, Height = 32, Width = 32;
    public const int PixelBytesPerRecord = Channels * Height * Width;
    public const int RecordBytes = 1 + PixelBytesPerRecord;
    public const int RecordsPerOfficialFile = 10_000;

    /// <summary>The ten classes, in label order.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Reads and concatenates batch files, in the order given.</summary>
    /// <param name="paths">Batch files, for example the five <c>data_batch_*.bin</c>.</param>
    /// <param name="name">The <see cref="ImageDataset.Name"/> of the result.</param>
    /// <param name="recordsPerFile">Required record count per file, or null to accept any whole number of records
    /// (the official files have <see cref="RecordsPerOfficialFile"/>).</param>
    /// <exception cref="DatasetException">A file is unreadable, empty, not a whole number of records, has the wrong
    /// record count, or holds a label above 9.</exception>
    public static ImageDataset Read(IReadOnlyList<string> paths, string name, int? recordsPerFile = RecordsPerOfficialFile)
    {
        var files = new List<(string Path, byte[] Content)>(paths.Count);
        long totalRecords = 0;
        foreach (string path in paths)
        {
            byte[] content = DatasetFileBytes.ReadAll(path);
            totalRecords += CheckStructure(content, path, recordsPerFile);
            files.Add((path, content));
        }
        if (totalRecords * PixelBytesPerRecord > Array.MaxLength)
            throw new DatasetException($"{name}: {totalRecords} records do not fit in one array");

        var pixels = new byte[totalRecords * PixelBytesPerRecord];
        var labels = new byte[totalRecords];
        int item = 0;
        foreach ((string path, byte[] content) in files)
            for (int offset = 0; offset < content.Length; offset += RecordBytes, item++)
            {
                labels[item] = content[offset];
                content.AsSpan(offset + 1, PixelBytesPerRecord).CopyTo(pixels.AsSpan(item * PixelBytesPerRecord));
            }
        return new ImageDataset(name, Channels, Height, Width, pixels, labels, ClassNames);
    }

    /// <summary>Validates one file's length and labels; returns its record count.</summary>
    internal static int CheckStructure(byte[] content, string fileName, int? recordsPerFile)
    {
        string expected = recordsPerFile is int n
            ? $"{n} records of {RecordBytes} bytes (1 label + 3×32×32 pixels) = {(long)n * RecordBytes} bytes"
            : $"a whole number of {RecordBytes}-byte records (1 label + 3×32×32 pixels)";
        if (content.Length == 0 || content.Length % RecordBytes != 0
            || (recordsPerFile is int required && content.Length != (long)required * RecordBytes))
            throw new DatasetException($"{fileName}: wrong size: expected {expected}, file has {content.Length} bytes");

        int records = content.Length / RecordBytes;
        for (int r = 0; r < records; r++)
        {
            byte label = content[r * RecordBytes];
            if (label >= ClassNames.Count)
                throw new DatasetException(
                    $"{fileName}: label {label} at byte {(long)r * RecordBytes} (record {r}) is out of range: expected 0..{ClassNames.Count - 1}");
        }
        return records;
    }
}
