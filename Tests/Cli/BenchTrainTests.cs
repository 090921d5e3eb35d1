using System.Text.Json;
using BinaryGrad.Cli.Commands;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

/// <summary><c>bench train --json</c>'s field names and values: scripts (and issue 16's checks) read them.</summary>
[TestFixture, Category("Cli")]
public class BenchTrainTests
{
    [Test]
    public void JsonRow_HasTheContractFields_WithTheRatioAndRoundingWorkedByHand()
    {
        var row = new BenchTrain.Row("resnet20 bnn batch 128", "resnet20", "bnn", Ours: 846.34, Peer: 508.2, PeerConfig: "OPENBLAS_NUM_THREADS=2, OpenMP OpenBLAS",
                                     AllocatedBytesPerStep: 83_908, GcPausePercent: 0.12345, PeakWorkingSetBytes: 399_802_368, Profile: null);
        using JsonDocument json = JsonDocument.Parse(JsonSerializer.Serialize(BenchTrain.JsonFields(row)));
        JsonElement root = json.RootElement;
        Assert.That(root.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[]
        {
            "name", "model", "scheme", "ours", "peer", "ratio", "peerConfig", "allocatedBytesPerStep", "gcPausePercent", "peakWorkingSetBytes",
        }));
        Assert.That(root.GetProperty("ours").GetDouble(), Is.EqualTo(846.3));
        Assert.That(root.GetProperty("ratio").GetDouble(), Is.EqualTo(1.665)); // 846.34 / 508.2 = 1.66537…
        Assert.That(root.GetProperty("gcPausePercent").GetDouble(), Is.EqualTo(0.123));
        Assert.That(root.GetProperty("allocatedBytesPerStep").GetInt64(), Is.EqualTo(83_908));
    }

    [Test]
    public void JsonRow_WithoutAPeer_HasNullPeerRatioAndConfig()
    {
        var row = new BenchTrain.Row("vgg-small bnn batch 128", "vgg-small", "bnn", 85.8, null, null, 31_343, 0, 1_233_846_272, null);
        using JsonDocument json = JsonDocument.Parse(JsonSerializer.Serialize(BenchTrain.JsonFields(row)));
        foreach (string field in new[] { "peer", "ratio", "peerConfig" })
            Assert.That(json.RootElement.GetProperty(field).ValueKind, Is.EqualTo(JsonValueKind.Null), field);
    }
}
