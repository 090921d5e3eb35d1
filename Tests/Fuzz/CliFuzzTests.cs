using BinaryGrad.Cli;
using NUnit.Framework;

namespace BinaryGrad.Tests.Fuzz;

/// <summary>Seeded argument fuzzing of every verb through <c>Program.Run</c>, the real error boundary: malformed,
/// extreme and conflicting option values. Every case must end in a documented exit code (0, 1, 2 or 3), never the
/// defect code 70, and a failure must be exactly one line on stderr without a stack trace. The options are drawn so
/// that no case downloads data (digits is embedded, other data set names are bogus) or trains for long.</summary>
[TestFixture, Category("Fuzz"), NonParallelizable]
public class CliFuzzTests
{
    private string _dir = "";

    [OneTimeSetUp] public void MakeDirectory() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "bg-clifuzz-" + Guid.NewGuid().ToString("N")));
    [OneTimeTearDown] public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Ints = ["0", "-1", "abc", "2147483648", "-2147483648", "1.5", "", "0x10", "1e3", "٣"];
    private static readonly string[] Doubles = ["0", "-1", "0,001", "NaN", "Infinity", "1e400", "abc", "", "-0", "1e-400"];

    private string[] Paths() =>
        ["/dev/zero", "/proc/x", _dir, Path.Combine(_dir, "missing", "deeper", "file"), "", "/dev/null", Path.Combine(_dir, "plain.txt")];

    /// <summary>One malformed, extreme or conflicting argument list for <paramref name="verb"/>; every list keeps the
    /// run short (one bad value at least, or digits with one epoch).</summary>
    private string[] Case(string verb, Random random)
    {
        string Pick(string[] from) => from[random.Next(from.Length)];
        string[] paths = Paths();
        var args = new List<string> { verb };
        switch (verb)
        {
            case "train":
            {
                List<string[]> pool =
                [
                    ["--epochs", Pick(Ints)], ["--batch-size", Pick(Ints)], ["--lr", Pick(Doubles)], ["--width", Pick([.. Ints, "50000", "8193"])],
                    ["--threads", Pick(Ints)], ["--seed", Pick([.. Ints, "18446744073709551616"])], ["--scheme-arg", Pick(["beta=5", "=", "beta", "channels=2", "beta=NaN", "beta=1e400"])],
                    ["--scheme", Pick(["bogus", "bnn", ""])], ["--checkpoint", Pick(paths)], ["--json", Pick(paths)], ["--plot", Pick(paths)],
                    ["--init-from", Pick(paths)], ["--resume"], ["--dataset", Pick(["bogus", "", "DIGITS"])], ["--model", Pick(["bogus", "", "vgg-small"])],
                    ["--optimizer", Pick(["bogus", "sgd", ""])], ["--schedule", Pick(["bogus", ""])], ["--augment", Pick(["bogus", ""])], ["--unknown"],
                ];
                args.AddRange(["--dataset", "digits", "--epochs", "1", "--data-dir", _dir]);
                int n = 1 + random.Next(3);
                for (int i = 0; i < n; i++) args.AddRange(pool[random.Next(pool.Count)]);
                break;
            }
            case "eval":
                args.AddRange(["--checkpoint", Pick(paths), "--data-dir", Pick([_dir, "/dev/zero"])]);
                break;
            case "export":
                args.AddRange(["--checkpoint", Pick(paths), "--out", Pick(paths)]);
                if (random.Next(2) == 0) args.Add("--force");
                break;
            case "infer":
                args.AddRange(["--model", Pick(paths), "--dataset", Pick(["digits", "bogus"]), "--batch-size", Pick([.. Ints, "2147483647"]), "--data-dir", _dir]);
                break;
            case "compare":
                args.AddRange(["--schemes", Pick(["", ",", "bogus", "bnn,bogus"]), "--epochs", Pick(Ints), "--dataset", "digits", "--out", Pick(paths), "--data-dir", _dir]);
                break;
            case "bench":
                args.AddRange([Pick(["bogus", "gemm", "train"]), "--threads", Pick(Ints)]);
                break;
            case "gradcheck":
                args.AddRange(["--op", Pick(["bogus", "", "\u0000"])]);
                break;
            case "graph":
                args.AddRange(["--model", Pick(["bogus", "mlp"]), "--scheme", Pick(["bogus", "bnn"]), "--out", Pick(paths)]);
                break;
            case "summary":
                args.AddRange(["--model", Pick(["bogus", "mlp", ""]), "--scheme", Pick(["bogus", "bnn", ""])]);
                break;
            case "estimators":
                args.AddRange(["--out", Pick(["/dev/zero", "/proc/x", Path.Combine(_dir, "plain.txt")])]);
                break;
            case "schemes":
                args.AddRange([Pick(["--json", "--markdown", "--bogus", "--json --markdown"])]);
                break;
        }
        if (random.Next(4) == 0) args.Add(Pick(["--verbose", "--help", "extra"]));
        return [.. args];
    }

    [TestCase("train", 60), TestCase("eval", 30), TestCase("export", 30), TestCase("infer", 30), TestCase("compare", 20),
     TestCase("bench", 20), TestCase("gradcheck", 10), TestCase("graph", 20), TestCase("summary", 20), TestCase("estimators", 10), TestCase("schemes", 10)]
    public void EveryVerb_EndsInADocumentedExitCodeWithOneLine(string verb, int cases)
    {
        File.WriteAllText(Path.Combine(_dir, "plain.txt"), "not a model");
        var random = new Random(verb.Length * 7919 + cases);
        for (int i = 0; i < cases; i++)
        {
            string[] args = Case(verb, random);
            var output = new StringWriter();
            var error = new StringWriter();
            int code = Program.Run(args, output, error);
            string shown = string.Join(' ', args.Select(a => a.Length == 0 ? "''" : a));
            Assert.That(code, Is.AnyOf(0, 1, 2, 3), $"binarygrad {shown}: exit {code}: {error}");
            if (code == 2 || code == 3)
            {
                string[] lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.That(lines.Length, Is.EqualTo(1), $"binarygrad {shown}: {error}");
                Assert.That(lines[0], Does.StartWith("binarygrad").And.Not.Contain("   at "), $"binarygrad {shown}");
            }
            Assert.That(File.Exists("/dev/zero") && !File.Exists("/dev/.zero.tmp"), Is.True);
        }
        Assert.That(File.ReadAllText(Path.Combine(_dir, "plain.txt")), Is.EqualTo("not a model"), "no fuzz case may destroy an existing file it did not create");
    }

    /// <summary>The count of CLI cases, for the report.</summary>
    public const int TotalCases = 60 + 30 + 30 + 30 + 20 + 20 + 10 + 20 + 20 + 10 + 10;
}
