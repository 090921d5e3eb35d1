using System.Reflection;
using System.Text;
using System.Xml.Linq;
using BinaryGrad.Autograd;

namespace BinaryGrad.Cli.Explain;

/// <summary>The documented formula (forward and derivative) of an op, read at run time from the XML documentation
/// files the build writes next to each assembly (<c>BinaryGrad.Autograd.xml</c>, <c>BinaryGrad.Binarization.xml</c>).</summary>
/// <remarks>
/// Why the XML files and not a new property on <see cref="Function"/>: the formulas already live in the ops' doc
/// comments (summary: the forward, remarks: "Backward: …"), so reading them keeps one source of truth, and no op has
/// to be edited. The files ship wherever the assemblies do: the build copies a referenced project's documentation
/// file beside it, and <c>dotnet publish</c> / <c>dotnet pack</c> of a tool include it (MSBuild's
/// <c>PublishReferencesDocumentationFiles</c>, true by default). When a file is missing (a trimmed deployment), the
/// page says so for that node instead of failing.
/// An op node (a <see cref="Function"/>) is matched to its public <c>Ops</c> method by name: <c>cross_entropy</c> →
/// <c>Ops.CrossEntropy</c> (underscores dropped, case ignored); a quantizer node to its scheme class
/// (<c>ste_sign</c> → <c>SteSign</c>).
/// </remarks>
public sealed class OpFormulas
{
    private readonly Dictionary<string, string> _byKey = new(StringComparer.Ordinal);
    private readonly List<string> _missing = [];

    /// <summary>Loads the documentation files of the assemblies of <paramref name="anchors"/>.</summary>
    public OpFormulas(params Type[] anchors)
    {
        foreach (Assembly assembly in anchors.Select(t => t.Assembly).Distinct())
        {
            string path = Path.ChangeExtension(assembly.Location, ".xml");
            if (!File.Exists(path)) { _missing.Add(Path.GetFileName(path)); continue; }
            Load(XDocument.Load(path));
        }
    }

    /// <summary>The default set: the Autograd ops, the binarization schemes and the layers' own ops.</summary>
    public static OpFormulas Default() => new(typeof(Ops), typeof(Binarization.Quantizer), typeof(Layers.Module));

    /// <summary>Documentation files that were not found next to their assembly.</summary>
    public IReadOnlyList<string> Missing => _missing;

    // Op names whose Ops method is an overload the name alone does not pick.
    private static readonly Dictionary<string, string> Overloads = new(StringComparer.Ordinal)
    {
        ["add_scalar"] = "M:BinaryGrad.Autograd.Ops.Add(BinaryGrad.Autograd.Tensor,System.Double)",
        ["mul_scalar"] = "M:BinaryGrad.Autograd.Ops.Mul(BinaryGrad.Autograd.Tensor,System.Double)",
    };

    /// <summary>The documented formula of <paramref name="node"/>: its own class's documentation when it has one (ops
    /// outside <c>Ops</c>, e.g. the binary layers' XNOR-popcount forward), else <see cref="Lookup(string)"/> of its name.</summary>
    public string? Lookup(Function node)
    {
        ArgumentNullException.ThrowIfNull(node);
        string typeId = "=T:" + (node.GetType().FullName ?? "").Replace('+', '.');
        return _byKey.TryGetValue(typeId, out string? own) ? own : Lookup(node.Name);
    }

    /// <summary>The documented formula of the op named <paramref name="opName"/>, or null when none is documented.</summary>
    public string? Lookup(string opName)
    {
        if (Overloads.TryGetValue(opName, out string? member) && _byKey.TryGetValue("=" + member, out string? exact)) return exact;
        string key = Normalize(opName);
        return _byKey.TryGetValue("M:" + key, out string? method) ? method
            : _byKey.TryGetValue("T:" + key, out string? type) ? type : null;
    }

    /// <summary>A sentence for the page when <see cref="Lookup(string)"/> finds nothing.</summary>
    public string NotFound(string opName) => _missing.Count > 0
        ? $"no formula: {string.Join(", ", _missing)} not found next to the assemblies"
        : $"'{opName}' has no documented formula";

    private static string Normalize(string name) => name.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();

    private void Load(XDocument doc)
    {
        foreach (XElement member in doc.Descendants("member"))
        {
            string? id = member.Attribute("name")?.Value;
            if (id is null) continue;
            string text = Text(member);
            if (text.Length == 0) continue;
            _byKey.TryAdd("=" + id, text);
            if (id.StartsWith("M:BinaryGrad.Autograd.Ops.", StringComparison.Ordinal))
            {
                string name = id["M:BinaryGrad.Autograd.Ops.".Length..];
                int paren = name.IndexOf('(', StringComparison.Ordinal);
                if (paren >= 0) name = name[..paren];
                if (name.Contains('.', StringComparison.Ordinal)) continue; // a nested type's member
                _byKey.TryAdd("M:" + Normalize(name), text); // the first overload is the tensor-tensor one
            }
            else if (id.StartsWith("T:BinaryGrad.Binarization.", StringComparison.Ordinal))
                _byKey.TryAdd("T:" + Normalize(id[(id.LastIndexOf('.') + 1)..]), text);
        }
    }

    /// <summary>Summary and remarks as plain text: <c>&lt;c&gt;</c> kept as its content, references by their name.</summary>
    private static string Text(XElement member)
    {
        var sb = new StringBuilder();
        foreach (string part in (string[])["summary", "remarks"])
            if (member.Element(part) is { } element)
            {
                if (sb.Length > 0) sb.Append(' ');
                Append(element, sb);
            }
        return string.Join(' ', sb.ToString().Split((char[])[' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries));
    }

    private static void Append(XElement element, StringBuilder sb)
    {
        foreach (XNode node in element.Nodes())
        {
            if (node is XText text) sb.Append(text.Value);
            else if (node is XElement child)
            {
                if (child.Name == "see" || child.Name == "seealso" || child.Name == "paramref" || child.Name == "typeparamref")
                {
                    string? target = child.Attribute("cref")?.Value ?? child.Attribute("name")?.Value ?? child.Attribute("langword")?.Value;
                    sb.Append(child.Value.Length > 0 ? child.Value : target is null ? "" : target[(target.LastIndexOf('.') + 1)..]);
                }
                else
                {
                    if (child.Name == "para") sb.Append(' ');
                    Append(child, sb);
                }
            }
        }
    }
}
