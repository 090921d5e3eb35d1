using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace BinaryGrad.Bench.Kernels;

/// <summary>BenchmarkDotNet's short run (1 launch, 3 warm-up, 3 measured iterations) in process. In process because
/// the Bench assembly is named BinaryGrad.Bench while its project is Bench.csproj, which the generated-project
/// toolchain cannot resolve; short because the kernel suites reach seconds per operation at n = 2048 and the
/// shared 2-core machine is too noisy for long runs to buy precision.</summary>
public sealed class InProcessShortRunConfig : ManualConfig
{
    public InProcessShortRunConfig() => AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
}
