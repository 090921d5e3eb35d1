using System.Formats.Tar;
using System.IO.Compression;
using BinaryGrad.Datasets;
using NUnit.Framework;

namespace BinaryGrad.Tests.Datasets;

[TestFixture, Category("Datasets")]
public class Cifar10TarballTests
{
    private DatasetTestFiles _files = null!;

    [SetUp] public void SetUp() => _files = new DatasetTestFiles();
    [TearDown] public void TearDown() => _files.Dispose();

    /// <summary>A tarball laid out like the official one (cifar-10-batches-bin/…) with one tiny record per file.</summary>
    private byte[] Tarball(bool withTestBatch = true)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gzip))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "cifar-10-batches-bin/"));
            var names = DatasetCatalog.Cifar10.Files.Select(f => f.FileName).Where(n => withTestBatch || n != "test_batch.bin");
            foreach ((string name, int i) in names.Append("batches.meta.txt").Select((n, i) => (n, i)))
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"cifar-10-batches-bin/{name}")
                {
                    DataStream = new MemoryStream(DatasetTestFiles.CifarRecords(1, firstItem: i)),
                });
        }
        return output.ToArray();
    }

    [Test]
    public void ExtractVerified_WritesTheSixBatchFilesFlatAndAManifestOfTheirChecksums()
    {
        byte[] tarball = Tarball();
        string path = _files.Write(Cifar10Tarball.FileName, tarball), destination = Directory.CreateDirectory(_files.PathOf("out")).FullName;

        Cifar10Tarball.ExtractVerified(path, destination, DatasetTestFiles.Sha256(tarball));

        string[] manifest = File.ReadAllLines(Path.Combine(destination, DatasetStore.OfficialReleaseManifestName));
        Assert.Multiple(() =>
        {
            Assert.That(Directory.GetFiles(destination).Select(Path.GetFileName).Order(), Is.EqualTo(new[]
            {
                "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin",
                DatasetStore.OfficialReleaseManifestName, "test_batch.bin",
            }));
            Assert.That(File.ReadAllBytes(Path.Combine(destination, "data_batch_2.bin")), Is.EqualTo(DatasetTestFiles.CifarRecords(1, firstItem: 1)));
            Assert.That(manifest, Does.Contain($"{DatasetTestFiles.Sha256(DatasetTestFiles.CifarRecords(1, firstItem: 5))}  test_batch.bin"));
        });
    }

    [Test]
    public void ExtractVerified_ChecksumMismatch_ExtractsNothing()
    {
        string path = _files.Write(Cifar10Tarball.FileName, Tarball()), destination = Directory.CreateDirectory(_files.PathOf("out")).FullName;
        Assert.That(() => Cifar10Tarball.ExtractVerified(path, destination), Throws.TypeOf<DatasetException>()
            .With.Message.StartsWith($"{path}: SHA-256 mismatch: expected {DatasetCatalog.Cifar10TarballSha256} (official cifar-10-binary.tar.gz), found "));
        Assert.That(Directory.GetFiles(destination), Is.Empty);
    }

    [Test]
    public void ExtractVerified_MissingBatchFile_IsNamed()
    {
        byte[] tarball = Tarball(withTestBatch: false);
        string path = _files.Write(Cifar10Tarball.FileName, tarball), destination = Directory.CreateDirectory(_files.PathOf("out")).FullName;
        Assert.That(() => Cifar10Tarball.ExtractVerified(path, destination, DatasetTestFiles.Sha256(tarball)),
                    Throws.TypeOf<DatasetException>().With.Message.Contains("archive lacks test_batch.bin"));
    }

    [Test]
    public void Load_UnofficialTarballInDataDirectory_IsAChecksumError()
    {
        _files.Write($"cifar10/{Cifar10Tarball.FileName}", Tarball());
        Assert.That(() => new DatasetStore(_files.Root, []).Load("cifar10", DatasetSplit.Test),
                    Throws.TypeOf<DatasetException>().With.Message.Contains("SHA-256 mismatch"));
    }
}
