namespace BinaryGrad.Datasets;

/// <summary>
/// Fashion-MNIST from Debian's package <c>dataset-fashion-mnist</c>, whose gzip files live in
/// <c>/usr/share/datasets/fashion-mnist/</c>.
/// </summary>
/// <remarks>
/// Tried in order: the installed files; then <c>apt-get download</c> of the package file into a temporary directory
/// plus <c>dpkg-deb -x</c> into the staging directory. No root is needed and the system is never changed: nothing is
/// installed and the package lists are never updated (<c>apt-get update</c>); if the lists are missing this source
/// fails with its reason and the others, or placing the files by hand, remain.
/// </remarks>
public sealed class DebianFashionMnistSource(string installedDirectory = DebianFashionMnistSource.InstalledDirectory) : IDatasetSource
{
    public const string PackageName = "dataset-fashion-mnist";
    public const string InstalledDirectory = "/usr/share/datasets/fashion-mnist";

    private static readonly TimeSpan AptTimeout = TimeSpan.FromMinutes(10);

    public bool CanProvide(DatasetInfo dataset) => dataset.Key == "fashion-mnist";

    public string Describe(DatasetInfo dataset) => $"Debian package {PackageName}";

    public void Fetch(DatasetInfo dataset, string stagingDirectory, TextWriter? log, CancellationToken cancellationToken)
    {
        if (TryCopy(dataset, installedDirectory, stagingDirectory)) { log?.WriteLine($"using {installedDirectory}"); return; }

        var reasons = new List<string> { $"{installedDirectory}: not installed" };
        try
        {
            string debDirectory = Directory.CreateDirectory(Path.Combine(stagingDirectory, "deb")).FullName;
            log?.WriteLine($"fetching {PackageName} from the Debian archive: apt-get download {PackageName}, then dpkg-deb -x (nothing is installed)");
            ExternalProcess.Run("apt-get", ["download", PackageName], debDirectory, AptTimeout, cancellationToken);
            string deb = Directory.GetFiles(debDirectory, "*.deb").SingleOrDefault()
                ?? throw new DatasetException($"apt-get download {PackageName} produced no .deb");
            string root = Path.Combine(stagingDirectory, "root");
            ExternalProcess.Run("dpkg-deb", ["-x", deb, root], stagingDirectory, AptTimeout, cancellationToken);
            if (TryCopy(dataset, root + installedDirectory, stagingDirectory)) return;
            reasons.Add($"{Path.GetFileName(deb)} lacks the files in {installedDirectory}");
        }
        catch (DatasetException e) { reasons.Add(e.Message); }

        throw new DatasetException(string.Join("; ", reasons));
    }

    /// <summary>Copies the four files (as shipped, .gz) if all are in <paramref name="directory"/>.</summary>
    private static bool TryCopy(DatasetInfo dataset, string directory, string stagingDirectory)
    {
        string[] sources = [.. dataset.Files.Select(f => Path.Combine(directory, f.FileName + ".gz"))];
        if (!sources.All(File.Exists)) return false;
        foreach (string source in sources) File.Copy(source, Path.Combine(stagingDirectory, Path.GetFileName(source)), overwrite: true);
        return true;
    }
}
