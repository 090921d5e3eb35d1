using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using System.Text.Encodings.Web;
using System.Text.Json;
using BinaryGrad.Kernels;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad bench gemm|conv [--json]</c>: times our float GEMM or convolution kernels and, in the same
/// run, the peer (NumPy on OpenBLAS for GEMM, PyTorch CPU for convolution) with the same thread count, and reports
/// GFLOP/s and the ratio ours/peer. Absolute figures move with the shared machine's load and clock; the ratio of
/// two measurements taken back to back is what to compare.</summary>
/// <remarks>Timing: warm-up runs, then the median of several Stopwatch runs. FLOP counts: GEMM 2·n³; convolution
/// forward 2·N·C_out·H_out·W_out·C_in·kH·kW, forward+backward three times that (the input and the weight gradients
/// each cost one forward). Peers run through <c>python3</c> (or the system <c>/usr/bin/python3</c>, where Debian
/// installs them) only if their modules import; otherwise the peer column is empty. Peer environment only:
/// OPENBLAS_NUM_THREADS / OMP_NUM_THREADS = <see cref="KernelThreads.Count"/>, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
/// removed (they force a slower OpenBLAS kernel), LD_LIBRARY_PATH = the OpenMP OpenBLAS folder; for PyTorch
/// OPENBLAS_NUM_THREADS = 1, because OpenBLAS's threads fight PyTorch's OpenMP threads for the cores; and glibc's
/// malloc told to keep freed memory (<see cref="PeerMallocEnvironment"/>), without which every peer call page-faults
/// its large temporaries in afresh.</remarks>
public static class BenchGemmConv
{
    private static readonly int[] GemmSizes = [128, 256, 512, 1024, 2048];

    /// <summary>The three reference layers (batch 64, NCHW, stride 1): name, C_in, C_out, H = W, kernel, padding.</summary>
    private static readonly (string Name, int InC, int OutC, int Size, int Kernel, int Pad)[] ConvLayers =
    [
        ("conv3x3 128->128 16x16", 128, 128, 16, 3, 1),
        ("conv3x3 64->64 32x32", 64, 64, 32, 3, 1),
        ("conv5x5 1->32 28x28", 1, 32, 28, 5, 2),
    ];

    private const int ConvBatch = 64;

