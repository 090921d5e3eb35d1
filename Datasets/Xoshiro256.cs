namespace BinaryGrad.Datasets;

/// <summary>The complete state of a <see cref="Xoshiro256"/> generator, for saving in a checkpoint.</summary>
public readonly record struct RandomState(ulong S0, ulong S1, ulong S2, ulong S3);

/// <summary>
/// xoshiro256** (Blackman &amp; Vigna, 2018, https://prng.di.unimi.it/), seeded through SplitMix64.
/// </summary>
/// <remarks>
/// The data pipeline owns its generator instead of using <see cref="System.Random"/>, whose algorithm is an
/// implementation detail that has changed between .NET versions: a shuffle that depends on it would make a
/// recorded run unrepeatable after an SDK upgrade. This algorithm is fixed by its published definition, and its
/// 256-bit state can be saved and restored exactly (<see cref="State"/>).
/// </remarks>
public struct Xoshiro256
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Seeds the state with four SplitMix64 outputs, as the authors recommend (never all zero).</summary>
    public Xoshiro256(ulong seed)
    {
        _s0 = SplitMix64(ref seed);
        _s1 = SplitMix64(ref seed);
        _s2 = SplitMix64(ref seed);
        _s3 = SplitMix64(ref seed);
    }

    /// <summary>Restores a generator from a saved state.</summary>
    /// <exception cref="ArgumentException">The state is all zero, which xoshiro can never leave.</exception>
    public Xoshiro256(RandomState state)
    {
        if ((state.S0 | state.S1 | state.S2 | state.S3) == 0)
            throw new ArgumentException("An all-zero xoshiro256 state is invalid: the generator would output zeros forever.", nameof(state));
        (_s0, _s1, _s2, _s3) = (state.S0, state.S1, state.S2, state.S3);
    }

    /// <summary>The current state; a generator built from it produces the same sequence from here on.</summary>
    public readonly RandomState State => new(_s0, _s1, _s2, _s3);

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A uniform integer in [0, <paramref name="maxExclusive"/>), without modulo bias (Lemire's method).</summary>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        ulong range = (ulong)maxExclusive;
        ulong product = Math.BigMul(NextUInt64(), range, out ulong low);
        if (low < range)
        {
            ulong threshold = (0UL - range) % range;
            while (low < threshold) product = Math.BigMul(NextUInt64(), range, out low);
        }
        return (int)product;
    }

    /// <summary>True with probability 1/2 (the top bit, the best one of xoshiro's output).</summary>
    public bool NextBool() => (NextUInt64() >> 63) != 0;

    /// <summary>Fisher–Yates shuffle of <paramref name="items"/>.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>SplitMix64 (Steele, Lea &amp; Flood 2014): advances <paramref name="x"/> and returns a well-mixed output.</summary>
    public static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
