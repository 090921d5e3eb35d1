using System.Diagnostics;
using System.Text.RegularExpressions;
using BinaryGrad.Cli;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli.Explain;

/// <summary>Renders the explain page in headless Chromium (Debian package <c>chromium</c>, installed by .ci/run) with
/// every host name unresolvable, and checks what the script did: the step control, the nodes, the gradient cells filled
/// after the last step (<c>#step=end</c>) and pending before it, and a screenshot. Skipped, with the reason, when no
/// Chromium is installed, so the suite needs no network on a fresh machine.</summary>
[TestFixture, Category("Browser")]
public class ExplainBrowserTests
{
    private string _dir = "";
    private string _page = "";

    [OneTimeSetUp]
    public void WritePage()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"explain-browser-{Environment.ProcessId}");
        Directory.CreateDirectory(_dir);
        _page = Path.Combine(_dir, "step.html");
        int code = Program.Run(["explain", "--model", "mlp", "--scheme", "bnn", "--dataset", "digits", "--out", _page], TextWriter.Null, TextWriter.Null);
        Assert.That(code, Is.EqualTo(0));
    }

    [OneTimeTearDown]
    public void Clean() => Directory.Delete(_dir, recursive: true);

    private static string Chromium()
    {
        foreach (string name in new[] { Environment.GetEnvironmentVariable("CHROMIUM") ?? "", "chromium", "chromium-browser", "google-chrome" })
        {
            if (name.Length == 0) continue;
            if (Path.IsPathRooted(name) && File.Exists(name)) return name;
            foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        }
        Assert.Ignore("Chromium is not installed (apt-get install -y chromium, or set CHROMIUM=/path/to/chrome); the browser test needs it.");
        return "";
    }

    /// <summary>Runs headless Chromium on <paramref name="url"/> and returns its standard output.</summary>
    private string Run(string url, params string[] action)
    {
        var info = new ProcessStartInfo(Chromium())
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        // --no-sandbox: Chromium refuses to run as root with its sandbox (CI containers run as root);
        // MAP * ~NOTFOUND: no host name resolves, so any network load would fail (the page must not need one)
        foreach (string a in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                                        "--host-resolver-rules=MAP * ~NOTFOUND", $"--user-data-dir={Path.Combine(_dir, "profile")}", .. action, url])
            info.ArgumentList.Add(a);
        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"chromium did not finish within 120 s on {url}");
        }
        Assert.That(process.ExitCode, Is.EqualTo(0), $"chromium failed: {stderr.Result}");
        return stdout.Result;
    }

    private string Url(string fragment) => new Uri(_page).AbsoluteUri + fragment;

    [Test]
    public void AfterTheLastStep_EveryGradientCellIsFilled()
    {
        string dom = Run(Url("#step=end"), "--dump-dom");
        int nodes = Regex.Matches(dom, "data-node=\"\\d+\"").Count;
        Assert.That(nodes, Is.GreaterThanOrEqualTo(5));
        Assert.That(dom, Does.Contain("id=\"stepper\"").And.Match("data-step=\"[1-9]\\d*\""));
        int steps = int.Parse(Regex.Match(dom, "data-steps=\"(\\d+)\"").Groups[1].Value);
        Assert.That(Regex.Match(dom, "id=\"stepper\" data-step=\"(\\d+)\"").Groups[1].Value, Is.EqualTo(steps.ToString()), "the script moved to the last step");
        Assert.That(Regex.Matches(dom, "data-grad=\"pending\"").Count, Is.Zero);
        Assert.That(Regex.Matches(dom, "data-grad=\"filled\"").Count, Is.EqualTo(nodes - 1), "every node but the constant images");
    }

    [Test]
    public void BeforeTheBackward_NoGradientIsShown_AndStepOneFillsOnlyTheRoot()
    {
        string start = Run(Url(""), "--dump-dom");
        Assert.That(Regex.Matches(start, "data-grad=\"filled\"").Count, Is.Zero);
        Assert.That(Regex.Matches(start, "data-grad=\"pending\"").Count, Is.GreaterThanOrEqualTo(5));
        string first = Run(Url("#step=1"), "--dump-dom");
        Assert.That(Regex.Matches(first, "data-grad=\"filled\"").Count, Is.EqualTo(1), "step 1 is the loss node's backward");
        Assert.That(first, Does.Match("class=\"node op current\"[^>]*data-own-step=\"1\""));
    }

    [Test]
    public void Screenshot_IsAPng()
    {
        string shot = Path.Combine(_dir, "step.png");
        Run(Url("#step=end"), $"--screenshot={shot}", "--window-size=1200,1600");
        byte[] bytes = File.ReadAllBytes(shot);
        Assert.That(bytes.Take(4), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }));
        Assert.That(bytes, Has.Length.GreaterThan(20_000), "a rendered page, not an empty canvas");
    }
}
