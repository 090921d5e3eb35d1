using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels.Sign;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>VISPA's float32 span path (<see cref="SdpBinaryWeight"/> with float32 m and Z) against the computation it
/// replaces — the scalar float32 projection <c>Project&lt;float&gt;</c> followed by the float64 loops of
/// the float64 loops of the generic <c>Forward</c>/<c>Backward</c> rounded once — on odd sizes (vector body plus scalar tail). The operation
/// order is the same, so every comparison is bit-for-bit.</summary>
[TestFixture, Category("Binarization"), Category("Kernels")]
public class SdpBinaryWeightFloat32Tests
{
    private static float[] Normal(int count, ulong seed, double std)
    {
        var rng = new Rng(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(std * rng.Normal());
        return values;
    }

    [TestCase(1, 1)]
    [TestCase(4, 37)]
    [TestCase(8, 203)]
    public void ProjectionKernel_IsBitIdenticalToScalarProjection(int rank, int n)
    {
        float[] m = Normal(n, 1, 0.3), z = Normal(rank * n, 2, 5);
        m[0] = 0; // m_0 = 0 and Z_{:,0} = 0: left unchanged by both
        for (int k = 0; k < rank; k++) z[k * n] = 0;
        float[] mFast = (float[])m.Clone(), zFast = (float[])z.Clone();
        SdpBinaryWeight.Project<float>(m, z, rank, 100f);
        LowRankSignKernels.Project(mFast, zFast, rank, 100f);
        Assert.That(mFast, Is.EqualTo(m));
        Assert.That(zFast, Is.EqualTo(z));
        Assert.That(mFast[0], Is.EqualTo(0f));
    }

    [TestCase(1, 1)]
    [TestCase(4, 37)]
    [TestCase(8, 203)]
    public void SampleSignAndFactorGradientKernels_AreBitIdenticalToFloat64Loops(int rank, int n)
    {
        float[] m = Normal(n, 3, 0.3), z = Normal(rank * n, 4, 1), dy = Normal(n, 5, 1);
        double[] r = [.. Normal(rank, 6, 0.1).Select(v => (double)v)];
        var b = new float[n];
        LowRankSignKernels.SampleSign(m, z, r, b);
        var dz = new float[rank * n];
        LowRankSignKernels.FactorGradient(dy, r, 10, dz);
        for (int i = 0; i < n; i++)
        {
            double w = m[i];
            for (int k = 0; k < rank; k++) w += (double)z[k * n + i] * r[k];
            Assert.That(b[i], Is.EqualTo(w >= 0 ? 1f : -1f), $"b[{i}] for w = {w}");
            for (int k = 0; k < rank; k++)
                Assert.That(dz[k * n + i], Is.EqualTo((float)(10 * r[k] * dy[i])), $"dZ[{k}, {i}]");
        }
        var bRef = new float[n];
        var dzRef = new float[rank * n];
        LowRankSignKernels.SampleSignReference(m, z, r, bRef);
        LowRankSignKernels.FactorGradientReference(dy, r, 10, dzRef);
        Assert.That(b, Is.EqualTo(bRef));
        Assert.That(dz, Is.EqualTo(dzRef));
    }

    /// <summary>The whole op on float32 tensors (span path) against the pre-existing computation on the same values:
    /// float32 projection, then the float64 forward/backward with the same r, rounded once.</summary>
    [TestCase(4, new[] { 7, 29 })]
    [TestCase(8, new[] { 3, 5, 3, 3 })]
    public void Float32Op_MatchesFloat64Computation(int rank, int[] shape)
    {
        var q = new SdpBinaryWeight(rank: rank, varianceScale: 100, seed: 9);
        var latent = Tensor.Zeros(shape, DType.Float32);
        q.Bind(latent, new Rng(11)); // m and Z Xavier-normal, float32
        float[] m0 = latent.AsSpan<float>().ToArray(), z0 = q.Factor!.Value.AsSpan<float>().ToArray();
        Tensor m = Tensor.FromValues([.. m0.Select(v => (double)v)], shape, DType.Float32, requiresGrad: true);
        int n = m0.Length;
        float[] dyValues = Normal(n, 12, 1);

        Tensor b = q.Apply(m);
        double[] r = q.LastNoise;
        b.Backward([.. dyValues.Select(v => (double)v)]);

        // expected: the scalar float32 projection, then the float64 loops of the generic Forward/Backward
        float[] mExp = (float[])m0.Clone(), zExp = (float[])z0.Clone();
        SdpBinaryWeight.Project<float>(mExp, zExp, rank, 100f);
        Assert.That(m.AsSpan<float>().ToArray(), Is.EqualTo(mExp), "projected m");
        Assert.That(q.Factor.Value.AsSpan<float>().ToArray(), Is.EqualTo(zExp), "projected Z");
        double[] bValues = b.ToDoubleArray(), dm = m.Grad!.ToDoubleArray(), dz = q.Factor.Grad!.ToDoubleArray();
        for (int i = 0; i < n; i++)
        {
            double w = mExp[i];
            for (int k = 0; k < rank; k++) w += (double)zExp[k * n + i] * r[k];
            Assert.That(bValues[i], Is.EqualTo(BinaryMath.Sign(w)), $"b[{i}]");
            Assert.That(dm[i], Is.EqualTo((double)dyValues[i]), $"dm[{i}] = db");
            for (int k = 0; k < rank; k++)
                Assert.That(dz[k * n + i], Is.EqualTo((double)(float)(Math.Sqrt(100) * r[k] * dyValues[i])), $"dZ[{k}, {i}]");
        }
    }

    /// <summary>Same seed, same draws: a float32 layer and a float64 layer with the same (float32-representable) state
    /// draw the same r on every call, whichever path runs.</summary>
    [Test]
    public void Float32AndFloat64Paths_DrawTheSameNoise()
    {
        var q32 = new SdpBinaryWeight(rank: 3, seed: 5);
        var q64 = new SdpBinaryWeight(rank: 3, seed: 5);
        Tensor m32 = Tensor.FromValues([0.5, -0.25, 0.125], [3], DType.Float32);
        Tensor m64 = Tensor.FromValues([0.5, -0.25, 0.125], [3], DType.Float64);
        using var _ = GradMode.NoGrad();
        for (int call = 0; call < 3; call++)
        {
            q32.Apply(m32);
            q64.Apply(m64);
            Assert.That(q32.LastNoise, Is.EqualTo(q64.LastNoise), $"call {call}");
        }
    }
}
