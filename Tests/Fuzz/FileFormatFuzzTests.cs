using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using BinaryGrad.Autograd;
using BinaryGrad.Autograd.Serialization;
using BinaryGrad.Binarization;
using BinaryGrad.Cli.Training;
using BinaryGrad.Datasets;
using BinaryGrad.Layers;
using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Fuzz;

/// <summary>Seeded, deterministic mutation fuzzing of every file format a verb loads: a training checkpoint
/// (safetensors), a .bgm inference model, IDX images and labels, CIFAR-10 binary batches. Each mutant must load into a
/// correct result or be refused with the loader's typed error (never another exception), and the loaders must bound
/// memory and work from the file's length. The mutants are truncations, bit flips, forged 32/64-bit lengths and
/// sizes, and, for the checkpoint, edits of the JSON header: forged shapes, dtypes and offsets, duplicate keys and
/// metadata garbage.</summary>
[TestFixture, Category("Fuzz")]
public class FileFormatFuzzTests
{
    /// <summary>Mutants per format (the issue asks for at least 500).</summary>
    public const int MutantsPerFormat = 600;

    private string _dir = "";

    [OneTimeSetUp] public void MakeDirectory() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "bg-fuzz-" + Guid.NewGuid().ToString("N")));
    [OneTimeTearDown] public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    /// <summary>Forged integers for length and size fields: zero, one, negative, the int32 extremes, 2²⁸ ± 1 and
    /// values just past a plausible size.</summary>
    private static readonly long[] Forged = [0, 1, 2, -1, -2, int.MaxValue, int.MinValue, (1 << 28) - 1, 1 << 28, 40001, 20000, 65536, uint.MaxValue, long.MaxValue];

    /// <summary>One mutant of <paramref name="original"/>: kind chosen by <paramref name="random"/>.</summary>
    internal static (byte[] Bytes, string Kind) Mutate(byte[] original, Random random, int protectedPrefix = 0)
    {
        byte[] b = (byte[])original.Clone();
        switch (random.Next(6))
        {
            case 0: // truncation
                int keep = random.Next(b.Length);
                return (b[..keep], $"truncated to {keep}");
            case 1: // one bit flip
            {
                int at = protectedPrefix + random.Next(b.Length - protectedPrefix), bit = random.Next(8);
                b[at] ^= (byte)(1 << bit);
                return (b, $"bit {bit} of byte {at} flipped");
            }
            case 2: // a forged little-endian int32
            {
                int at = random.Next(b.Length - 4);
                BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(at), (int)Forged[random.Next(Forged.Length)]);
                return (b, $"int32 at {at} forged");
            }
            case 3: // a forged big-endian int32 (IDX headers)
            {
                int at = random.Next(Math.Min(b.Length - 4, 32));
                BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(at), (int)Forged[random.Next(Forged.Length)]);
                return (b, $"big-endian int32 at {at} forged");
            }
            case 4: // a forged 64-bit length at the start (safetensors header length)
            {
                long v = random.Next(2) == 0 ? Forged[random.Next(Forged.Length)] : BinaryPrimitives.ReadInt64LittleEndian(b) + random.Next(-9, 10);
                BinaryPrimitives.WriteInt64LittleEndian(b, v);
                return (b, $"int64 at 0 set to {v}");
            }
            default: // random bytes over a short stretch, or bytes appended
                if (random.Next(2) == 0)
                {
                    int at = random.Next(b.Length);
                    for (int i = at; i < Math.Min(b.Length, at + 1 + random.Next(8)); i++) b[i] = (byte)random.Next(256);
                    return (b, $"bytes from {at} randomized");
                }
                byte[] longer = new byte[b.Length + 1 + random.Next(16)];
                b.CopyTo(longer, 0);
                return (longer, "bytes appended");
        }
    }

    private static int Differences(byte[] a, byte[] b) => a.Length != b.Length ? -1 : a.Where((x, i) => x != b[i]).Count();

    // ---- checkpoint ---------------------------------------------------------------------------------------------

    private string TrainedCheckpoint()
    {
        string path = Path.Combine(_dir, "trained.safetensors");
        if (!File.Exists(path))
            new Trainer(new TrainOptions
            {
                Dataset = "digits", Model = "mlp", Scheme = SchemeChoice.ForModel("bnn"), Width = 16, Epochs = 1, BatchSize = 256, Seed = 5, Threads = 1,
                CheckpointPath = path, ShowProgress = false, DataDirectory = _dir,
            }, TextWriter.Null).Run();
        return path;
    }

    [Test]
    public void Checkpoint_EveryMutantLoadsCorrectlyOrIsRefusedWithAUsageError()
    {
        byte[] original = File.ReadAllBytes(TrainedCheckpoint());
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(original);
        int dataStart = 8 + (int)headerLength;
        var random = new Random(17);
        string path = Path.Combine(_dir, "mutant.safetensors");
        int refused = 0, loaded = 0;
        for (int i = 0; i < MutantsPerFormat; i++)
        {
            (byte[] mutant, string kind) = i % 3 == 2 ? MutateHeader(original, random) : Mutate(original, random);
            File.WriteAllBytes(path, mutant);
            try
            {
                Checkpoint.Load(path);
                loaded++;
                // a changed byte in the data section can never be accepted: the checksum covers every one
                int changedData = mutant.Length == original.Length
                    ? mutant.Skip(dataStart).Zip(original.Skip(dataStart)).Count(p => p.First != p.Second) : 0;
                bool sameHeader = mutant.AsSpan(0, dataStart).SequenceEqual(original.AsSpan(0, dataStart));
                Assert.That(sameHeader && changedData > 0, Is.False, $"mutant {i} ({kind}) changed tensor data and was accepted");
            }
            catch (UsageException e)
            {
                refused++;
                Assert.That(e.Message, Does.StartWith(path).And.Not.Contain('\n'), $"mutant {i} ({kind})");
            }
            catch (Exception e)
            {
                Assert.Fail($"mutant {i} ({kind}): {e.GetType().Name}: {e.Message}");
            }
        }
        Assert.That(refused, Is.GreaterThan(MutantsPerFormat / 2), $"{loaded} loaded");
    }

    [Test]
    public void Checkpoint_EveryOneBitFlipInTensorDataIsRefused()
    {
        byte[] original = File.ReadAllBytes(TrainedCheckpoint());
        int dataStart = 8 + (int)BinaryPrimitives.ReadInt64LittleEndian(original);
        var random = new Random(23);
        string path = Path.Combine(_dir, "flip.safetensors");
        for (int i = 0; i < MutantsPerFormat; i++)
        {
            byte[] mutant = (byte[])original.Clone();
            int at = dataStart + random.Next(original.Length - dataStart);
            mutant[at] ^= (byte)(1 << random.Next(8));
            File.WriteAllBytes(path, mutant);
            Assert.That(() => Checkpoint.Load(path), Throws.TypeOf<UsageException>().With.Message.Contain("SHA-256"), $"flip at byte {at}");
        }
    }

    /// <summary>Edits of the JSON header text: forged shapes, dtypes, offsets, duplicate keys and metadata values, with
    /// the header length rewritten to fit so that the edit, not the length, is what the loader meets.</summary>
    private static (byte[] Bytes, string Kind) MutateHeader(byte[] original, Random random)
    {
        int headerLength = (int)BinaryPrimitives.ReadInt64LittleEndian(original);
        string header = Encoding.UTF8.GetString(original, 8, headerLength);
        string[] metadataKeys = ["width", "epochsDone", "epochs", "schemeArgs", "rngState", "loaderState", "bestTestAcc", "learningRate", "format", "optimizerTensors", "sha256", "dataset", "batchSize", "workSplit"];
        string[] garbage = ["abc", "1.5", "-2147483648", "-1", "0", "", "1e400", "NaN", "{\\\"beta\\\":1,\\\"beta\\\":2}", "garbage", "x,y", "0,0,0,0", "ffffffffffffffffff", "99999999999", "[1]", "\\u0000"];
        string edited;
        string kind;
        switch (random.Next(6))
        {
            case 0:
            {
                string key = metadataKeys[random.Next(metadataKeys.Length)], value = garbage[random.Next(garbage.Length)];
                edited = System.Text.RegularExpressions.Regex.Replace(header, $"\"{key}\":\"[^\"]*\"", $"\"{key}\":\"{value}\"");
                kind = $"metadata {key}={value}";
                break;
            }
            case 1:
                edited = ReplaceNth(header, "\"F32\"", random, random.Next(2) == 0 ? "\"F16\"" : "\"F64\"");
                kind = "dtype forged";
                break;
            case 2:
                edited = ReplaceNth(header, "\"shape\":[", random, $"\"shape\":[{Forged[random.Next(Forged.Length)]},");
                kind = "shape forged";
                break;
            case 3:
                edited = ReplaceNth(header, "\"data_offsets\":[", random, $"\"data_offsets\":[{Forged[random.Next(Forged.Length)]},");
                kind = "offsets forged";
                break;
            case 4:
                edited = "{\"model.dup\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}," + header.TrimStart()[1..].Replace("{\"", "{\"model.dup\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"", StringComparison.Ordinal);
                kind = "duplicate key";
                break;
            default:
                edited = header.Replace("\"__metadata__\":{", "\"__metadata__\":{\"format\":\"binarygrad-checkpoint-v2\",", StringComparison.Ordinal);
                kind = "duplicate metadata key";
                break;
        }
        byte[] json = Encoding.UTF8.GetBytes(edited);
        byte[] result = new byte[8 + json.Length + original.Length - 8 - headerLength];
        BinaryPrimitives.WriteInt64LittleEndian(result, json.Length);
        json.CopyTo(result, 8);
        original.AsSpan(8 + headerLength).CopyTo(result.AsSpan(8 + json.Length));
        return (result, kind);
    }

    private static string ReplaceNth(string text, string what, Random random, string with)
    {
        var positions = new List<int>();
        for (int at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + 1, StringComparison.Ordinal)) positions.Add(at);
        if (positions.Count == 0) return text;
        int p = positions[random.Next(positions.Count)];
        return text[..p] + with + text[(p + what.Length)..];
    }

    // ---- .bgm ---------------------------------------------------------------------------------------------------

    [Test]
    public void Bgm_EveryMutantLoadsAndRunsOrIsRefusedWithAFormatError()
    {
        var model = BinaryModels.Mlp(new Rng(1), () => SchemeRegistry.Create("bnn"), inputs: 64, hidden: 16, hiddenLayers: 1);
        // a 3×3 pooling layer (stride 1, padding 1: 8×8 stays 8×8) in front of the exported MLP gives the mutator
        // kernel, stride and padding fields to forge
        string good = Path.Combine(_dir, "good.bgm");
        var cnn = new InferenceModel(1, 8, 8, 10, "digits",
            [new MaxPoolLayer(3, 1, 1), new FlattenLayer(), .. InferenceModel.FromModule(model, 1, 8, 8, 10, "digits").Layers.Skip(1)]);
        cnn.Save(good);
        byte[] original = File.ReadAllBytes(good);
        var random = new Random(29);
        string path = Path.Combine(_dir, "mutant.bgm");
        float[] images = new float[2 * 64];
        for (int i = 0; i < images.Length; i++) images[i] = (i % 7) - 3;
        float[] expected = cnn.Forward(images, 2);
        int refused = 0;
        for (int i = 0; i < MutantsPerFormat; i++)
        {
            (byte[] mutant, string kind) = Mutate(original, random);
            File.WriteAllBytes(path, mutant);
            InferenceModel loaded;
            try { loaded = InferenceModel.Load(path); }
            catch (FormatException e)
            {
                refused++;
                Assert.That(e.Message, Does.StartWith(path).And.Not.Contain('\n'), $"mutant {i} ({kind})");
                continue;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutant {i} ({kind}): {e.GetType().Name}: {e.Message}");
                return;
            }
            // accepted: only when the bytes are the original ones (the checksum covers every other byte)
            Assert.That(Differences(original, mutant), Is.EqualTo(0), $"mutant {i} ({kind}) was accepted");
            Assert.That(loaded.Forward(images, 2), Is.EqualTo(expected));
        }
        Assert.That(refused, Is.GreaterThan(MutantsPerFormat * 9 / 10));
    }

    // ---- IDX --------------------------------------------------------------------------------------------------

    private static byte[] IdxImagesFile(int count, int rows, int columns, Random random)
    {
        byte[] b = new byte[16 + count * rows * columns];
        BinaryPrimitives.WriteInt32BigEndian(b, IdxReader.ImagesMagic);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(12), columns);
        random.NextBytes(b.AsSpan(16));
        return b;
    }

    private static byte[] IdxLabelsFile(int count, Random random)
    {
        byte[] b = new byte[8 + count];
        BinaryPrimitives.WriteInt32BigEndian(b, IdxReader.LabelsMagic);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), count);
        for (int i = 0; i < count; i++) b[8 + i] = (byte)random.Next(10);
        return b;
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(raw);
        return output.ToArray();
    }

    [Test]
    public void Idx_EveryMutantReadsTheHeadersDataOrIsRefusedWithADatasetError()
    {
        var random = new Random(31);
        byte[] images = IdxImagesFile(6, 5, 4, random), labels = IdxLabelsFile(6, random);
        string imagesPath = Path.Combine(_dir, "images-idx3-ubyte"), labelsPath = Path.Combine(_dir, "labels-idx1-ubyte");
        int refused = 0;
        for (int i = 0; i < MutantsPerFormat; i++)
        {
            bool imagesMutated = i % 2 == 0, gzip = i % 5 == 4;
            (byte[] mutant, string kind) = Mutate(imagesMutated ? images : labels, random);
            byte[] imagesBytes = imagesMutated ? mutant : images, labelsBytes = imagesMutated ? labels : mutant;
            File.WriteAllBytes(imagesPath, gzip ? Gzip(imagesBytes) : imagesBytes);
            File.WriteAllBytes(labelsPath, gzip ? Gzip(labelsBytes) : labelsBytes);
            try
            {
                ImageDataset data = IdxReader.ReadDataset(imagesPath, labelsPath, "fuzz", [.. Enumerable.Range(0, 10).Select(c => c.ToString())]);
                // accepted: the oracle is the IDX layout itself, read independently here
                int count = BinaryPrimitives.ReadInt32BigEndian(imagesBytes.AsSpan(4)), rows = BinaryPrimitives.ReadInt32BigEndian(imagesBytes.AsSpan(8)),
                    columns = BinaryPrimitives.ReadInt32BigEndian(imagesBytes.AsSpan(12));
                Assert.That((data.Count, data.Height, data.Width), Is.EqualTo((count, rows, columns)), $"mutant {i} ({kind})");
                Assert.That(imagesBytes.Length, Is.EqualTo(16 + (long)count * rows * columns), $"mutant {i} ({kind})");
                Assert.That(labelsBytes.Skip(8).All(l => l < 10) && labelsBytes.Length == 8 + count, $"mutant {i} ({kind})");
            }
            catch (DatasetException e)
            {
                refused++;
                Assert.That(e.Message, Does.Contain("idx").And.Not.Contain('\n'), $"mutant {i} ({kind})");
            }
            catch (Exception e)
            {
                Assert.Fail($"mutant {i} ({kind}): {e.GetType().Name}: {e.Message}");
            }
        }
        Assert.That(refused, Is.GreaterThan(MutantsPerFormat / 2));
    }

    // ---- CIFAR-10 ---------------------------------------------------------------------------------------------

    [Test]
    public void Cifar10_EveryMutantReadsItsRecordsOrIsRefusedWithADatasetError()
    {
        var random = new Random(37);
        const int records = 3;
        byte[] original = new byte[records * Cifar10Reader.RecordBytes];
        random.NextBytes(original);
        for (int r = 0; r < records; r++) original[r * Cifar10Reader.RecordBytes] = (byte)random.Next(10);
        string path = Path.Combine(_dir, "data_batch_1.bin");
        int refused = 0;
        for (int i = 0; i < MutantsPerFormat; i++)
        {
            (byte[] mutant, string kind) = Mutate(original, random);
            File.WriteAllBytes(path, i % 5 == 4 ? Gzip(mutant) : mutant);
            try
            {
                ImageDataset data = Cifar10Reader.Read([path], "fuzz", recordsPerFile: null);
                Assert.That(mutant.Length % Cifar10Reader.RecordBytes, Is.Zero, $"mutant {i} ({kind})");
                Assert.That(data.Count, Is.EqualTo(mutant.Length / Cifar10Reader.RecordBytes), $"mutant {i} ({kind})");
                for (int r = 0; r < data.Count; r++)
                    Assert.That(data.Labels[r], Is.EqualTo(mutant[r * Cifar10Reader.RecordBytes]), $"mutant {i} ({kind})");
            }
            catch (DatasetException e)
            {
                refused++;
                Assert.That(e.Message, Does.Not.Contain('\n'), $"mutant {i} ({kind})");
            }
            catch (Exception e)
            {
                Assert.Fail($"mutant {i} ({kind}): {e.GetType().Name}: {e.Message}");
            }
        }
        Assert.That(refused, Is.GreaterThan(MutantsPerFormat / 10));
    }
}
