using System.Globalization;
using System.IO.Compression;

namespace BinaryGrad.Datasets;

/// <summary>
/// The UCI "Optical Recognition of Handwritten Digits" set (Alpaydin &amp; Kaynak 1998, CC BY 4.0): 1797 grey-scale
/// 8×8 images of the digits 0–9, embedded in this assembly so demos and tests train on real data with no download.
/// </summary>
/// <remarks>
/// <para>The source pixels count inked pixels in 4×4 blocks, 0..16. They are stored as bytes
/// <c>round(v·255/16)</c> so every BinaryGrad data set shares the 0..255 scale and the same
/// <see cref="Normalization"/> code; the mapping is one-to-one, and <c>v = round(byte·16/255)</c> recovers the original.</para>
/// <para>The set has no official train/test split, so <see cref="Load"/> makes a fixed stratified one: 1437 training and
/// 360 test images, each class split in the same 4:1 proportion (to within one image), chosen by a seeded
/// <see cref="Xoshiro256"/> so the split is the same on every machine and every .NET version.</para>
/// </remarks>
public static class Digits
{
    public const int ImageCount = 1797, TestCount = 360, TrainCount = ImageCount - TestCount;
    public const int Side = 8, SourceMaxValue = 16;
    private const ulong SplitSeed = 1797;
    private const string ResourceName = "BinaryGrad.Datasets.digits.csv.gz";

    // Parsed once per process; callers get copies, since ImageDataset exposes its arrays.
    private static readonly Lazy<ImageDataset> Parsed = new(ParseResource);

    /// <summary>All 1797 images in file order, as <c>digits</c> (a fresh copy on each call).</summary>
    public static ImageDataset LoadAll()
    {
        ImageDataset all = Parsed.Value;
        return new ImageDataset(all.Name, 1, Side, Side, (byte[])all.Pixels.Clone(), (byte[])all.Labels.Clone(), all.ClassNames);
    }

    private static ImageDataset ParseResource()
    {
        using Stream compressed = typeof(Digits).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new DatasetException($"{ResourceName}: embedded resource missing from {typeof(Digits).Assembly.GetName().Name}");
        using var reader = new StreamReader(new GZipStream(compressed, CompressionMode.Decompress));
        return Parse(reader, ResourceName);
    }

    /// <summary>The fixed stratified split: 1437 training or 360 test images, each in file order.</summary>
    public static ImageDataset Load(DatasetSplit split)
    {
        ImageDataset all = Parsed.Value; // Subset copies
        bool[] isTest = TestMask(all.Labels);
        int[] indices = [.. Enumerable.Range(0, all.Count).Where(i => isTest[i] == (split == DatasetSplit.Test))];
        return all.Subset(indices, split == DatasetSplit.Test ? "digits-test" : "digits-train");
    }

    /// <summary>Marks <see cref="TestCount"/> of the images as test: each class's indices are shuffled, the classes are
    /// laid end to end, and every ⌊ImageCount/TestCount⌋-th position or so (evenly spread) goes to test.</summary>
    internal static bool[] TestMask(byte[] labels)
    {
        var rng = new Xoshiro256(SplitSeed);
        var ordered = new List<int>(labels.Length);
        for (int label = 0; label <= labels.Max(); label++)
        {
            int[] ofClass = [.. Enumerable.Range(0, labels.Length).Where(i => labels[i] == label)];
            rng.Shuffle(ofClass);
            ordered.AddRange(ofClass);
        }
        int testCount = (int)Math.Round((long)labels.Length * TestCount / (double)ImageCount);
        var isTest = new bool[labels.Length];
        for (int position = 0; position < ordered.Count; position++)
            // Position p is test when floor((p+1)·t/n) steps up: exactly t positions, evenly spread over every class.
            if ((long)(position + 1) * testCount / labels.Length != (long)position * testCount / labels.Length)
                isTest[ordered[position]] = true;
        return isTest;
    }

    internal static ImageDataset Parse(TextReader reader, string fileName)
    {
        const int pixelsPerImage = Side * Side;
        var pixels = new List<byte>(ImageCount * pixelsPerImage);
        var labels = new List<byte>(ImageCount);
        int lineNumber = 0;
        for (string? line = reader.ReadLine(); line != null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.Length == 0) continue;
            string[] fields = line.Split(',');
            if (fields.Length != pixelsPerImage + 1)
                throw new DatasetException($"{fileName}: line {lineNumber}: expected {pixelsPerImage + 1} comma-separated values (64 pixels and a label), found {fields.Length}");
            for (int i = 0; i <= pixelsPerImage; i++)
            {
                int max = i < pixelsPerImage ? SourceMaxValue : 9;
                if (!double.TryParse(fields[i], NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                    || value != Math.Floor(value) || value < 0 || value > max)
                    throw new DatasetException($"{fileName}: line {lineNumber}, column {i + 1}: expected an integer 0..{max}, found '{fields[i]}'");
                if (i < pixelsPerImage) pixels.Add((byte)Math.Round(value * 255 / SourceMaxValue));
                else labels.Add((byte)value);
            }
        }
        return new ImageDataset("digits", 1, Side, Side, [.. pixels], [.. labels], DatasetCatalog.Digits.ClassNames);
    }
}
