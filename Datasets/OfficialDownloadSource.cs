namespace BinaryGrad.Datasets;

/// <summary>
/// Downloads from the official locations: MNIST's gzip files from the PyTorch S3 mirror (the original
/// yann.lecun.com site throttles and often refuses), Fashion-MNIST's from Zalando's S3 website, and CIFAR-10's
/// tarball from the University of Toronto.
/// </summary>
/// <remarks>The connect timeout is short (10 s by default) so that on machines without internet the store moves on to
/// the registry copies quickly; once connected, large files may take as long as they need.</remarks>
public sealed class OfficialDownloadSource(TimeSpan? connectTimeout = null) : IDatasetSource
{
    public const string MnistBaseUrl = "https://ossci-datasets.s3.amazonaws.com/mnist/";
    public const string FashionMnistBaseUrl = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";
    public const string Cifar10BaseUrl = "https://www.cs.toronto.edu/~kriz/";

    private readonly TimeSpan _connectTimeout = connectTimeout ?? TimeSpan.FromSeconds(10);

    public bool CanProvide(DatasetInfo dataset) => BaseUrl(dataset) != null;

    public string Describe(DatasetInfo dataset) => BaseUrl(dataset) ?? "official download (none for this data set)";

    public void Fetch(DatasetInfo dataset, string stagingDirectory, TextWriter? log, CancellationToken cancellationToken)
    {
        using var client = new HttpClient(new SocketsHttpHandler { ConnectTimeout = _connectTimeout })
        {
            Timeout = Timeout.InfiniteTimeSpan, // large files on slow links; cancellation is the caller's token
        };
        if (dataset.Format == DatasetFormat.Cifar10Binary)
        {
            string tarball = Path.Combine(stagingDirectory, Cifar10Tarball.FileName);
            Download(client, Cifar10BaseUrl + Cifar10Tarball.FileName, tarball, log, cancellationToken);
            Cifar10Tarball.ExtractVerified(tarball, stagingDirectory);
            File.Delete(tarball);
            return;
        }
        foreach (DatasetFileSpec file in dataset.Files)
            Download(client, BaseUrl(dataset) + file.FileName + ".gz", Path.Combine(stagingDirectory, file.FileName + ".gz"), log, cancellationToken);
    }

    private static string? BaseUrl(DatasetInfo dataset) => dataset.Key switch
    {
        "mnist" => MnistBaseUrl,
        "fashion-mnist" => FashionMnistBaseUrl,
        "cifar10" => Cifar10BaseUrl,
        _ => null,
    };

    private static void Download(HttpClient client, string url, string path, TextWriter? log, CancellationToken cancellationToken)
    {
        log?.WriteLine($"downloading {url}");
        try
        {
            using HttpResponseMessage response = client.Send(new HttpRequestMessage(HttpMethod.Get, url),
                                                             HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            response.EnsureSuccessStatusCode();
            using Stream body = response.Content.ReadAsStream(cancellationToken);
            using FileStream file = File.Create(path);
            body.CopyTo(file);
        }
        catch (Exception e) when (e is HttpRequestException or IOException
                                  || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // HttpRequestException often repeats its inner SocketException's text ("Name or service not known (host:443)").
            string reason = e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal)
                ? $"{e.Message} ({inner.Message})" : e.Message;
            // The source is described by its base URL, so the file name is enough to say which download failed.
            throw new DatasetException($"{url[(url.LastIndexOf('/') + 1)..]}: {reason}", e);
        }
    }
}
