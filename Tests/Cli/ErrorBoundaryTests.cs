using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using BinaryGrad.Autograd;
using BinaryGrad.Autograd.Serialization;
using BinaryGrad.Cli;
using BinaryGrad.Cli.Training;
using BinaryGrad.Datasets;
using BinaryGrad.Layers.Inference;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

/// <summary>The error boundary's mapping, with verb actions that throw on purpose (no verb has a known defect to
/// trigger).</summary>
[TestFixture, Category("Cli")]
public class ErrorBoundaryTests
{
    private static (int Code, string[] Lines) Throwing(Exception e, bool verbose)
    {
        var error = new StringWriter();
        int code = Program.Boundary("binarygrad test", verbose, error, () => throw e);
        return (code, error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Test]
    public void InputAndResourceErrors_AreExit2OnOneLine()
    {
        foreach (Exception e in new Exception[] { new UsageException("--x: bad"), new IOException("f: disk full"), new FormatException("f: bad"),
                     new UnauthorizedAccessException("f: denied"), new DatasetException("d: bad"), new SafeTensorsException("c: bad"), new OutOfMemoryException() })
        {
            var (code, lines) = Throwing(e, verbose: true);
            Assert.That(code, Is.EqualTo(Program.BadInput), e.GetType().Name);
            Assert.That(lines, Has.Length.EqualTo(1), e.GetType().Name);
            Assert.That(lines[0], Does.StartWith("binarygrad test: ").And.Not.Contain("   at "));
        }
    }

    [Test]
    public void Divergence_IsExit3() => Assert.That(Throwing(new DivergedException("the run diverged"), false).Code, Is.EqualTo(Program.Diverged));

    [Test]
    public void ADefect_IsExit70_WithTheTraceOnlyWhenVerbose()
    {
        Exception Thrown() { try { throw new NullReferenceException("oops"); } catch (Exception e) { return e; } }
        var (code, lines) = Throwing(Thrown(), verbose: false);
        Assert.That(code, Is.EqualTo(Program.Defect));
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.Contain("internal error").And.Contain("NullReferenceException: oops").And.Contain("--verbose"));
        var (verboseCode, verboseLines) = Throwing(Thrown(), verbose: true);
        Assert.That(verboseCode, Is.EqualTo(Program.Defect));
        Assert.That(verboseLines.Skip(1).Any(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)), Is.True);
    }
}
