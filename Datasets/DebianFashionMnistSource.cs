namespace BinaryGrad.Datasets;

/// <summary>
/// Fashion-MNIST from Debian's package <c>dataset-fashion-mnist</c>, whose gzip files live in
/// <c>/usr/share/datasets/fashion-mnist/</c>.
/// </summary>
/// <remarks>
/// Tried in order: the installed files; <c>apt-get download</c> plus <c>dpkg-deb -x</c> into the staging directory
/// (no root needed, nothing installed; after an <c>apt-get update</c> if the package lists are missing); and, only when
/// running as root, <c>apt-get install -y dataset-fashion-mnist</c>.
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
            string[] download = ["download", PackageName];
            log?.WriteLine($"apt-get download {PackageName}");
            try { ExternalProcess.Run("apt-get", download, debDirectory, AptTimeout, cancellationToken); }
            catch (DatasetException) when (Environment.IsPrivilegedProcess)
            {
                log?.WriteLine("apt-get download failed; running apt-get update and retrying");
                ExternalProcess.Run("apt-get", ["update"], debDirectory, AptTimeout, cancellationToken);
                ExternalProcess.Run("apt-get", download, debDirectory, AptTimeout, cancellationToken);
            }
            string deb = Directory.GetFiles(debDirectory, "*.deb").SingleOrDefault()
                ?? throw new DatasetException($"apt-get download {PackageName} produced no .deb");
            string root = Path.Combine(stagingDirectory, "root");
            ExternalProcess.Run("dpkg-deb", ["-x", deb, root], stagingDirectory, AptTimeout, cancellationToken);
            if (TryCopy(dataset, root + installedDirectory, stagingDirectory)) return;
            reasons.Add($"{Path.GetFileName(deb)} lacks the files in {installedDirectory}");
        }
        catch (DatasetException e) { reasons.Add(e.Message); }

        if (Environment.IsPrivilegedProcess)
        {
            try
            {
                log?.WriteLine($"apt-get install -y {PackageName}");
                ExternalProcess.Run("apt-get", ["install", "-y", PackageName], stagingDirectory, AptTimeout, cancellationToken);
                if (TryCopy(dataset, installedDirectory, stagingDirectory)) return;
                reasons.Add($"apt-get install succeeded but {installedDirectory} lacks the files");
            }
            catch (DatasetException e) { reasons.Add(e.Message); }
        }
        else reasons.Add("apt-get install skipped: not running as root");
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
