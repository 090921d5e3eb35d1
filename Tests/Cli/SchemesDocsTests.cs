using BinaryGrad.Binarization;
using BinaryGrad.Cli.Commands;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

/// <summary>docs/schemes.md embeds the output of <c>binarygrad schemes --markdown</c> and every family page
/// docs/schemes/&lt;family&gt;.md that of <c>--markdown --family &lt;family&gt;</c>; they must be the current ones, so the
/// documentation lists exactly the registered schemes (regenerate with <c>docs/update-schemes-table.sh</c>).</summary>
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

    /// <summary>Every family page embeds the current output of <c>binarygrad schemes --markdown --family NAME</c>
    /// (provenance, paper, hyper-parameters) and documents every member under its own heading.</summary>
    [TestCaseSource(nameof(Families))]
    public void FamilyPage_EmbedsItsTable_AndDocumentsEveryMember(string family)
    {
        string path = Path.Combine(RepositoryRoot(), "docs", "schemes", family + ".md");
        Assert.That(File.Exists(path), Is.True, $"{SchemeFamilies.Page(family)} is missing");
        string doc = File.ReadAllText(path).Replace("\r", "", StringComparison.Ordinal);
        int begin = doc.IndexOf(Begin, StringComparison.Ordinal), end = doc.IndexOf(End, StringComparison.Ordinal);
        Assert.That(begin, Is.GreaterThanOrEqualTo(0).And.LessThan(end), $"{SchemeFamilies.Page(family)} lost its table markers");
        string embedded = doc[(doc.IndexOf('\n', begin) + 1)..end];
        var current = new StringWriter { NewLine = "\n" };
        SchemesCommand.RunFamilyMarkdown(family, current);
        Assert.That(embedded.TrimEnd(), Is.EqualTo(current.ToString().TrimEnd()),
            $"{SchemeFamilies.Page(family)} is out of date: run docs/update-schemes-table.sh");
        string[] members = [.. SchemeRegistry.All.Where(s => s.Family == family).Select(s => s.Name)];
        Assert.That(members, Is.Not.Empty, $"family '{family}' has no scheme");
        foreach (string name in members)
            Assert.That(doc, Does.Contain($"\n### `{name}`"), $"{SchemeFamilies.Page(family)} has no section for '{name}'");
    }

    [Test]
    public void EveryBuiltInScheme_HasAFamilyWithAPage_LinkedFromTheIndex()
    {
        string index = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "schemes.md"));
        foreach (SchemeInfo s in SchemeRegistry.All.Where(s => !s.Name.StartsWith("test-user-sign", StringComparison.Ordinal) && s.Name != "triangle-sign"))
            Assert.That(SchemeFamilies.All, Does.Contain(s.Family), $"'{s.Name}' has no built-in family");
        foreach (string family in SchemeFamilies.All)
            Assert.That(index, Does.Contain($"(schemes/{family}.md)"), $"docs/schemes.md does not link the '{family}' page");
    }

    private static IEnumerable<string> Families => SchemeFamilies.All;

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
            Assert.That(SchemeFamilies.All.Append(SchemeFamilies.Custom), Does.Contain(doc.RootElement.GetProperty("family").GetString()),
                "a built-in family, or custom for schemes other tests register");
            Assert.That(doc.RootElement.GetProperty("paper").ValueKind, Is.EqualTo(System.Text.Json.JsonValueKind.String));
            Assert.That(doc.RootElement.TryGetProperty("section", out _), Is.True, "the legacy 'section' field stays for existing scripts");
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
