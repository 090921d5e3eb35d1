namespace BinaryGrad.Datasets;

/// <summary>
/// One mini-batch, in buffers that <see cref="DataLoader"/> reuses: valid until the enumerator moves to the next batch.
/// </summary>
/// <remarks>The arrays are sized for a full batch; the last batch of an epoch may hold fewer images
/// (<see cref="Count"/>), so read through <see cref="ImageSpan"/> and <see cref="LabelSpan"/>.</remarks>
public sealed class Batch
{
    internal Batch(int capacity, int channels, int height, int width)
    {
        Channels = channels;
        Height = height;
        Width = width;
        Images = new float[capacity * ImageSize];
        Labels = new int[capacity];
        AugmentedImage = new byte[ImageSize];
    }

    /// <summary>Images as floats, NCHW; the first <c>Count·ImageSize</c> are this batch.</summary>
    public float[] Images { get; }

    /// <summary>Labels; the first <see cref="Count"/> are this batch.</summary>
    public int[] Labels { get; }

    /// <summary>Images in this batch (the batch dimension N).</summary>
    public int Count { get; internal set; }

    /// <summary>Position of this batch in its epoch, from 0.</summary>
    public int Index { get; internal set; }

    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int ImageSize => Channels * Height * Width;

    public Span<float> ImageSpan => Images.AsSpan(0, Count * ImageSize);
    public Span<int> LabelSpan => Labels.AsSpan(0, Count);

    /// <summary>Scratch for one augmented image, so augmentation allocates nothing per batch.</summary>
    internal byte[] AugmentedImage { get; }
}
