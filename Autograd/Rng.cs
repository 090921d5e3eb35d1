namespace BinaryGrad.Autograd;

/// <summary>A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64) whose whole state can be
/// saved and restored, so a resumed training run draws exactly the numbers an uninterrupted one would.</summary>
/// <remarks>Not <see cref="System.Random"/>: its algorithm is an implementation detail that may change between
/// .NET versions, which would silently break reproducibility of checkpoints.</remarks>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double? _spareNormal;

    /// <summary>Seeds the four state words from <paramref name="seed"/> with SplitMix64 (never all zero).</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9, t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t; _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [low, high).</summary>
    public double Uniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Uniform integer in [0, n) without modulo bias (Lemire's multiply-shift with rejection).</summary>
    public int NextInt(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        ulong bound = (ulong)n, threshold = (0UL - bound) % bound;
        while (true)
        {
            UInt128 product = (UInt128)NextUInt64() * bound;
            if ((ulong)product >= threshold) return (int)(product >> 64);
        }
    }

    /// <summary>Standard normal N(0, 1) by the Box–Muller transform (pairs; the spare is kept in the state).</summary>
    public double Normal()
    {
        if (_spareNormal is double spare)
        {
            _spareNormal = null;
            return spare;
        }
        double u1 = 1.0 - NextDouble(), u2 = NextDouble(); // u1 in (0, 1]: log(u1) is finite
        double radius = Math.Sqrt(-2.0 * Math.Log(u1)), angle = 2.0 * Math.PI * u2;
        _spareNormal = radius * Math.Sin(angle);
        return radius * Math.Cos(angle);
    }

    /// <summary>The complete state (4 words, a flag and the spare normal), for checkpoints.</summary>
    public ulong[] GetState() =>
        [_s0, _s1, _s2, _s3, _spareNormal.HasValue ? 1UL : 0UL, BitConverter.DoubleToUInt64Bits(_spareNormal ?? 0)];

    /// <summary>Restores a state returned by <see cref="GetState"/>.</summary>
    /// <exception cref="ArgumentException">The state does not have 6 words.</exception>
    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 6) throw new ArgumentException($"An Rng state has 6 words, not {state.Length}.", nameof(state));
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
        _spareNormal = state[4] != 0 ? BitConverter.UInt64BitsToDouble(state[5]) : null;
    }
}
