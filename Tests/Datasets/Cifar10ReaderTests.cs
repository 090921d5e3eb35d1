using BinaryGrad.Datasets;
using NUnit.Framework;

namespace BinaryGrad.Tests.Datasets;

[TestFixture, Category("Datasets")]
public class Cifar10ReaderTests
{
    private DatasetTestFiles _files = null!;

    [SetUp] public void SetUp() => _files = new DatasetTestFiles();
    [TearDown] public void TearDown() => _files.Dispose();

    [Test]
    public void Read_TwoFiles_ConcatenatesRecordsInNchwOrder()
    {
        string first = _files.Write("data_batch_1.bin", DatasetTestFiles.CifarRecords(3));
        string second = _files.Write("data_batch_2.bin", DatasetTestFiles.CifarRecords(2, firstItem: 3), gzip: true);

        ImageDataset data = Cifar10Reader.Read([first, second], "cifar-tiny", recordsPerFile: null);

        Assert.Multiple(() =>
        {
            Assert.That((data.Count, data.Channels, data.Height, data.Width), Is.EqualTo((5, 3, 32, 32)));
            Assert.That(data.Labels, Is.EqualTo(new byte[] { 0, 1, 2, 3, 4 }));
            Assert.That(data.ClassNames[9], Is.EqualTo("truck"));
            // Item 4, green plane (c = 1), row 2, column 3: record pixel k = 1024 + 2·32 + 3.
            Assert.That(data.Image(4)[1024 + 2 * 32 + 3], Is.EqualTo(unchecked((byte)(4 + 1024 + 67))));
        });
    }

    [Test]
    public void Read_WrongSize_NamesFileAndExpectedRecordLayout()
    {
        string path = _files.Write("data_batch_1.bin", DatasetTestFiles.CifarRecords(2)[..^1]);
        Assert.That(() => Cifar10Reader.Read([path], "cifar", recordsPerFile: null), Throws.TypeOf<DatasetException>().With.Message.EqualTo(
            $"{path}: wrong size: expected a whole number of 3073-byte records (1 label + 3×32×32 pixels), file has 6145 bytes"));
    }

    [Test]
    public void Read_OfficialCountRequired_RejectsOtherCounts()
    {
        string path = _files.Write("test_batch.bin", DatasetTestFiles.CifarRecords(2));
        Assert.That(() => Cifar10Reader.Read([path], "cifar"), Throws.TypeOf<DatasetException>().With.Message.Contains(path)
            .And.Message.Contains("expected 10000 records of 3073 bytes (1 label + 3×32×32 pixels) = 30730000 bytes, file has 6146 bytes"));
    }

    [Test]
    public void Read_LabelAboveNine_NamesRecordAndOffset()
    {
        byte[] records = DatasetTestFiles.CifarRecords(3);
        records[2 * Cifar10Reader.RecordBytes] = 10;
        string path = _files.Write("data_batch_3.bin", records);
        Assert.That(() => Cifar10Reader.Read([path], "cifar", recordsPerFile: null), Throws.TypeOf<DatasetException>().With.Message.EqualTo(
            $"{path}: label 10 at byte 6146 (record 2) is out of range: expected 0..9"));
    }
}
