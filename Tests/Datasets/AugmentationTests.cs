using BinaryGrad.Datasets;
using NUnit.Framework;

namespace BinaryGrad.Tests.Datasets;

[TestFixture, Category("Datasets")]
public class AugmentationTests
{
    // A 1×3×3 image:  1 2 3 / 4 5 6 / 7 8 9
    private static readonly byte[] Image = [1, 2, 3, 4, 5, 6, 7, 8, 9];

    private static byte[] Apply(int padding, int offsetY, int offsetX, bool flip, byte[]? image = null, int channels = 1)
    {
        image ??= Image;
        var result = new byte[image.Length];
        Augmentation.CropAndFlip(image, result, channels, 3, 3, padding, offsetY, offsetX, flip);
        return result;
    }

    [Test]
    public void CropAndFlip_CentreOffsetNoFlip_IsIdentity() => Assert.That(Apply(1, 1, 1, false), Is.EqualTo(Image));

    [Test]
    public void CropAndFlip_TopLeftWindow_ShiftsImageDownRightWithZeros() =>
        Assert.That(Apply(1, 0, 0, false), Is.EqualTo(new byte[] { 0, 0, 0, 0, 1, 2, 0, 4, 5 }));

    [Test]
    public void CropAndFlip_BottomRightWindowOfPadTwo_ShiftsUpLeftByTwo() =>
        Assert.That(Apply(2, 4, 4, false), Is.EqualTo(new byte[] { 9, 0, 0, 0, 0, 0, 0, 0, 0 }));

    [Test]
    public void CropAndFlip_FlipOnly_MirrorsRows() =>
        Assert.That(Apply(0, 0, 0, true), Is.EqualTo(new byte[] { 3, 2, 1, 6, 5, 4, 9, 8, 7 }));

    [Test]
    public void CropAndFlip_CropThenFlip_MirrorsTheCroppedWindow() =>
        // Crop (0, 0) gives 0 0 0 / 0 1 2 / 0 4 5; mirrored: 0 0 0 / 2 1 0 / 5 4 0.
        Assert.That(Apply(1, 0, 0, true), Is.EqualTo(new byte[] { 0, 0, 0, 2, 1, 0, 5, 4, 0 }));

    [Test]
    public void CropAndFlip_AppliesTheSameWindowToEveryChannel()
    {
        byte[] twoChannels = [.. Image, .. Image.Select(b => (byte)(b + 10))];
        Assert.That(Apply(1, 2, 1, false, twoChannels, channels: 2),
                    Is.EqualTo(new byte[] { 4, 5, 6, 7, 8, 9, 0, 0, 0, 14, 15, 16, 17, 18, 19, 0, 0, 0 }));
    }

    [Test]
    public void CropAndFlip_OffsetBeyondPadding_IsRejected() =>
        Assert.That(() => Apply(1, 3, 0, false), Throws.ArgumentException.With.Message.Contains("[0, 2]"));
}
