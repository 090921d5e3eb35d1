using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

[TestFixture, Category("Binarization")]
public class StochasticTests
{
    [Test]
    public void StochasticBinaryConnect_IsReproducibleWithASeed()
    {
        double[] theta = [.. Enumerable.Range(0, 200).Select(i => -1.2 + 0.012 * i)];
        double[] a = QuantizerHarness.Run(new BinaryConnect(stochastic: true, seed: 42), theta).Y;
        double[] b = QuantizerHarness.Run(new BinaryConnect(stochastic: true, seed: 42), theta).Y;
        double[] c = QuantizerHarness.Run(new BinaryConnect(stochastic: true, seed: 43), theta).Y;
        Assert.That(a, Is.EqualTo(b));
        Assert.That(a, Is.Not.EqualTo(c));
        Assert.That(a, Is.All.EqualTo(1.0).Or.EqualTo(-1.0));
    }

    [Test]
    public void StochasticBinaryConnect_ExpectationIsClippedTheta()
    {
        // Per value, N draws of ±1 with mean m have standard error sqrt((1 − m²)/N) ≤ 1/sqrt(N); 5 standard errors
        // gives a false-failure rate below 1e-6 per value.
        double[] values = [-1.5, -0.6, -0.1, 0.0, 0.25, 0.8, 2.0];
        const int n = 20000;
        var q = new BinaryConnect(stochastic: true, seed: 9);
        double[] theta = [.. values.SelectMany(v => Enumerable.Repeat(v, n))];
        double[] y = QuantizerHarness.Run(q, theta).Y;
        for (int k = 0; k < values.Length; k++)
        {
            double mean = y.Skip(k * n).Take(n).Average();
            double expected = Math.Clamp(values[k], -1, 1);
            double tol = 5 * Math.Sqrt(Math.Max(1 - expected * expected, 1e-12) / n);
            Assert.That(mean, Is.EqualTo(expected).Within(Math.Max(tol, 1e-12)), $"θ = {values[k]}");
            Assert.That(q.Forward(values[k]), Is.EqualTo(expected));
        }
    }

    [Test]
    public void StochasticBinaryConnect_TestTime_UsesLatentOrSign()
    {
        double[] theta = [-0.3, 0.0, 0.7];
        var latent = new BinaryConnect(stochastic: true) { Training = false };
        Assert.That(QuantizerHarness.Run(latent, theta).Y, Is.EqualTo(theta));
        Assert.That(latent.IsHardSign, Is.False);
        var signed = new BinaryConnect(stochastic: true, stochasticTestUsesLatent: false) { Training = false };
        Assert.That(QuantizerHarness.Run(signed, theta).Y, Is.EqualTo(new[] { -1.0, 1, 1 }));
        Assert.That(signed.IsHardSign, Is.True);
    }

    [Test]
    public void StochasticBinaryConnect_GradientIsIdentity()
    {
        double[] dy = [0.5, -2, 3];
        Assert.That(QuantizerHarness.Run(new BinaryConnect(stochastic: true), [-3, 0.1, 4], dy: dy).Dx, Is.EqualTo(dy));
    }
}
