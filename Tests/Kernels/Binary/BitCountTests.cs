using BinaryGrad.Kernels.Binary;
using NUnit.Framework;

namespace BinaryGrad.Tests.Kernels.Binary;

[TestFixture, Category("Kernels")]
public class BitCountTests
{
    // Tails of every size below a Vector512, and lengths reaching the 16-vector Harley–Seal blocks (64 words for
    // Vector256, 128 for Vector512) with and without a remainder.
    private static IEnumerable<int> Lengths => Enumerable.Range(0, 18).Concat([31, 63, 64, 65, 127, 128, 129, 200, 300]);

    private static readonly (string Name, Func<ulong[], ulong[], long> Count)[] Methods =
    [
        ("Popcnt", (a, b) => BitCount.MismatchesPopcnt(a, b)),
        ("Vector256Swar", (a, b) => BitCount.MismatchesVector256Swar(a, b)),
        ("Vector256Lookup", (a, b) => BitCount.MismatchesVector256Lookup(a, b)),
        ("Vector256HarleySeal", (a, b) => BitCount.MismatchesVector256HarleySeal(a, b)),
        ("Vector512HarleySeal", (a, b) => BitCount.MismatchesVector512HarleySeal(a, b)),
    ];

    private static IEnumerable<string> MethodNames => Methods.Select(m => m.Name);

    [Test]
    public void Mismatches_EveryMethod_MatchesReference([ValueSource(nameof(MethodNames))] string method, [ValueSource(nameof(Lengths))] int words)
    {
        var random = new Random(words);
        ulong[] a = new ulong[words], b = new ulong[words];
        for (int i = 0; i < words; i++) (a[i], b[i]) = ((ulong)random.NextInt64() ^ ((ulong)random.Next() << 63), (ulong)random.NextInt64());
        if (words > 2) (a[1], b[1]) = (ulong.MaxValue, 0); // a full-word mismatch: 64 in one word
        long expected = BitCount.MismatchesReference(a, b);
        Assert.That(Methods.Single(m => m.Name == method).Count(a, b), Is.EqualTo(expected));
    }

    [Test]
    public void Mismatches_AllOnesAgainstZero_CountsEveryBit([ValueSource(nameof(MethodNames))] string method)
    {
        // 300 words of all ones: every byte count is 8, the most the byte accumulators ever see per vector.
        ulong[] a = Enumerable.Repeat(ulong.MaxValue, 300).ToArray(), b = new ulong[300];
        Assert.That(Methods.Single(m => m.Name == method).Count(a, b), Is.EqualTo(300L * 64));
    }
}
