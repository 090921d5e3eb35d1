using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels;

/// <summary>The instruction-set paths every vectorized kernel offers. Each kernel keeps a plain scalar
/// reference beside its vector paths; <see cref="Simd.Path"/> says which one the dispatchers take.</summary>
public enum SimdPath
{
    /// <summary>Plain scalar loops: the specification every other path must match.</summary>
    Scalar = 0,
    /// <summary>256-bit vectors (AVX2/FMA on x86).</summary>
    Vector256 = 1,
    /// <summary>512-bit vectors (AVX-512 on x86).</summary>
    Vector512 = 2,
}

/// <summary>Chooses the SIMD path for all kernels. By default the widest path the hardware accelerates;
/// tests and benchmarks can force a narrower one with <see cref="Force"/>, and the runtime switches
/// <c>DOTNET_EnableAVX512=0</c>, <c>DOTNET_EnableAVX2=0</c>, <c>DOTNET_EnableHWIntrinsic=0</c> lower
/// the default the same way for a whole process.</summary>
public static class Simd
{
    private static SimdPath? _forced;

    /// <summary>The widest path this machine accelerates.</summary>
    public static SimdPath Best { get; } =
        Vector512.IsHardwareAccelerated ? SimdPath.Vector512 :
        Vector256.IsHardwareAccelerated ? SimdPath.Vector256 : SimdPath.Scalar;

    /// <summary>True when the hardware runs <paramref name="path"/> natively (Scalar always). Reporting and benchmark
    /// code asks this instead of testing the runtime's vector types itself: software-emulated vectors are exact but
    /// orders of magnitude slower, so they are worth testing, never timing.</summary>
    public static bool Accelerates(SimdPath path) => path switch
    {
        SimdPath.Scalar => true,
        SimdPath.Vector256 => Vector256.IsHardwareAccelerated,
        SimdPath.Vector512 => Vector512.IsHardwareAccelerated,
        _ => throw new ArgumentOutOfRangeException(nameof(path), path, $"Unknown SIMD path {path}; expected Scalar, Vector256 or Vector512."),
    };

    /// <summary>The path kernels take now: the forced one if any, else <see cref="Best"/>.</summary>
    /// <remarks>Forcing a path wider than the hardware accelerates is allowed: .NET then emulates the
    /// vectors in software, which is slow but exact, so tests can exercise the Vector512 code on an AVX2
    /// machine. Benchmarks never do that.</remarks>
    public static SimdPath Path => _forced ?? Best;

    /// <summary>Forces <paramref name="path"/> until the returned scope is disposed (not thread-safe:
    /// meant for tests and benchmarks that run one kernel at a time).</summary>
    public static IDisposable Force(SimdPath path)
    {
        SimdPath? previous = _forced;
        _forced = path;
        return new Restore(previous);
    }

    /// <summary>One line naming the processor's vector capabilities, printed beside every benchmark.</summary>
    public static string IsaLine =>
        $"ISA: Vector512 {(Vector512.IsHardwareAccelerated ? "yes" : "no")}, " +
        $"Vector256 {(Vector256.IsHardwareAccelerated ? "yes" : "no")}, " +
        $"AVX-512BW {(System.Runtime.Intrinsics.X86.Avx512BW.IsSupported ? "yes" : "no")}, " +
        $"AVX2 {(System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "yes" : "no")}, " +
        $"FMA {(System.Runtime.Intrinsics.X86.Fma.IsSupported ? "yes" : "no")}, " +
        $"POPCNT {(System.Runtime.Intrinsics.X86.Popcnt.X64.IsSupported ? "yes" : "no")}; " +
        $"path {Path}; {Environment.ProcessorCount} logical cores; threads {KernelThreads.RunningThreads}" +
        (KernelThreads.RunningThreads < KernelThreads.Count ? $" (work split as {KernelThreads.Count})" : "");

    private sealed class Restore(SimdPath? previous) : IDisposable
    {
        public void Dispose() => _forced = previous;
    }
}
