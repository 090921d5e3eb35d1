using NUnit.Framework;
namespace BinaryGrad.Tests;
public class SmokeTests { [Test] public void Addition() { int two = 2; Assert.That(two + two, Is.EqualTo(4)); } }
