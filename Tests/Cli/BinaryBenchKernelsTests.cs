using System.Text.Json;
using BinaryGrad.Cli.Commands;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

[TestFixture, Category("Bench")]
public class BinaryBenchKernelsTests
{
    /// <summary>Runs the full benchmark (tens of seconds): run explicitly, e.g.
    /// <c>dotnet test -c Release --filter FullyQualifiedName~BinaryBenchKernelsTests</c>.</summary>
    [Test, Explicit("benchmark: tens of seconds of measurement")]
    public void Json_HasOneObjectPerShapeWithTheDocumentedFields()
    {
        var output = new StringWriter();
        Assert.That(BenchKernelsCommand.Run(json: true, output), Is.EqualTo(0));
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        TestContext.Out.WriteLine(output.ToString());
        Assert.That(lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("name").GetString()),
            Is.EqualTo(new[] { "gemm_1024x1024_k4096", "conv3x3_128_16x16", "conv3x3_256_8x8", "mlp_2048x2048_b256" }));
        foreach (string line in lines)
        {
            JsonElement e = JsonDocument.Parse(line).RootElement;
            Assert.That(e.GetProperty("binaryMs").GetDouble(), Is.Positive);
            Assert.That(e.GetProperty("floatMs").GetDouble(), Is.Positive);
            Assert.That(e.GetProperty("speedup").GetDouble(), Is.EqualTo(e.GetProperty("floatMs").GetDouble() / e.GetProperty("binaryMs").GetDouble()).Within(1).Percent);
            Assert.That(e.TryGetProperty("torchMs", out _) && e.TryGetProperty("speedupVsTorch", out _), Is.True);
        }
    }
}
