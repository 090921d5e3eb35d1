namespace BinaryGrad.Datasets;

/// <summary>
/// The two standard CIFAR-style augmentations, as a pure function of explicit choices so they can be tested
/// exactly; <see cref="DataLoader"/> makes the random choices.
/// </summary>
/// <remarks>
/// Random crop with zero padding (He et al. 2016, §4.2): pad each side with <c>padding</c> zero pixels, then cut a
/// window of the original size at offset (<c>offsetY</c>, <c>offsetX</c>) ∈ [0, 2·padding]². Offset (padding, padding)
/// is the identity. Padding is zero in byte space, before normalization, as torchvision's <c>RandomCrop</c> pads the
/// image before <c>Normalize</c>; padded pixels therefore become <c>−mean/std</c>. Horizontal flip mirrors each row
/// after the crop.
/// </remarks>
public static class Augmentation
{
    /// <summary>Writes the cropped, optionally mirrored CHW image:
    /// <c>destination[c, y, x] = padded[c, y + offsetY, x' + offsetX]</c> with <c>x' = flip ? W−1−x : x</c>, where
    /// <c>padded[c, i, j] = image[c, i − padding, j − padding]</c> inside the image and 0 outside.</summary>
    /// <exception cref="ArgumentException">A span has the wrong length, or an offset is outside [0, 2·padding].</exception>
    public static void CropAndFlip(ReadOnlySpan<byte> image, Span<byte> destination, int channels, int height, int width,
                                   int padding, int offsetY, int offsetX, bool flip)
    {
        int size = channels * height * width;
        if (image.Length != size || destination.Length < size)
            throw new ArgumentException($"Expected {size}-byte spans for {channels}×{height}×{width}, got {image.Length} and {destination.Length}.");
        if (padding < 0 || offsetY < 0 || offsetX < 0 || offsetY > 2 * padding || offsetX > 2 * padding)
            throw new ArgumentException($"Offsets ({offsetY}, {offsetX}) must lie in [0, {2 * padding}] for padding {padding}.");

        int shiftY = offsetY - padding, shiftX = offsetX - padding; // source = destination + shift
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<byte> source = image.Slice(c * height * width, height * width);
            Span<byte> target = destination.Slice(c * height * width, height * width);
            for (int y = 0; y < height; y++)
            {
                int sourceY = y + shiftY;
                Span<byte> row = target.Slice(y * width, width);
                if (sourceY < 0 || sourceY >= height) { row.Clear(); continue; }
                for (int x = 0; x < width; x++)
                {
                    int sourceX = (flip ? width - 1 - x : x) + shiftX;
                    row[x] = sourceX >= 0 && sourceX < width ? source[sourceY * width + sourceX] : (byte)0;
                }
            }
        }
    }
}
