namespace BinaryGrad.Datasets;

/// <summary>
/// A labelled image data set held in memory as bytes: <see cref="Count"/> images of
/// <see cref="Channels"/>×<see cref="Height"/>×<see cref="Width"/> in NCHW order, one byte (0..255) per pixel.
/// </summary>
/// <remarks>
/// Bytes rather than floats keep MNIST at 47 MB and CIFAR-10 at 150 MB instead of four times that; the
/// <see cref="DataLoader"/> converts one batch at a time into a reusable float buffer. Pixel <c>(n, c, y, x)</c> is
/// <c>Pixels[((n·C + c)·H + y)·W + x]</c>.
/// </remarks>
public sealed class ImageDataset
{
    /// <summary>Creates a data set over the given arrays (not copied).</summary>
    /// <exception cref="ArgumentException">The shapes disagree, or a label is not below the number of classes.</exception>
    public ImageDataset(string name, int channels, int height, int width, byte[] pixels, byte[] labels,
                        IReadOnlyList<string> classNames)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfZero(classNames.Count, nameof(classNames));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classNames.Count, 256, nameof(classNames));
        long imageSize = (long)channels * height * width;
        if (pixels.LongLength != imageSize * labels.Length)
            throw new ArgumentException(
                $"{name}: {labels.Length} labels need {imageSize * labels.Length} pixel bytes ({channels}×{height}×{width} each), got {pixels.LongLength}",
                nameof(pixels));
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classNames.Count)
                throw new ArgumentException(
                    $"{name}: label {labels[i]} of item {i} is out of range: expected 0..{classNames.Count - 1}", nameof(labels));

        Name = name;
        Channels = channels;
        Height = height;
        Width = width;
        Pixels = pixels;
        Labels = labels;
        ClassNames = [.. classNames];
    }

    /// <summary>For messages and logs, e.g. <c>mnist-train</c>.</summary>
    public string Name { get; }
    public int Count => Labels.Length;
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }

    /// <summary>Bytes per image: <c>Channels·Height·Width</c>.</summary>
    public int ImageSize => Channels * Height * Width;

    /// <summary>All images, NCHW, <c>Count·ImageSize</c> bytes.</summary>
    public byte[] Pixels { get; }

    /// <summary>One class index per image, each below <see cref="ClassCount"/>.</summary>
    public byte[] Labels { get; }

    public int ClassCount => ClassNames.Length;

    /// <summary>Human-readable class names, indexed by label.</summary>
    public string[] ClassNames { get; }

    /// <summary>The pixels of image <paramref name="index"/>, CHW.</summary>
    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * ImageSize, ImageSize);

    /// <summary>How many images carry each label, indexed by label.</summary>
    public int[] CountPerClass()
    {
        var counts = new int[ClassCount];
        foreach (byte label in Labels) counts[label]++;
        return counts;
    }

    /// <summary>A new data set holding copies of the images at <paramref name="indices"/>, in that order.</summary>
    public ImageDataset Subset(IReadOnlyList<int> indices, string name)
    {
        var pixels = new byte[(long)indices.Count * ImageSize];
        var labels = new byte[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            Image(indices[i]).CopyTo(pixels.AsSpan(i * ImageSize));
            labels[i] = Labels[indices[i]];
        }
        return new ImageDataset(name, Channels, Height, Width, pixels, labels, ClassNames);
    }

    /// <summary>All images converted to floats by <paramref name="normalization"/> (NCHW, same order as
    /// <see cref="Pixels"/>). Allocates <c>4·Pixels.Length</c> bytes; prefer <see cref="DataLoader"/> for training.</summary>
    public float[] ToFloats(Normalization normalization)
    {
        var result = new float[Pixels.LongLength];
        for (int n = 0; n < Count; n++)
            normalization.Apply(Image(n), Channels, result.AsSpan(n * ImageSize, ImageSize));
        return result;
    }

    public override string ToString() => $"{Name}: {Count} images of {Channels}×{Height}×{Width}, {ClassCount} classes";
}
