namespace BinaryGrad.Datasets;

/// <summary>Which part of a data set to load.</summary>
public enum DatasetSplit { Train, Test }

/// <summary>One file of a data set, as stored (uncompressed) in the data directory.</summary>
/// <param name="FileName">Name in the data directory, e.g. <c>train-images-idx3-ubyte</c>.</param>
/// <param name="Length">Exact uncompressed size in bytes.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the uncompressed file, or null when no official checksum is known
/// (CIFAR-10's individual batch files: only the release tarball's checksum is published).</param>
/// <param name="Split">The split the file belongs to.</param>
public sealed record DatasetFileSpec(string FileName, long Length, string? Sha256, DatasetSplit Split);

/// <summary>How a data set's files are laid out.</summary>
public enum DatasetFormat
{
    /// <summary>Per split, two IDX files: images first, then labels (<see cref="IdxReader"/>).</summary>
    Idx,
    /// <summary>Per split, one or more CIFAR-10 batch files (<see cref="Cifar10Reader"/>); record count = length / 3073.</summary>
    Cifar10Binary,
    /// <summary>Embedded in this assembly; no files (<see cref="Datasets.Digits"/>).</summary>
    EmbeddedDigits,
}

/// <summary>A data set <see cref="DatasetStore"/> knows how to find, verify and read.</summary>
/// <param name="Key">Canonical name: <c>mnist</c>, <c>fashion-mnist</c>, <c>cifar10</c> or <c>digits</c>; also the
/// sub-directory of the data directory that holds its files.</param>
/// <param name="Files">Every file of the data set (empty for the embedded digits).</param>
/// <param name="ClassNames">Class names in label order.</param>
/// <param name="Format">How to read the files.</param>
public sealed record DatasetInfo(string Key, IReadOnlyList<DatasetFileSpec> Files, IReadOnlyList<string> ClassNames,
                                 DatasetFormat Format)
{
    /// <summary>The files one split needs, in reading order.</summary>
    public IEnumerable<DatasetFileSpec> FilesFor(DatasetSplit split) => Files.Where(f => f.Split == split);
}

/// <summary>The data sets BinaryGrad knows, with the sizes and SHA-256 of their official files
/// (as published with the official downloads).</summary>
public static class DatasetCatalog
{
    private const long MnistTrainImages = 47_040_016, MnistTrainLabels = 60_008, MnistTestImages = 7_840_016, MnistTestLabels = 10_008;

    public static DatasetInfo Mnist { get; } = new("mnist",
    [
        new("train-images-idx3-ubyte", MnistTrainImages, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", DatasetSplit.Train),
        new("train-labels-idx1-ubyte", MnistTrainLabels, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", DatasetSplit.Train),
        new("t10k-images-idx3-ubyte", MnistTestImages, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", DatasetSplit.Test),
        new("t10k-labels-idx1-ubyte", MnistTestLabels, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", DatasetSplit.Test),
    ], ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], DatasetFormat.Idx);

    /// <summary>Fashion-MNIST (Xiao, Rasul &amp; Vollgraf 2017): MNIST's format and sizes, Zalando article images.</summary>
    public static DatasetInfo FashionMnist { get; } = new("fashion-mnist",
    [
        new("train-images-idx3-ubyte", MnistTrainImages, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", DatasetSplit.Train),
        new("train-labels-idx1-ubyte", MnistTrainLabels, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", DatasetSplit.Train),
        new("t10k-images-idx3-ubyte", MnistTestImages, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", DatasetSplit.Test),
        new("t10k-labels-idx1-ubyte", MnistTestLabels, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", DatasetSplit.Test),
    ], ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"], DatasetFormat.Idx);

    /// <summary>CIFAR-10 binary version. Only the tarball has a published checksum
    /// (<see cref="Cifar10TarballSha256"/>), so the batch files carry none and are checked structurally.</summary>
    public static DatasetInfo Cifar10 { get; } = new("cifar10",
    [
        .. Enumerable.Range(1, 5).Select(i => new DatasetFileSpec($"data_batch_{i}.bin", CifarFileBytes, null, DatasetSplit.Train)),
        new("test_batch.bin", CifarFileBytes, null, DatasetSplit.Test),
    ], Cifar10Reader.ClassNames, DatasetFormat.Cifar10Binary);

    /// <summary>UCI optical digits, embedded in the assembly (see <see cref="Datasets.Digits"/>).</summary>
    public static DatasetInfo Digits { get; } = new("digits", [], ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
                                                    DatasetFormat.EmbeddedDigits);

    /// <summary>SHA-256 of the official <c>cifar-10-binary.tar.gz</c> (170 052 171 bytes).</summary>
    public const string Cifar10TarballSha256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd";

    private const long CifarFileBytes = (long)Cifar10Reader.RecordsPerOfficialFile * Cifar10Reader.RecordBytes;

    public static IReadOnlyList<DatasetInfo> All { get; } = [Mnist, FashionMnist, Cifar10, Digits];

    /// <summary>Looks a data set up by name, ignoring case, '-' and '_' (so <c>Fashion_MNIST</c> and <c>cifar-10</c> work).</summary>
    /// <exception cref="ArgumentException">No data set has that name; the message lists the known ones.</exception>
    public static DatasetInfo Get(string name)
    {
        static string Simplify(string s) => s.Replace("-", "").Replace("_", "").ToLowerInvariant();
        return All.FirstOrDefault(d => Simplify(d.Key) == Simplify(name))
            ?? throw new ArgumentException(
                $"Unknown data set '{name}': expected one of {string.Join(", ", All.Select(d => d.Key))}.", nameof(name));
    }
}
