using System.Buffers.Binary;
using System.Text;
using BinaryGrad.Autograd;
using BinaryGrad.Autograd.Serialization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Autograd;

[TestFixture, Category("Autograd")]
public class SafeTensorsTests
{
    private string _dir = "";

    [SetUp] public void MakeDirectory() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "bg-st-" + Guid.NewGuid().ToString("N")));
    [TearDown] public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    /// <summary>A file laid out by hand from the format's specification, independent of the writer.</summary>
    private static byte[] HandMadeFile()
    {
        string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"__metadata__\":{\"epoch\":\"3\"}}";
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(8 + json.Length), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(12 + json.Length), -2f);
        return bytes;
    }

    [Test]
    public void Load_ReadsAFileWrittenBySpecification()
    {
        string path = Path.Combine(_dir, "hand.safetensors");
        File.WriteAllBytes(path, HandMadeFile());
        var (tensors, metadata) = SafeTensors.Load(path);
        Assert.That(tensors["w"].ToDoubleArray(), Is.EqualTo(new[] { 1.5, -2.0 }));
        Assert.That(metadata["epoch"], Is.EqualTo("3"));
    }

    [Test]
    public void SaveThenLoad_RoundTripsBothTypesExactly()
    {
        string path = Path.Combine(_dir, "m.safetensors");
        var rng = new Rng(3);
        Tensor a = Tensor.Normal([3, 4], rng), b = Tensor.Normal([2, 1, 2], rng, dtype: DType.Float64);
        SafeTensors.Save(path, [new("a", a), new("b.c", b)], new Dictionary<string, string> { ["k"] = "v" });
        var (tensors, metadata) = SafeTensors.Load(path);
        Assert.That(tensors["a"].ToArray<float>(), Is.EqualTo(a.ToArray<float>()));
        Assert.That(tensors["b.c"].ToArray<double>(), Is.EqualTo(b.ToArray<double>()));
        Assert.That(tensors["b.c"].Shape.ToArray(), Is.EqualTo(new[] { 2, 1, 2 }));
        Assert.That(metadata["k"], Is.EqualTo("v"));
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(path)) % 8, Is.Zero, "header padded to 8 bytes");
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1), "no temporary file left behind");
    }

    [Test]
    public void Load_TruncatedFile_NamesFileAndWhatIsMissing()
    {
        string path = Path.Combine(_dir, "cut.safetensors");
        byte[] full = HandMadeFile();
        File.WriteAllBytes(path, full[..^3]);
        Assert.That(() => SafeTensors.Load(path), Throws.InstanceOf<SafeTensorsException>()
            .With.Message.Contains("cut.safetensors").And.Message.Contains("'w'").And.Message.Contains("truncated"));
    }

    [TestCase("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", "'w'")]
    [TestCase("{\"w\":7}", "'w'")]
    [TestCase("{\"w\":{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,8]}}", "'w'")]
    [TestCase("{\"__metadata__\":{\"epoch\":3}}", "__metadata__")]
    public void Load_MalformedHeaderEntry_NamesTheEntry(string header, string expected)
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        Assert.That(() => SafeTensors.Load(path), Throws.InstanceOf<SafeTensorsException>().With.Message.Contains("bad.safetensors").And.Message.Contains(expected));
    }

    [Test]
    public void Load_ForeignFile_SaysItIsNotSafetensors()
    {
        string path = Path.Combine(_dir, "foreign.bin");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes("PK\u0003\u0004 this is a zip file, not a checkpoint"));
        Assert.That(() => SafeTensors.Load(path), Throws.InstanceOf<SafeTensorsException>().With.Message.Contains("foreign.bin").And.Message.Contains("byte 0"));
    }
}
