using System.Formats.Tar;
using System.IO.Compression;

namespace BinaryGrad.Datasets;

/// <summary>Unpacks the official <c>cifar-10-binary.tar.gz</c> in managed code (System.Formats.Tar over GZipStream).</summary>
/// <remarks>
/// Only the tarball has a published checksum (<see cref="DatasetCatalog.Cifar10TarballSha256"/>). After verifying it,
/// the batch files are extracted flat and their SHA-256 recorded in <see cref="DatasetStore.OfficialReleaseManifestName"/>,
/// which is how the store later tells the official release from other copies that merely have the right structure.
/// </remarks>
public static class Cifar10Tarball
{
    public const string FileName = "cifar-10-binary.tar.gz";

    /// <summary>Verifies <paramref name="tarballPath"/> and extracts <c>cifar-10-batches-bin/*.bin</c> and a manifest
    /// into <paramref name="destinationDirectory"/>.</summary>
    /// <exception cref="DatasetException">Checksum mismatch, or a batch file is missing from the archive.</exception>
    public static void ExtractVerified(string tarballPath, string destinationDirectory) =>
        ExtractVerified(tarballPath, destinationDirectory, DatasetCatalog.Cifar10TarballSha256);

    /// <summary>As the public overload, with the expected checksum as a parameter so tests can use a small archive.</summary>
    internal static void ExtractVerified(string tarballPath, string destinationDirectory, string expectedSha256)
    {
        string actual = FileVerification.Sha256Of(tarballPath);
        if (actual != expectedSha256)
            throw new DatasetException(
                $"{tarballPath}: SHA-256 mismatch: expected {expectedSha256} (official {FileName}), found {actual}");

        var wanted = DatasetCatalog.Cifar10.Files.Select(f => f.FileName).ToHashSet();
        var manifest = new List<string>();
        using (FileStream file = File.OpenRead(tarballPath))
        using (var gzip = new GZipStream(file, CompressionMode.Decompress))
        using (var tar = new TarReader(gzip))
        {
            for (TarEntry? entry = tar.GetNextEntry(); entry != null; entry = tar.GetNextEntry())
            {
                string name = Path.GetFileName(entry.Name);
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || !wanted.Remove(name)) continue;
                string target = Path.Combine(destinationDirectory, name);
                entry.ExtractToFile(target, overwrite: true);
                manifest.Add($"{FileVerification.Sha256Of(target)}  {name}");
            }
        }
        if (wanted.Count > 0)
            throw new DatasetException($"{tarballPath}: archive lacks {string.Join(", ", wanted.Order())}; expected cifar-10-batches-bin/ with all six batch files");
        FileVerification.WriteAllTextAtomic(Path.Combine(destinationDirectory, DatasetStore.OfficialReleaseManifestName),
                                            string.Join('\n', manifest.Order()) + "\n");
    }
}
