using BenchmarkDotNet.Running;

namespace BinaryGrad.Bench;

public static class Program
{
    /// <summary>Runs the BenchmarkDotNet suites: <c>dotnet run -c Release --project Bench -- --filter '*'</c>.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
