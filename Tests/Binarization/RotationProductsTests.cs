using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

/// <summary>RBNN's batched rotation products (one GEMM over all filters) against the scalar float64 per-filter
/// reference kept in <see cref="RotatedSign"/>. Same math in float64, different summation order (the GEMM blocks the
/// sums and fuses multiply-adds), so the comparison is within rounding tolerance, not bit for bit; the sign step
/// B = sign(R1ᵀXR2) could only diverge for an entry within rounding of 0, which Gaussian data does not produce.</summary>
[TestFixture, Category("Binarization")]
public class RotationProductsTests
{
    private static double[] Gaussian(int length, ulong seed)
    {
        var rng = new Rng(seed);
        return [.. Enumerable.Range(0, length).Select(_ => rng.Normal())];
    }

    // (filters, a, b): odd, non-square sizes; 101×13×17 passes the GEMM's blocked (packed) threshold of 64³.
    [TestCase(1, 1, 3)]
    [TestCase(5, 3, 5)]
    [TestCase(7, 5, 7)]
    [TestCase(101, 13, 17)]
    public void Rotate_MatchesPerFilterReference(int filters, int a, int b)
    {
        var rng = new Rng(3);
        double[,] r1 = Orthogonal.Random(a, rng), r2 = Orthogonal.Random(b, rng);
        double[] w = Gaussian(filters * a * b, 11);
        double[] expected = RotatedSign.RotateReference(w, filters, r1, r2);
        double[] actual = new double[w.Length];
        new RotationProducts<double>().Rotate(w, filters, r1, r2, actual);
        for (int i = 0; i < w.Length; i++) Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-12), $"entry {i}");
    }

    [TestCase(5, 3, 5)]
    [TestCase(7, 5, 7)]
    [TestCase(101, 13, 17)]
    public void Update_MatchesPerFilterReference(int filters, int a, int b)
    {
        var rng = new Rng(4);
        double[,] r1 = Orthogonal.Random(a, rng), r2 = Orthogonal.Random(b, rng);
        double[] w = Gaussian(filters * a * b, 12);
        (double[,] e1, double[,] e2) = RotatedSign.UpdateRotationsReference(w, filters, r1, r2);
        var products = new RotationProducts<double>();
        products.Update(w, filters, ref r1, ref r2);
        // polar factors of sums of O·a·b terms: rounding differences of ~1e-15 relative, amplified by 1/σ_min of D
        Assert.That(r1, Is.EqualTo(e1).Within(1e-9));
        Assert.That(r2, Is.EqualTo(e2).Within(1e-9));
        // a second call reuses the scratch buffers and must give the same as a fresh instance
        double[,] s1 = r1, s2 = r2, f1 = r1, f2 = r2;
        products.Update(w, filters, ref s1, ref s2);
        new RotationProducts<double>().Update(w, filters, ref f1, ref f2);
        Assert.That(s1, Is.EqualTo(f1));
        Assert.That(s2, Is.EqualTo(f2));
    }

    // float32 products: weights, rotations and products rounded to single precision (~1e-7 relative per rounding,
    // sums of O·a·b terms blocked by the GEMM), the SVDs in float64; tolerances a few hundred float32 ulps.
    [TestCase(7, 5, 7)]
    [TestCase(101, 13, 17)]
    public void SinglePrecision_MatchesPerFilterReference_WithinFloat32Rounding(int filters, int a, int b)
    {
        var rng = new Rng(4);
        double[,] r1 = Orthogonal.Random(a, rng), r2 = Orthogonal.Random(b, rng);
        double[] w = Gaussian(filters * a * b, 12);
        double[] expected = RotatedSign.RotateReference(w, filters, r1, r2), actual = new double[w.Length];
        var products = new RotationProducts<float>();
        products.Rotate(w, filters, r1, r2, actual);
        for (int i = 0; i < w.Length; i++) Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-5), $"entry {i}");
        (double[,] e1, double[,] e2) = RotatedSign.UpdateRotationsReference(w, filters, r1, r2);
        products.Update(w, filters, ref r1, ref r2);
        Assert.That(r1, Is.EqualTo(e1).Within(1e-4));
        Assert.That(r2, Is.EqualTo(e2).Within(1e-4));
    }

    [Test]
    public void Layouts_RoundTrip()
    {
        double[] stacked = [.. Enumerable.Range(0, 3 * 2 * 5).Select(i => (double)i)];
        double[] side = new double[stacked.Length], back = new double[stacked.Length];
        RotationProducts<double>.ToSideBySide(stacked, side, 3, 2, 5);
        // side[i, o·b + j] = stacked[o·a + i, j]: row 1, filter 2, column 4 → stacked row 5, column 4 = 29
        Assert.That(side[1 * 15 + 2 * 5 + 4], Is.EqualTo(29));
        RotationProducts<double>.ToStacked(side, back, 3, 2, 5);
        Assert.That(back, Is.EqualTo(stacked));
    }
}
