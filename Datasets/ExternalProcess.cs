using System.Diagnostics;

namespace BinaryGrad.Datasets;

/// <summary>Runs a command-line tool (npm, apt-get, dpkg-deb) and turns failure into a one-line reason.</summary>
internal static class ExternalProcess
{
    /// <summary>Runs <paramref name="fileName"/> with <paramref name="arguments"/> in <paramref name="workingDirectory"/>.</summary>
    /// <exception cref="DatasetException">The tool is missing, exits non-zero, or exceeds <paramref name="timeout"/>.</exception>
    public static string Run(string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout,
                             CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        info.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        string command = $"{fileName} {string.Join(' ', info.ArgumentList)}";

        Process process;
        try { process = Process.Start(info) ?? throw new DatasetException($"{command}: could not start"); }
        catch (System.ComponentModel.Win32Exception e) { throw new DatasetException($"{command}: {fileName} not available ({e.Message})", e); }
        using (process)
        {
            Task<string> output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            Task<string> error = process.StandardError.ReadToEndAsync(cancellationToken);
            using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeoutSource.CancelAfter(timeout);
            try { process.WaitForExitAsync(timeoutSource.Token).GetAwaiter().GetResult(); }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                cancellationToken.ThrowIfCancellationRequested();
                throw new DatasetException($"{command}: no result after {timeout.TotalSeconds:0} s");
            }
            string stdout = output.GetAwaiter().GetResult(), stderr = error.GetAwaiter().GetResult();
            if (process.ExitCode != 0)
                throw new DatasetException($"{command}: exit code {process.ExitCode}: {LastLines(stderr.Length > 0 ? stderr : stdout)}");
            return stdout;
        }
    }

    private static string LastLines(string text)
    {
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "(no output)" : string.Join(" | ", lines.TakeLast(3));
    }
}
