using System.Text.Json;
using BinaryGrad.Autograd;
using BinaryGrad.Cli;
using BinaryGrad.Binarization;
using BinaryGrad.Cli.Commands;
using BinaryGrad.Layers;
using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

[TestFixture, Category("Training")]
public class BenchInferTests
{
    private string _dir = "";

    [SetUp]
    public void Setup()
    {
        Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "bg-bench-infer-" + Guid.NewGuid().ToString("N")));
        BenchInfer.TimeScale = 0.002;
    }

    [TearDown]
    public void TearDown()
    {
        BenchInfer.TimeScale = 1;
        Directory.Delete(_dir, recursive: true);
    }

    [TestCase(new[] { "--model", "alexnet" }, "--model 'alexnet' is not known")]
    [TestCase(new[] { "--batch", "0" }, "--batch must be at least 1")]
    [TestCase(new[] { "--bgm", "/nonexistent/m.bgm" }, "/nonexistent/m.bgm")]
    public void BadInput_IsOneLineAndExit2(string[] args, string message)
    {
        var error = new StringWriter();
        string? model = args[0] == "--model" ? args[1] : null, bgm = args[0] == "--bgm" ? args[1] : null;
        int batch = args[0] == "--batch" ? int.Parse(args[1]) : 128;
        Assert.That(BenchInfer.Run(true, TextWriter.Null, error, model, bgm, batch, peer: false), Is.EqualTo(2));
        Assert.That(error.ToString().TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(error.ToString(), Does.StartWith("binarygrad bench infer: ").And.Contain(message));
    }

    /// <summary>The infer-only options are refused elsewhere only when given: their defaults must not trip the check
    /// (a default --batch once made every 'bench train' fail).</summary>
    [TestCase(new[] { "bench", "train", "--model", "nope" }, "--model 'nope' is not known")]
    [TestCase(new[] { "bench", "gemm", "--batch", "5" }, "--bgm and --batch apply to 'bench infer' only")]
    [TestCase(new[] { "bench", "kernels", "--bgm", "m.bgm" }, "--bgm and --batch apply to 'bench infer' only")]
    [NonParallelizable]
    public void InferOnlyOptions_AreRefusedElsewhere_OnlyWhenGiven(string[] args, string message)
    {
        TextWriter saved = Console.Error;
        var error = new StringWriter();
        Console.SetError(error);
        try
        {
            Assert.That(Program.Run(args, TextWriter.Null, error), Is.EqualTo(2));
        }
        finally
        {
            Console.SetError(saved);
        }
        Assert.That(error.ToString(), Does.Contain(message));
    }

    [Test]
    public void TrainedFile_GivesOneJsonLineWithTheContractFields()
    {
        var model = BinaryModels.Mlp(new Rng(1), () => SchemeRegistry.Create("bnn"), inputs: 64, hidden: 32, hiddenLayers: 1);
        string bgm = Path.Combine(_dir, "m.bgm");
        InferenceModel.FromModule(model, 1, 8, 8, 10, "digits").Save(bgm);
        var output = new StringWriter();
        Assert.That(BenchInfer.Run(true, output, TextWriter.Null, "mlp", bgm, 3, peer: false), Is.EqualTo(0));
        using JsonDocument line = JsonDocument.Parse(output.ToString().Trim());
        JsonElement root = line.RootElement;
        foreach (string field in new[] { "name", "model", "batch", "ours", "peer", "ratio", "latencyMs", "peerLatencyMs", "latencyRatio", "peerConfig",
                                         "realMs", "binaryMs", "otherMs", "allocatedBytesPerBatch", "threads" })
            Assert.That(root.TryGetProperty(field, out _), Is.True, field);
        Assert.That(root.GetProperty("batch").GetInt32(), Is.EqualTo(3));
        Assert.That(root.GetProperty("ours").GetDouble(), Is.GreaterThan(0));
        Assert.That(root.GetProperty("peer").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }
}
