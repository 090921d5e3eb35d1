using System.Reflection;
using NUnit.Framework;

namespace BinaryGrad.Tests.Samples;

/// <summary>The README's user-estimator sample must keep compiling and working: its estimator checks pass and a
/// 10-epoch binary MLP with the user's scheme beats 80 % on the held-out digits (chance is 10 %).</summary>
[TestFixture, Category("Samples")]
public class CustomEstimatorSampleTests
{
    [Test]
    public void Sample_ChecksItsEstimator_TrainsAndEvaluates()
    {
        Assembly sample = Assembly.Load("BinaryGrad.CustomEstimator");
        MethodInfo main = sample.EntryPoint ?? throw new InvalidOperationException("the sample has no entry point");
        var output = new StringWriter();
        TextWriter original = Console.Out;
        Console.SetOut(output);
        object? exitCode;
        try { exitCode = main.Invoke(null, [new[] { "10" }]); }
        finally { Console.SetOut(original); }
        string text = output.ToString();
        Assert.Multiple(() =>
        {
            Assert.That(text, Does.Contain("estimator checks passed"));
            Assert.That(text, Does.Contain("test accuracy"));
            Assert.That(exitCode, Is.EqualTo(0), text);
        });
    }
}
