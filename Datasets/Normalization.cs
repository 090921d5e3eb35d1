namespace BinaryGrad.Datasets;

/// <summary>
/// Converts pixel bytes to floats: <c>x = (byte / 255 − mean[c]) / std[c]</c> for channel <c>c</c>.
/// </summary>
/// <remarks>
/// <para>Standardizing each input channel to roughly zero mean and unit variance keeps the first layer's
/// pre-activations in the range its initialization assumes; for binarized networks it also centres the inputs
/// on the sign threshold. The constants are the means and standard deviations of each training set's pixels
/// after scaling to [0, 1], the values used throughout the literature so results stay comparable.</para>
/// <para>Conversion goes through a 256-entry table per channel, so it costs one lookup per pixel and gives
/// bit-identical floats on every machine.</para>
/// </remarks>
public sealed class Normalization
{
    private readonly float[][] _tablePerChannel;

    /// <summary>Per-channel standardization; a single mean/std pair applies to every channel.</summary>
    /// <exception cref="ArgumentException">Means and stds differ in length, are empty, or a std is not positive.</exception>
    public Normalization(IReadOnlyList<float> mean, IReadOnlyList<float> std)
    {
        if (mean.Count == 0 || mean.Count != std.Count)
            throw new ArgumentException($"Need one std per mean, and at least one: got {mean.Count} means and {std.Count} stds.");
        Mean = [.. mean];
        Std = [.. std];
        _tablePerChannel = new float[Mean.Length][];
        for (int c = 0; c < Mean.Length; c++)
        {
            if (!(Std[c] > 0f)) throw new ArgumentException($"std[{c}] must be positive, got {Std[c]}.", nameof(std));
            _tablePerChannel[c] = new float[256];
            for (int b = 0; b < 256; b++) _tablePerChannel[c][b] = (b / 255f - Mean[c]) / Std[c];
        }
    }

    public float[] Mean { get; }
    public float[] Std { get; }

    /// <summary>Scales bytes to [0, 1]: mean 0, std 1.</summary>
    public static Normalization UnitRange { get; } = new([0f], [1f]);

    /// <summary>MNIST training set: mean 0.1307, std 0.3081.</summary>
    public static Normalization Mnist { get; } = new([0.1307f], [0.3081f]);

    /// <summary>Fashion-MNIST training set: mean 0.2860, std 0.3530.</summary>
    public static Normalization FashionMnist { get; } = new([0.2860f], [0.3530f]);

    /// <summary>CIFAR-10 training set, RGB: mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616).</summary>
    /// <remarks>These are the true per-pixel standard deviations; some code bases use (0.2023, 0.1994, 0.2010),
    /// the mean of per-image standard deviations, which is a different statistic.</remarks>
    public static Normalization Cifar10 { get; } = new([0.4914f, 0.4822f, 0.4465f], [0.2470f, 0.2435f, 0.2616f]);

    /// <summary>The standard constants for a data set name known to <see cref="DatasetStore"/>; for digits, which has
    /// no published constants, they are computed from the embedded training split.</summary>
    /// <exception cref="ArgumentException">The name is unknown.</exception>
    public static Normalization For(string datasetName) => DatasetCatalog.Get(datasetName).Key switch
    {
        "mnist" => Mnist,
        "fashion-mnist" => FashionMnist,
        "cifar10" => Cifar10,
        _ => DigitsNormalization.Value,
    };

    private static readonly Lazy<Normalization> DigitsNormalization = new(() => FromData(Digits.Load(DatasetSplit.Train)));

    /// <summary>Per-channel mean and standard deviation of <paramref name="data"/> after scaling to [0, 1]; use the
    /// training split, never the test split.</summary>
    public static Normalization FromData(ImageDataset data)
    {
        var mean = new float[data.Channels];
        var std = new float[data.Channels];
        int planeSize = data.Height * data.Width;
        for (int c = 0; c < data.Channels; c++)
        {
            var histogram = new long[256];
            for (int n = 0; n < data.Count; n++)
                foreach (byte b in data.Pixels.AsSpan((n * data.Channels + c) * planeSize, planeSize)) histogram[b]++;
            double total = (double)data.Count * planeSize, sum = 0, sumOfSquares = 0;
            for (int b = 0; b < 256; b++) { sum += histogram[b] * (b / 255.0); sumOfSquares += histogram[b] * (b / 255.0) * (b / 255.0); }
            double m = sum / total;
            mean[c] = (float)m;
            std[c] = (float)Math.Sqrt(Math.Max(sumOfSquares / total - m * m, 1e-12));
        }
        return new Normalization(mean, std);
    }

    /// <summary>Converts one CHW image of <paramref name="channels"/> planes into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The channel count disagrees with this normalization (unless it has one
    /// channel, which applies to all), or the destination is shorter than the source.</exception>
    public void Apply(ReadOnlySpan<byte> image, int channels, Span<float> destination)
    {
        if (Mean.Length != 1 && Mean.Length != channels)
            throw new ArgumentException($"This normalization has {Mean.Length} channels, the image has {channels}.", nameof(channels));
        if (destination.Length < image.Length)
            throw new ArgumentException($"Destination holds {destination.Length} floats, the image has {image.Length} bytes.", nameof(destination));
        int planeSize = image.Length / channels;
        for (int c = 0; c < channels; c++)
        {
            float[] table = _tablePerChannel[Mean.Length == 1 ? 0 : c];
            ReadOnlySpan<byte> plane = image.Slice(c * planeSize, planeSize);
            Span<float> output = destination.Slice(c * planeSize, planeSize);
            for (int i = 0; i < plane.Length; i++) output[i] = table[plane[i]];
        }
    }
}
