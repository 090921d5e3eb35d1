using BinaryGrad.Datasets;
using NUnit.Framework;

namespace BinaryGrad.Tests.Datasets;

[TestFixture, Category("Datasets")]
public class DigitsTests
{
    [Test]
    public void LoadAll_Has1797ImagesWithTheDocumentedClassCounts()
    {
        ImageDataset all = Digits.LoadAll();
        Assert.Multiple(() =>
        {
            Assert.That((all.Count, all.Channels, all.Height, all.Width), Is.EqualTo((1797, 1, 8, 8)));
            Assert.That(all.CountPerClass(), Is.EqualTo(new[] { 178, 182, 177, 183, 181, 182, 181, 179, 174, 180 }));
            Assert.That(all.Labels[..5], Is.EqualTo(new byte[] { 0, 1, 2, 3, 4 }));
        });
    }

    [Test]
    public void LoadAll_PixelsAreSourceValuesScaledTo255()
    {
        // First CSV row starts 0,0,5,13,9,1,0,0 and has 15 at column 12.
        ImageDataset all = Digits.LoadAll();
        Assert.Multiple(() =>
        {
            Assert.That(all.Image(0)[..8].ToArray(), Is.EqualTo(new byte[] { 0, 0, 80, 207, 143, 16, 0, 0 }));
            Assert.That(all.Pixels.Select(b => (int)Math.Round(b * 16 / 255.0)).Max(), Is.EqualTo(16));
        });
    }

    [Test]
    public void Load_SplitIs1437And360_StratifiedAndDisjoint()
    {
        ImageDataset train = Digits.Load(DatasetSplit.Train), test = Digits.Load(DatasetSplit.Test);
        int[] all = Digits.LoadAll().CountPerClass(), testCounts = test.CountPerClass();
        Assert.Multiple(() =>
        {
            Assert.That((train.Count, test.Count), Is.EqualTo((1437, 360)));
            for (int c = 0; c < 10; c++)
            {
                Assert.That(testCounts[c], Is.InRange(all[c] / 5 - 1, all[c] / 5 + 1), $"class {c}");
                Assert.That(train.CountPerClass()[c] + testCounts[c], Is.EqualTo(all[c]));
            }
            var trainImages = Enumerable.Range(0, train.Count).Select(i => Convert.ToHexString(train.Image(i))).ToHashSet();
            int shared = Enumerable.Range(0, test.Count).Count(i => trainImages.Contains(Convert.ToHexString(test.Image(i))));
            Assert.That(shared, Is.LessThan(5), "at most a few identical-looking digits, not a leaked split");
        });
    }

    [Test]
    public void Load_IsDeterministic()
    {
        byte[] first = Digits.Load(DatasetSplit.Test).Pixels, second = Digits.Load(DatasetSplit.Test).Pixels;
        Assert.That(second, Is.EqualTo(first));
    }

    [Test]
    public void DatasetStore_LoadDigits_NeedsNoFilesOrSources()
    {
        var store = new DatasetStore(Path.Combine(Path.GetTempPath(), "binarygrad-no-such-dir-" + Guid.NewGuid().ToString("N")), []);
        Assert.That(store.Load("digits", DatasetSplit.Train).Count, Is.EqualTo(1437));
    }
}
