using BinaryGrad.Datasets;
using NUnit.Framework;

namespace BinaryGrad.Tests.Datasets;

[TestFixture, Category("Datasets")]
public class IdxReaderTests
{
    private DatasetTestFiles _files = null!;

    [SetUp] public void SetUp() => _files = new DatasetTestFiles();
    [TearDown] public void TearDown() => _files.Dispose();

    [TestCase(false), TestCase(true)]
    public void ReadDataset_RawOrGzip_ReadsBackExactly(bool gzip)
    {
        byte[] images = DatasetTestFiles.IdxImages(count: 3, rows: 4, columns: 5);
        // The gzip copy is deliberately named without .gz: detection is by magic bytes, not by name.
        string imagesPath = _files.Write("images-idx3-ubyte", images, gzip);
        string labelsPath = _files.Write("labels-idx1-ubyte", DatasetTestFiles.IdxLabels(7, 0, 9), gzip);

        ImageDataset data = IdxReader.ReadDataset(imagesPath, labelsPath, "tiny", [.. "0123456789".Select(c => c.ToString())]);

        Assert.Multiple(() =>
        {
            Assert.That((data.Count, data.Channels, data.Height, data.Width), Is.EqualTo((3, 1, 4, 5)));
            Assert.That(data.Pixels, Is.EqualTo(images[16..]));
            Assert.That(data.Labels, Is.EqualTo(new byte[] { 7, 0, 9 }));
            Assert.That(data.Image(2)[5 * 1 + 2], Is.EqualTo((byte)(2 * 31 + 1 * 7 + 2)), "image 2, row 1, column 2");
        });
    }

    [Test]
    public void ReadImages_WrongMagic_NamesFileExpectedAndFound()
    {
        string path = _files.Write("train-images-idx3-ubyte", DatasetTestFiles.IdxImages(1, 2, 2, magic: IdxReader.LabelsMagic));
        Assert.That(() => IdxReader.ReadImages(path), Throws.TypeOf<DatasetException>().With.Message.Contains(path)
            .And.Message.Contains("wrong magic number at byte 0").And.Message.Contains("expected 0x00000803").And.Message.Contains("found 0x00000801"));
    }

    [Test]
    public void ReadImages_Truncated_NamesFileOffsetAndExpectedSize()
    {
        byte[] images = DatasetTestFiles.IdxImages(count: 10, rows: 28, columns: 28);
        string path = _files.Write("train-images-idx3-ubyte.gz", images[..1234], gzip: true);
        Assert.That(() => IdxReader.ReadImages(path), Throws.TypeOf<DatasetException>().With.Message.EqualTo(
            $"{path}: truncated at byte 1234: header says 10 images of 28×28 (7856 bytes), file has 1234"));
    }

    [Test]
    public void ReadLabels_ShorterThanHeader_SaysHeaderIsTruncated()
    {
        string path = _files.Write("labels", DatasetTestFiles.IdxLabels(1, 2)[..5]);
        Assert.That(() => IdxReader.ReadLabels(path, 10), Throws.TypeOf<DatasetException>()
            .With.Message.Contains(path).And.Message.Contains("truncated at byte 5: expected a 8-byte IDX header"));
    }

    [Test]
    public void ReadLabels_TrailingBytes_AreAnError()
    {
        string path = _files.Write("labels", [.. DatasetTestFiles.IdxLabels(1, 2), 0]);
        Assert.That(() => IdxReader.ReadLabels(path, 10), Throws.TypeOf<DatasetException>()
            .With.Message.Contains("unexpected data after byte 10: header says 2 labels (10 bytes), file has 11"));
    }

    [Test]
    public void ReadLabels_LabelOutOfRange_NamesValueOffsetAndRange()
    {
        string path = _files.Write("labels", DatasetTestFiles.IdxLabels(3, 10, 4));
        Assert.That(() => IdxReader.ReadLabels(path, 10), Throws.TypeOf<DatasetException>().With.Message.EqualTo(
            $"{path}: label 10 at byte 9 (item 1) is out of range: expected 0..9"));
    }

    [Test]
    public void ReadDataset_LabelCountDiffersFromImageCount_NamesBothFiles()
    {
        string imagesPath = _files.Write("images", DatasetTestFiles.IdxImages(3, 2, 2));
        string labelsPath = _files.Write("labels", DatasetTestFiles.IdxLabels(1, 2));
        Assert.That(() => IdxReader.ReadDataset(imagesPath, labelsPath, "tiny", ["a", "b", "c"]), Throws.TypeOf<DatasetException>()
            .With.Message.EqualTo($"{labelsPath}: has 2 labels but {imagesPath} has 3 images; expected one label per image"));
    }

    [Test]
    public void ReadImages_ZeroRows_IsAnError()
    {
        string path = _files.Write("images", DatasetTestFiles.IdxImages(2, 0, 3));
        Assert.That(() => IdxReader.ReadImages(path), Throws.TypeOf<DatasetException>()
            .With.Message.Contains("invalid dimensions at byte 4").And.Message.Contains("found 2 images of 0×3"));
    }

    [Test]
    public void ReadImages_MissingFile_NamesIt()
    {
        string path = _files.PathOf("absent-idx3-ubyte");
        Assert.That(() => IdxReader.ReadImages(path), Throws.TypeOf<DatasetException>().With.Message.StartsWith($"{path}: cannot read"));
    }
}