    /// <summary>Runs the benchmark <paramref name="what"/> ("gemm" or "conv") and writes a table, or with
    /// <paramref name="json"/> one JSON object per line: <c>name</c>, <c>ours</c> (GFLOP/s), <c>peer</c> (GFLOP/s or
    /// null), <c>ratio</c> (ours/peer or null). Returns 0, or 2 for an unknown <paramref name="what"/>.</summary>
    public static int Run(string what, bool json, TextWriter output)
    {
        List<Row> rows;
        switch (what.ToLowerInvariant())
        {
            case "gemm": rows = BenchGemm(); break;
            case "conv": rows = BenchConv(); break;
            default:
                output.WriteLine($"unknown benchmark '{what}': expected 'gemm' or 'conv'");
                return 2;
        }
        if (json)
        {
            foreach (Row row in rows)
                output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["name"] = row.Name, ["ours"] = Math.Round(row.Ours, 2),
                    ["peer"] = row.Peer is { } p ? Math.Round(p, 2) : null,
                    ["ratio"] = row.Peer is { } q ? Math.Round(row.Ours / q, 3) : null,
                }, JsonLines));
            return 0;
        }
        output.WriteLine(Simd.IsaLine);
        output.WriteLine(PeakLine());
        output.WriteLine(s_peerBlas is { } blas ? $"peer BLAS (threadpoolctl): {blas}" : "peer BLAS: not reported");
        output.WriteLine($"{"benchmark",-34} {"ours GFLOP/s",13} {"peer GFLOP/s",13} {"ratio",7}");
        foreach (Row row in rows)
            output.WriteLine($"{row.Name,-34} {row.Ours,13:F1} {(row.Peer is { } p ? p.ToString("F1", CultureInfo.InvariantCulture) : "n/a"),13} " +
                             $"{(row.Peer is { } q ? (row.Ours / q).ToString("F2", CultureInfo.InvariantCulture) : "n/a"),7}");
        return 0;
    }

    private sealed record Row(string Name, double Ours, double? Peer);

    /// <summary>The last peer's own account of its BLAS (library, threading layer, thread count), if it gave one.</summary>
    private static string? s_peerBlas;

    // Names such as "conv3x3 64->64 32x32 fwd+bwd" are printed as they are rather than as \u003E / \u002B escapes.
    private static readonly JsonSerializerOptions JsonLines = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    // Ours and the peer alternate size by size (one peer process per size), so that both measurements of a row
    // see the same machine load: on a shared machine the load drifts over the seconds a whole sweep takes.
    private static List<Row> BenchGemm()
    {
        var rows = new List<Row>();
        foreach (int n in GemmSizes)
        {
            var random = new Random(n);
            float[] a = RandomArray(random, n * n), b = RandomArray(random, n * n), c = new float[n * n];
            double flops = 2.0 * n * n * n;
            double seconds = MedianSeconds(() => Gemm.Multiply(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n), flops);
            string name = $"sgemm n={n}";
            Dictionary<string, double> peer = RunPeer("numpy_gemm.py", "numpy", n.ToString(CultureInfo.InvariantCulture), openBlasThreads: KernelThreads.Count);
            rows.Add(new Row(name, flops / seconds / 1e9, peer.TryGetValue(name, out double p) ? p : null));
        }
        return rows;
    }

    private static List<Row> BenchConv()
    {
        var rows = new List<Row>();
        for (int index = 0; index < ConvLayers.Length; index++)
        {
            var layer = ConvLayers[index];
            var g = new Conv2DGeometry(ConvBatch, layer.InC, layer.Size, layer.Size, layer.OutC, layer.Kernel, layer.Kernel,
                1, 1, layer.Pad, layer.Pad, 1, 1);
            var random = new Random(layer.InC);
            float[] x = RandomArray(random, g.InputLength), w = RandomArray(random, g.WeightLength), bias = RandomArray(random, layer.OutC);
            float[] y = new float[g.OutputLength], dy = RandomArray(random, g.OutputLength);
            float[] dx = new float[g.InputLength], dw = new float[g.WeightLength], db = new float[layer.OutC];
            double flops = 2.0 * g.Batch * g.OutChannels * g.OutHeight * g.OutWidth * g.InChannels * g.KernelHeight * g.KernelWidth;
            double forward = MedianSeconds(() => Conv2DKernels.Forward(g, x, w, bias, y), flops);
            double both = MedianSeconds(() =>
            {
                Conv2DKernels.Forward(g, x, w, bias, y);
                Array.Clear(dx); Array.Clear(dw); Array.Clear(db); // the backward kernels add into their outputs
                Conv2DKernels.BackwardInput(g, dy, w, dx);
                Conv2DKernels.BackwardWeight(g, x, dy, dw, db);
            }, 3 * flops);
            Dictionary<string, double> peer = RunPeer("torch_conv.py", "torch",
                $"{KernelThreads.Count.ToString(CultureInfo.InvariantCulture)} {index.ToString(CultureInfo.InvariantCulture)}", openBlasThreads: 1);
            foreach (var (name, gflops) in new[] { ($"{layer.Name} fwd", flops / forward / 1e9), ($"{layer.Name} fwd+bwd", 3 * flops / both / 1e9) })
                rows.Add(new Row(name, gflops, peer.TryGetValue(name, out double p) ? p : null));
        }
        return rows;
    }

    /// <summary>Median wall time of <paramref name="body"/> after two warm-up calls; the repeat count targets about
    /// 20 GFLOP of work per size (3 to 30 runs), so large sizes still finish in seconds.</summary>
    internal static double MedianSeconds(Action body, double flops)
    {
        body();
        body();
        int repeats = (int)Math.Clamp(2e10 / flops, 3, 30);
        var times = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            long start = Stopwatch.GetTimestamp();
            body();
            times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(times);
        return times[repeats / 2];
    }

    internal static float[] RandomArray(Random random, int length)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }

    /// <summary>Runs a peer script and returns name → <paramref name="valueKey"/> (GFLOP/s by default) from its JSON
    /// lines; empty when no interpreter can import <paramref name="module"/> or the script is not found. Shared with
    /// <see cref="BenchTrain"/>: the peer-only environment (thread counts, OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
    /// removed, OpenMP OpenBLAS unless <paramref name="openMpBlas"/> is false) is set here and nowhere else.</summary>
    internal static Dictionary<string, double> RunPeer(string script, string module, string arguments, int openBlasThreads, string valueKey = "gflops", bool openMpBlas = true)
    {
        var results = new Dictionary<string, double>();
        string? scriptPath = FindPeerScript(script);
        string? python = scriptPath is null ? null : FindPython(module);
        if (scriptPath is null || python is null)
        {
            // said once per script, on stderr (a --json reader sees only the null peer fields)
            if (s_peerProblemsSaid.Add(script))
                Console.Error.WriteLine(scriptPath is null
                    ? $"bench: no peer: Bench/peers/{script} is neither in the working directory or a folder above it nor beside the binary ({AppContext.BaseDirectory})."
                    : $"bench: no peer: no python3 here imports '{module}' (the Debian packages python3-torch and python3-numpy provide it; a clone's Bench/peers/install-peers.sh installs them).");
            return results;
        }
        // without OpenBLAS the peer's matrix products run on the reference BLAS, far from its best: say so (once)
        if (OperatingSystem.IsLinux() && OpenMpOpenBlasFolder() is null && PthreadOpenBlasFolder() is null && s_peerProblemsSaid.Add("openblas"))
            Console.Error.WriteLine("bench: the peer runs without OpenBLAS (neither libopenblas0-openmp nor libopenblas0-pthread is installed), so its " +
                                    "matrix products use the slow reference BLAS and its figures are not its best; Bench/peers/install-peers.sh installs both.");
        var start = new ProcessStartInfo(python, $"\"{scriptPath}\" {arguments}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.Environment["OPENBLAS_NUM_THREADS"] = openBlasThreads.ToString(CultureInfo.InvariantCulture);
        start.Environment["OMP_NUM_THREADS"] = KernelThreads.Count.ToString(CultureInfo.InvariantCulture);
        start.Environment.Remove("OPENBLAS_CORETYPE");
        start.Environment.Remove("OPENBLAS_L2_SIZE");
        if (openMpBlas && OpenMpOpenBlasFolder() is { } folder) start.Environment["LD_LIBRARY_PATH"] = folder;
        foreach ((string key, string value) in PeerMallocEnvironment) start.Environment[key] = value;
        using Process process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { }; // drained so a chatty peer cannot block on a full pipe
        process.BeginErrorReadLine();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            if (doc.RootElement.TryGetProperty("blas", out JsonElement blas) && blas.ValueKind != JsonValueKind.Null)
                s_peerBlas = blas.GetRawText();
            if (doc.RootElement.TryGetProperty("name", out JsonElement name) && doc.RootElement.TryGetProperty(valueKey, out JsonElement value))
                results[name.GetString()!] = value.GetDouble();
        }
        process.WaitForExit();
        return results;
    }

    /// <summary>glibc malloc settings every peer runs with: no mmap for large blocks, and no trimming of the heap's top.</summary>
    /// <remarks>Why: by default glibc serves blocks above its (adaptive, at most 32 MiB) mmap threshold with a fresh
    /// mmap and gives them back with munmap, and trims the heap once 128 KiB are free at its top. A PyTorch or NumPy
    /// call allocates its activations and outputs anew each time, so every call then page-faults (and the kernel
    /// zeroes) megabytes of fresh pages: measured on a 2-core Zen 5 in one session, PyTorch's ResNet-20 evaluation
    /// at batch 128 ran at 430–2 770 img/s depending on how the threshold had adapted (median about 650), and at
    /// 2 690–2 970 with these settings; VGG-Small 52–68 → 249–264 img/s; the small CNN's training step 640–780 →
    /// 3 020–3 100 img/s. Keeping the memory is what jemalloc or tcmalloc (PyTorch's own tuning guide) would give; it
    /// never made a peer slower. Ignored by other C libraries.</remarks>
    internal static readonly (string Key, string Value)[] PeerMallocEnvironment =
    [
        ("MALLOC_MMAP_MAX_", "0"),
        ("MALLOC_TRIM_THRESHOLD_", "68719476736"),
    ];

    private static readonly HashSet<string> s_peerProblemsSaid = [];

    private static string? FindPeerScript(string script)
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "Bench", "peers", script);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }

    private static string? FindPython(string module)
    {
        foreach (string python in new[] { "python3", "/usr/bin/python3" })
        {
            try
            {
                using Process? probe = Process.Start(new ProcessStartInfo(python, $"-c \"import {module}\"")
                    { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false });
                if (probe is null) continue;
                probe.WaitForExit();
                if (probe.ExitCode == 0) return python;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // not installed under this name
            }
        }
        return null;
    }

    /// <summary>The folder of Debian's pthread OpenBLAS build (package libopenblas0-pthread), if installed.</summary>
    internal static string? PthreadOpenBlasFolder() => OpenBlasFolder("openblas-pthread");

    /// <summary>The folder of Debian's OpenMP OpenBLAS build (package libopenblas0-openmp), if installed.</summary>
    internal static string? OpenMpOpenBlasFolder() => OpenBlasFolder("openblas-openmp");

    private static string? OpenBlasFolder(string build)
    {
        foreach (string triplet in new[] { "x86_64-linux-gnu", "aarch64-linux-gnu" })
            if (Directory.Exists($"/usr/lib/{triplet}/{build}")) return $"/usr/lib/{triplet}/{build}";
        return null;
    }

    /// <summary>Theoretical FMA peak = cores × 2 FMA units × lanes × 2 FLOP × clock (clock from /proc/cpuinfo), and
    /// the measured throughput of an in-register FMA loop on <see cref="KernelThreads.Count"/> threads, which
    /// needs no clock figure.</summary>
    internal static string PeakLine()
    {
        int lanes = Simd.Path switch { SimdPath.Vector512 => 16, SimdPath.Vector256 => 8, _ => 1 };
        double? mhz = null;
        try
        {
            string? line = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("cpu MHz", StringComparison.Ordinal)) : null;
            if (line is not null) mhz = double.Parse(line[(line.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            // no clock figure on this system
        }
        int cores = KernelThreads.Count;
        string theoretical = mhz is { } f
            ? $"{cores * 2 * lanes * 2 * f / 1000:F0} GFLOP/s float ({cores} threads × 2 FMA × {lanes} lanes × 2 × {f / 1000:F2} GHz)"
            : "unknown clock";
        // The zmm loop is the peak the Vector512 kernels compete against: Zen 4 runs it on 256-bit units (about the ymm
        // figure), Zen 5 on 512-bit units (about twice it). The nominal clock in /proc/cpuinfo is not the boost clock.
        string zmm = Simd.Accelerates(SimdPath.Vector512) ? $", zmm FMA loop {MeasuredFmaPeak(wide: true):F0} GFLOP/s" : "";
        return $"FMA peak: theoretical {theoretical}; measured ymm FMA loop {MeasuredFmaPeak(wide: false):F0} GFLOP/s{zmm}";
    }

    /// <summary>float32 FLOP/s of ten independent FMA chains per thread on all kernel threads, best of three.</summary>
    internal static double MeasuredFmaPeak(bool wide)
    {
        if (!Simd.Accelerates(SimdPath.Vector256) || (wide && !Simd.Accelerates(SimdPath.Vector512))) return 0;
        const int iterations = 20_000_000;
        int lanes = wide ? 16 : 8;
        double best = 0;
        for (int trial = 0; trial < 3; trial++)
        {
            long start = Stopwatch.GetTimestamp();
            KernelThreads.For(KernelThreads.Count, 1, (s, e) => { for (int t = s; t < e; t++) { if (wide) FmaLoop512(iterations); else FmaLoop(iterations); } });
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            best = Math.Max(best, KernelThreads.Count * (double)iterations * 10 * lanes * 2 / seconds / 1e9);
        }
        return best;
    }

    /// <summary><see cref="FmaLoop"/> on 512-bit vectors.</summary>
    private static float FmaLoop512(int iterations)
    {
        Vector512<float> m = Vector512.Create(0.999f), add = Vector512.Create(1e-3f);
        Vector512<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m;
        for (int i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, add); a1 = Vector512.FusedMultiplyAdd(a1, m, add);
            a2 = Vector512.FusedMultiplyAdd(a2, m, add); a3 = Vector512.FusedMultiplyAdd(a3, m, add);
            a4 = Vector512.FusedMultiplyAdd(a4, m, add); a5 = Vector512.FusedMultiplyAdd(a5, m, add);
            a6 = Vector512.FusedMultiplyAdd(a6, m, add); a7 = Vector512.FusedMultiplyAdd(a7, m, add);
            a8 = Vector512.FusedMultiplyAdd(a8, m, add); a9 = Vector512.FusedMultiplyAdd(a9, m, add);
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9).GetElement(0);
    }

    /// <summary>Ten independent FMA chains: enough to cover the FMA latency on two pipes.</summary>
    private static float FmaLoop(int iterations)
    {
        Vector256<float> m = Vector256.Create(0.999f), add = Vector256.Create(1e-3f);
        Vector256<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m;
        for (int i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, add); a1 = Vector256.FusedMultiplyAdd(a1, m, add);
            a2 = Vector256.FusedMultiplyAdd(a2, m, add); a3 = Vector256.FusedMultiplyAdd(a3, m, add);
            a4 = Vector256.FusedMultiplyAdd(a4, m, add); a5 = Vector256.FusedMultiplyAdd(a5, m, add);
            a6 = Vector256.FusedMultiplyAdd(a6, m, add); a7 = Vector256.FusedMultiplyAdd(a7, m, add);
            a8 = Vector256.FusedMultiplyAdd(a8, m, add); a9 = Vector256.FusedMultiplyAdd(a9, m, add);
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9).GetElement(0);
    }
}
