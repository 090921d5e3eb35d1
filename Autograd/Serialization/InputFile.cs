namespace BinaryGrad.Autograd.Serialization;

/// <summary>Opens a file that a loader reads, refusing what is not a regular file before anything is read.</summary>
public static class InputFile
{
    /// <summary>Opens <paramref name="path"/> for streaming reads and returns it with its length.</summary>
    /// <remarks>A device (<c>/dev/zero</c>), a named pipe or a socket reports length 0 and would either never end or
    /// block on open, so a zero length is refused before the file is opened; a directory is refused by name. The
    /// caller bounds every later read by the returned length.</remarks>
    /// <exception cref="IOException">Missing, a directory, empty or not a regular file, or unreadable; the message
    /// names <paramref name="path"/> and <paramref name="what"/> it should be.</exception>
    public static FileStream OpenRegular(string path, string what)
    {
        if (Directory.Exists(path)) throw new IOException($"{path}: is a directory; expected {what}.");
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: not found; expected {what}.");
        if (info.Length == 0)
            throw new IOException($"{path}: is empty or not a regular file (a device, pipe or socket); expected {what}.");
        try
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            if (!stream.CanSeek || stream.Length != info.Length)
            {
                stream.Dispose();
                throw new IOException($"{path}: is not a regular file; expected {what}.");
            }
            return stream;
        }
        catch (UnauthorizedAccessException e) { throw new IOException($"{path}: cannot be read ({e.Message}); expected {what}.", e); }
    }

    /// <summary>Fills <paramref name="buffer"/> from <paramref name="stream"/> or throws naming the offset.</summary>
    public static void ReadExactly(Stream stream, Span<byte> buffer, string path, string what)
    {
        long at = stream.Position;
        try { stream.ReadExactly(buffer); }
        catch (EndOfStreamException) { throw new IOException($"{path}: truncated at byte {at}: {what} needs {buffer.Length} bytes."); }
    }
}
