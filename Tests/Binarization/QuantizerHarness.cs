using BinaryGrad.Autograd;
using BinaryGrad.Binarization;

namespace BinaryGrad.Tests.Binarization;

/// <summary>Runs a quantizer forward and backward on given values and returns plain arrays.</summary>
internal static class QuantizerHarness
{
    public sealed record Result(double[] Y, double[] Dx, double[][] ParameterGrads);

    public static Result Run(Quantizer q, double[] x, int[]? shape = null, double[]? dy = null, DType dtype = DType.Float64)
    {
        shape ??= [x.Length];
        dy ??= [.. Enumerable.Repeat(1.0, x.Length)];
        Tensor input = Tensor.FromValues(x, shape, dtype, requiresGrad: true);
        foreach (Parameter p in q.Parameters) p.ZeroGrad();
        Tensor y = q.Apply(input);
        y.Backward(dy);
        return new Result(y.ToDoubleArray(), input.Grad!.ToDoubleArray(),
            [.. q.Parameters.Select(p => p.Grad?.ToDoubleArray() ?? new double[p.Length])]);
    }

    /// <summary>Random points plus the edge cases of a clipped estimator: 0, ±c, just inside and just outside ±c.</summary>
    public static double[] Probes(double clip = 1, int random = 40, ulong seed = 3)
    {
        var rng = new Rng(seed);
        var xs = new List<double> { 0, clip, -clip, clip - 1e-6, -clip + 1e-6, clip + 1e-6, -clip - 1e-6, 1e-12, -1e-12 };
        for (int i = 0; i < random; i++) xs.Add(rng.Uniform(-2.5 * clip, 2.5 * clip));
        return [.. xs];
    }

    public static double[] Upstream(int n, ulong seed = 5)
    {
        var rng = new Rng(seed);
        return [.. Enumerable.Range(0, n).Select(_ => rng.Uniform(-2, 2))];
    }
}
