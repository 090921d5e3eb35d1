using BinaryGrad.Binarization;
using BinaryGrad.Cli.Commands;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

/// <summary>docs/schemes.md embeds the output of <c>binarygrad schemes --markdown</c>; it must be the current one, so
/// the documentation lists exactly the registered schemes (regenerate with <c>docs/update-schemes-table.sh</c>).</summary>
[TestFixture, Category("Cli")]
public class SchemesDocsTests
{
    private const string Begin = "<!-- schemes-table:begin", End = "<!-- schemes-table:end -->";

    [Test]
    public void SchemesDoc_EmbedsTheCurrentTable()
    {
        string doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "schemes.md"));
        int begin = doc.IndexOf(Begin, StringComparison.Ordinal), end = doc.IndexOf(End, StringComparison.Ordinal);
        Assert.That(begin, Is.GreaterThanOrEqualTo(0).And.LessThan(end), "docs/schemes.md lost its table markers");
        string embedded = doc[(doc.IndexOf('\n', begin) + 1)..end].Replace("\r", "", StringComparison.Ordinal);
        var current = new StringWriter { NewLine = "\n" };
        SchemesCommand.RunMarkdown(current);
        string[] builtIn = [.. current.ToString().Split('\n').Where(l => !l.Contains("test-user-sign", StringComparison.Ordinal) && !l.Contains("`triangle-sign`", StringComparison.Ordinal))];
        Assert.That(embedded.TrimEnd(), Is.EqualTo(string.Join("\n", builtIn).TrimEnd()),
            "docs/schemes.md is out of date: run docs/update-schemes-table.sh");
    }

    [Test]
    public void SchemesText_SaysWhatIsDeliberatelyNotRegistered()
    {
        var text = new StringWriter();
        SchemesCommand.Run(json: false, text);
        Assert.That(text.ToString(), Does.Contain("(not registered)").And.Contain("without floating point precision"));
        Assert.That(SchemeRegistry.Names.Any(n => n.Contains("floating", StringComparison.OrdinalIgnoreCase)), Is.False);
    }

    [Test]
    public void SchemesJson_EveryLineIsValidJson_ListingEverySchemeWithProvenance()
    {
        var text = new StringWriter();
        Assert.That(SchemesCommand.Run(json: true, text), Is.Zero);
        string[] lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var names = new List<string>();
        foreach (string line in lines)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(line);
            names.Add(doc.RootElement.GetProperty("name").GetString()!);
            Assert.That(doc.RootElement.GetProperty("provenance").GetString(), Is.AnyOf("verified-code", "verified-doc", "standard-construction"));
        }
        Assert.That(names, Is.EquivalentTo(SchemeRegistry.Names));
        Assert.That(names, Is.SupersetOf(new[] { "self-binarizing", "group-soft-binary", "group-sphere-relax", "vispa", "bayesbinn", "decomposed-matrix", "decomposed-tucker" }));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "BinaryGrad.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("BinaryGrad.sln not found above " + TestContext.CurrentContext.TestDirectory);
    }
}
