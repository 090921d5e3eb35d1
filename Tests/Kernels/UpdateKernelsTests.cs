using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Sign;
using BinaryGrad.Kernels.Updates;
using NUnit.Framework;

namespace BinaryGrad.Tests.Kernels;

/// <summary>The element loops that moved into Kernels (Adam's update, the float64 row update of the rotation schemes'
/// matrix products, the sign kernels' channel sums) on every forced <see cref="SimdPath"/>, against the formula written
/// out by hand: the vector bodies must give the scalar formula bit for bit, and the Scalar path must really be taken
/// when forced (so the CI's DOTNET_EnableAVX2=0 runs test what they claim).</summary>
[TestFixture, Category("Kernels")]
public class UpdateKernelsTests
{
    private static readonly SimdPath[] Paths = [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    private static double[] Values(int length, int seed, double scale = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (random.NextDouble() * 2 - 1) * scale).ToArray();
    }

    [Test]
    public void Adam_EveryPath_EqualsTheFormula_Float32([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 7, 8, 17, 67)] int length)
    {
        float[] p = [.. Values(length, 1).Select(v => (float)v)], g = [.. Values(length, 2).Select(v => (float)v)];
        float[] m = [.. Values(length, 3, 0.1).Select(v => (float)v)], v = [.. Values(length, 4, 0.01).Select(v => (float)Math.Abs(v))];
        var k = new AdamCoefficients<float>
        {
            Decay = 0.999f, L2 = 0.01f, Beta1 = 0.9f, OneMinusBeta1 = 0.1f, Beta2 = 0.999f, OneMinusBeta2 = 0.001f,
            SqrtCorrection2 = 0.0447f, Eps = 1e-8f, NegativeStep = -0.01f,
        };
        float[] pe = (float[])p.Clone(), me = (float[])m.Clone(), ve = (float[])v.Clone();
        for (int i = 0; i < length; i++)
        {
            float gi = g[i] + 0.01f * pe[i];
            me[i] = 0.9f * me[i] + 0.1f * gi;
            ve[i] = 0.999f * ve[i] + 0.001f * (gi * gi);
            pe[i] = pe[i] * 0.999f + -0.01f * (me[i] / (MathF.Sqrt(ve[i]) / 0.0447f + 1e-8f));
        }
        using (Simd.Force(path)) AdamUpdate.Apply<float>(p, g, m, v, k);
        Assert.That(p, Is.EqualTo(pe), "p");
        Assert.That(m, Is.EqualTo(me), "m");
        Assert.That(v, Is.EqualTo(ve), "v");
    }

    [Test]
    public void RowUpdate_EveryPath_EqualsMultiplyThenAdd([ValueSource(nameof(Paths))] SimdPath path, [Values(1, 3, 4, 9, 33)] int length)
    {
        double[] row = Values(length, 5), b = Values(length, 6), expected = (double[])row.Clone();
        for (int j = 0; j < length; j++) expected[j] = expected[j] + 0.37 * b[j];
        using (Simd.Force(path)) RowUpdate.MultiplyAdd(row, 0.37, b);
        Assert.That(row, Is.EqualTo(expected));
    }

    [Test]
    public void RowUpdate_ShortOperand_NamesBothLengths()
    {
        var e = Assert.Throws<ArgumentException>(() => RowUpdate.MultiplyAdd(new double[4], 1, new double[3]));
        Assert.That(e!.Message, Does.Contain("3").And.Contain("4"));
    }

    [Test]
    public void SignKernelChannelSum_ForcedScalar_IsTheSequentialSum()
    {
        // Lane-parallel partial sums round differently from a sequential sum for most inputs of this size; forcing
        // Scalar must give the sequential float64 sum exactly (before the move the kernel ignored Simd.Force).
        const int n = 4099;
        var random = new Random(7); // magnitudes 1e-12 … 1e12, so the float64 sums are inexact and order-dependent
        float[] x = [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-12, 13))))];
        double sequential = 0;
        for (int i = 0; i < n; i++) sequential += Math.Abs((double)x[i]);
        double mean;
        using (Simd.Force(SimdPath.Scalar)) mean = SignKernels.ChannelMeanAbs(x, 1, n)[0];
        Assert.That(mean, Is.EqualTo(sequential / n));
    }
}
