using System.Diagnostics;
using System.Text;

namespace BinaryGrad.Autograd.Serialization;

/// <summary>The one place output files are written: to a temporary file <c>.NAME.PID.tmp</c> in the target's directory,
/// flushed to disk, then renamed over the target. A crash, a kill or a full disk mid-write leaves the previous file
/// intact (rename within one directory is atomic on POSIX file systems), never a truncated one.</summary>
/// <remarks>A killed writer leaves its temporary file behind; the next write to the same path removes every
/// <c>.NAME.PID.tmp</c> whose process is no longer running, so orphans do not accumulate.</remarks>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/> atomically.</summary>
    /// <exception cref="IOException">The directory cannot be created or written, the disk is full, or the rename fails;
    /// the previous file is kept.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new IOException($"{path}: is a directory, not a file that can be written.");
        string directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        RemoveStaleTemporaries(directory, Path.GetFileName(full));
        string temporary = TemporaryFor(full, Environment.ProcessId);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 (no byte-order mark) atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => s.Write(new UTF8Encoding(false).GetBytes(text)));

    /// <summary>Appends <paramref name="text"/> atomically: the old content plus the new, written as a new file, so an
    /// interrupted append never leaves half a line.</summary>
    public static void AppendAllText(string path, string text)
    {
        byte[] old = File.Exists(path) ? File.ReadAllBytes(path) : [];
        Write(path, s =>
        {
            s.Write(old);
            s.Write(new UTF8Encoding(false).GetBytes(text));
        });
    }

    /// <summary>The temporary file a process with id <paramref name="processId"/> writes for <paramref name="fullPath"/>.</summary>
    public static string TemporaryFor(string fullPath, int processId) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{processId}.tmp");

    private static void RemoveStaleTemporaries(string directory, string name)
    {
        string prefix = $".{name}.";
        IEnumerable<string> candidates;
        try { candidates = Directory.EnumerateFiles(directory, $".{name}.*.tmp"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (string file in candidates)
        {
            string middle = Path.GetFileName(file)[prefix.Length..^".tmp".Length];
            if (!int.TryParse(middle, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid)) continue;
            if (pid != Environment.ProcessId && IsRunning(pid)) continue; // another live writer's file
            try { File.Delete(file); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // best effort; the write itself decides
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using Process p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return false; }
    }
}
