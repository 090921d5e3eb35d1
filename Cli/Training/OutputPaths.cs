using BinaryGrad.Autograd.Serialization;

namespace BinaryGrad.Cli.Training;

/// <summary>Checks an output path before any work starts, so a run never trains for an hour and then fails to save:
/// the path is not a directory, not an existing device or pipe, not the same file as an input, and its directory
/// exists (or can be created) and accepts a new file — probed by creating and removing the very temporary file
/// <see cref="AtomicFile"/> will write.</summary>
public static class OutputPaths
{
    /// <exception cref="UsageException">The path cannot be written; the message names <paramref name="option"/>.</exception>
    public static void CheckFile(string path, string option, params string?[] inputs)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException($"{option}: expected a file path, got an empty string.");
        string full = FullPath(path, option);
        if (Directory.Exists(full)) throw new UsageException($"{option} {path}: is a directory; expected a file path.");
        foreach (string? input in inputs)
            if (input is not null && SameFile(full, input))
                throw new UsageException($"{option} {path}: is also an input of this command ({input}); writing it would destroy the input. Give another path.");
        if (File.Exists(full) && IsSpecial(full))
            throw new UsageException($"{option} {path}: is a device, pipe or socket, not a regular file.");
        ProbeDirectory(Path.GetDirectoryName(full)!, full, option, path);
    }

    /// <summary>As <see cref="CheckFile"/> for an output directory (<c>--plot</c>).</summary>
    public static void CheckDirectory(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException($"{option}: expected a directory path, got an empty string.");
        string full = FullPath(path, option);
        if (File.Exists(full)) throw new UsageException($"{option} {path}: is a file; expected a directory.");
        ProbeDirectory(full, Path.Combine(full, "probe"), option, path);
    }

    private static string FullPath(string path, string option)
    {
        try { return Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new UsageException($"{option} {path}: not a valid path ({e.Message}).");
        }
    }

    private static void ProbeDirectory(string directory, string target, string option, string path)
    {
        string probe = AtomicFile.TemporaryFor(target, Environment.ProcessId);
        try
        {
            Directory.CreateDirectory(directory);
            using (new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None)) { }
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new UsageException($"{option} {path}: cannot write in {directory} ({e.Message.TrimEnd('.')}).");
        }
    }

    /// <summary>Same file after resolving the full path and symbolic links.</summary>
    public static bool SameFile(string a, string b)
    {
        static string Resolve(string p)
        {
            string full = Path.GetFullPath(p);
            try { return File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full; }
            catch (IOException) { return full; }
        }
        return string.Equals(Resolve(a), Resolve(b), OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
    }

    /// <summary>An existing path under /dev, /proc or /sys: devices and kernel pseudo-files, which the rename of
    /// <see cref="AtomicFile"/> would replace (as root, a device node). Elsewhere a rename only replaces a directory
    /// entry and never opens the old file, so a named pipe there cannot block a write.</summary>
    private static bool IsSpecial(string full) =>
        !OperatingSystem.IsWindows() && (full.StartsWith("/dev/", StringComparison.Ordinal) || full.StartsWith("/proc/", StringComparison.Ordinal) || full.StartsWith("/sys/", StringComparison.Ordinal));
}
