using System.Buffers.Binary;

namespace BinaryGrad.Datasets;

/// <summary>Images read from an IDX file: <see cref="Count"/> grey-scale images of <see cref="Rows"/>×<see cref="Columns"/>,
/// row-major, one byte per pixel (0 = background for MNIST, 255 = ink).</summary>
public sealed record IdxImages(int Count, int Rows, int Columns, byte[] Pixels);

/// <summary>
/// Reads the IDX format of MNIST and Fashion-MNIST (LeCun et al., http://yann.lecun.com/exdb/mnist/), raw or gzip.
/// </summary>
/// <remarks>
/// <para>An IDX file is a big-endian header followed by the data, with no padding:</para>
/// <code>
/// images: int32 magic 0x00000803 | int32 count | int32 rows | int32 columns | count·rows·columns uint8 pixels
/// labels: int32 magic 0x00000801 | int32 count | count uint8 labels
/// </code>
/// <para>The magic's third byte is the element type (0x08 = unsigned byte) and the fourth the number of dimensions.
/// Everything in the header is checked against the file length, because a truncated download otherwise
/// shows up much later as a model that trains on zeros.</para>
/// </remarks>
public static class IdxReader
{
    /// <summary>Magic number of an IDX file of unsigned bytes with 3 dimensions (count, rows, columns).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an IDX file of unsigned bytes with 1 dimension (count).</summary>
    public const int LabelsMagic = 0x00000801;

    private const int ImagesHeaderBytes = 16, LabelsHeaderBytes = 8;

    /// <summary>Reads an IDX image file (raw or gzip).</summary>
    /// <exception cref="DatasetException">The file is unreadable, has the wrong magic, non-positive dimensions, or a
    /// length that disagrees with its header.</exception>
    public static IdxImages ReadImages(string path) => ParseImages(DatasetFileBytes.ReadAll(path), path);

    /// <summary>Reads an IDX label file (raw or gzip) and checks every label is below <paramref name="classCount"/>.</summary>
    /// <exception cref="DatasetException">The file is unreadable, has the wrong magic, a length that disagrees with its
    /// header, or a label out of range.</exception>
    public static byte[] ReadLabels(string path, int classCount) =>
        ParseLabels(DatasetFileBytes.ReadAll(path), path, classCount);

    /// <summary>Reads an image file and its label file into one single-channel <see cref="ImageDataset"/>.</summary>
    /// <exception cref="DatasetException">Either file is invalid, or they hold different numbers of items.</exception>
    public static ImageDataset ReadDataset(string imagesPath, string labelsPath, string name, IReadOnlyList<string> classNames)
    {
        IdxImages images = ReadImages(imagesPath);
        byte[] labels = ReadLabels(labelsPath, classNames.Count);
        if (labels.Length != images.Count)
            throw new DatasetException(
                $"{labelsPath}: has {labels.Length} labels but {imagesPath} has {images.Count} images; expected one label per image");
        return new ImageDataset(name, 1, images.Rows, images.Columns, images.Pixels, labels, classNames);
    }

    internal static IdxImages ParseImages(byte[] content, string fileName)
    {
        CheckHeader(content, fileName, ImagesMagic, ImagesHeaderBytes, "IDX images: unsigned bytes, 3 dimensions");
        int count = ReadInt32(content, 4), rows = ReadInt32(content, 8), columns = ReadInt32(content, 12);
        if (count < 0 || rows <= 0 || columns <= 0)
            throw new DatasetException(
                $"{fileName}: invalid dimensions at byte 4: expected count ≥ 0 and rows, columns > 0, found {count} images of {rows}×{columns}");
        long expected = ImagesHeaderBytes + (long)count * rows * columns;
        CheckLength(content, fileName, expected, $"{count} images of {rows}×{columns}");
        return new IdxImages(count, rows, columns, content.AsSpan(ImagesHeaderBytes).ToArray());
    }

    internal static byte[] ParseLabels(byte[] content, string fileName, int classCount)
    {
        CheckHeader(content, fileName, LabelsMagic, LabelsHeaderBytes, "IDX labels: unsigned bytes, 1 dimension");
        int count = ReadInt32(content, 4);
        if (count < 0)
            throw new DatasetException($"{fileName}: invalid count at byte 4: expected ≥ 0, found {count}");
        CheckLength(content, fileName, LabelsHeaderBytes + (long)count, $"{count} labels");
        byte[] labels = content.AsSpan(LabelsHeaderBytes).ToArray();
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classCount)
                throw new DatasetException(
                    $"{fileName}: label {labels[i]} at byte {LabelsHeaderBytes + i} (item {i}) is out of range: expected 0..{classCount - 1}");
        return labels;
    }

    private static void CheckHeader(byte[] content, string fileName, int magic, int headerBytes, string what)
    {
        if (content.Length < headerBytes)
            throw new DatasetException(
                $"{fileName}: truncated at byte {content.Length}: expected a {headerBytes}-byte IDX header ({what})");
        int found = ReadInt32(content, 0);
        if (found != magic)
            throw new DatasetException(
                $"{fileName}: wrong magic number at byte 0: expected 0x{magic:X8} ({what}), found 0x{found:X8}");
    }

    private static void CheckLength(byte[] content, string fileName, long expected, string what)
    {
        if (content.Length < expected)
            throw new DatasetException(
                $"{fileName}: truncated at byte {content.Length}: header says {what} ({expected} bytes), file has {content.Length}");
        if (content.Length > expected)
            throw new DatasetException(
                $"{fileName}: unexpected data after byte {expected}: header says {what} ({expected} bytes), file has {content.Length}");
    }

    private static int ReadInt32(byte[] content, int offset) => BinaryPrimitives.ReadInt32BigEndian(content.AsSpan(offset, 4));
}
