namespace BinaryGrad.Datasets;

/// <summary>
/// A data set file is missing, malformed or fails its checksum, or no source could provide it.
/// </summary>
/// <remarks>
/// The message is written for a person fixing the problem: it names the file, the byte offset where one
/// applies, and what was expected against what was found, for example
/// <c>train-images-idx3-ubyte: truncated at byte 1234: header says 60000 images of 28×28 (47040016 bytes), file has 1234</c>.
/// </remarks>
public sealed class DatasetException : Exception
{
    public DatasetException(string message) : base(message) { }

    public DatasetException(string message, Exception innerException) : base(message, innerException) { }
}
