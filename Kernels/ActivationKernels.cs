using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels;

/// <summary>Vector loops of the activation ops and of batch norm's element-wise passes (the ops themselves, with
/// their formulas, are in Autograd's <c>Ops</c>): each does the leading elements lane by lane with exactly the scalar loop's result per element, returns
/// how many it did, and does none on the scalar path (<see cref="Simd.Path"/>), so forcing a path reaches them.</summary>
public static class ActivationKernels
{
    /// <summary>The vector form of the leaky-ReLU backward, <c>dx = x &gt; 0 ? dy : slope·dy</c> lane by lane (the product
    /// is still formed where x ≤ 0, so relu's 0·dy keeps its sign and NaNs exactly as the scalar loop); returns how many
    /// leading elements it did (the scalar loop does the tail).</summary>
    public static int LeakyReluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx, T slope) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (!Vectorized<T>()) return 0;
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref T gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dy);
        ref T dr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dx);
        Vector<T> s = new(slope);
        int i = 0;
        for (; i <= dx.Length - Vector<T>.Count; i += Vector<T>.Count)
        {
            Vector<T> g = Vector.LoadUnsafe(ref gr, (nuint)i);
            Vector.ConditionalSelect(Vector.GreaterThan(Vector.LoadUnsafe(ref xr, (nuint)i), Vector<T>.Zero), g, s * g).StoreUnsafe(ref dr, (nuint)i);
        }
        return i;
    }

    /// <summary>The vector form of the clamp forward, <c>y = x &lt; lo ? lo : x &gt; hi ? hi : x</c> lane by lane (two
    /// selects, not min/max, so a NaN passes through and −0 stays −0 exactly as in the scalar loop); returns how many
    /// leading elements it did.</summary>
    public static int ClampForward<T>(ReadOnlySpan<T> x, Span<T> y, T lo, T hi) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (!Vectorized<T>()) return 0;
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref T yr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        Vector<T> low = new(lo), high = new(hi);
        int i = 0;
        for (; i <= y.Length - Vector<T>.Count; i += Vector<T>.Count)
        {
            Vector<T> v = Vector.LoadUnsafe(ref xr, (nuint)i);
            Vector.ConditionalSelect(Vector.LessThan(v, low), low, Vector.ConditionalSelect(Vector.GreaterThan(v, high), high, v)).StoreUnsafe(ref yr, (nuint)i);
        }
        return i;
    }

    /// <summary>How many of <paramref name="x"/> equal <paramref name="value"/> (vector compares and bit counts on the
    /// vector paths, the scalar loop otherwise and for the tail).</summary>
    public static long CountEqual<T>(ReadOnlySpan<T> x, T value) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        long count = 0;
        int i = 0;
        if (Vectorized<T>())
        {
            ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            Vector<T> target = new(value), ones = Vector<T>.Zero;
            // per lane a count of ones in T: exact up to 2^24 per lane (float), far beyond the planes this serves
            for (; i <= x.Length - Vector<T>.Count && i < 1 << 24; i += Vector<T>.Count)
                ones += Vector.ConditionalSelect(Vector.Equals(Vector.LoadUnsafe(ref xr, (nuint)i), target), Vector<T>.One, Vector<T>.Zero);
            count = long.CreateTruncating(Vector.Sum(ones));
        }
        for (; i < x.Length; i++) count += x[i] == value ? 1 : 0;
        return count;
    }

    /// <summary>The vector form of the batch norm + residual add + clamp epilogue, <c>a = (x·scale + shift) + s</c>,
    /// <c>y = a &lt; lo ? lo : a &gt; hi ? hi : a</c> lane by lane: the product and both sums each rounded in that order
    /// (no fused multiply-add), the clamp as two selects, exactly the scalar loop's result per element; adds to
    /// <paramref name="onBounds"/> how many a equal lo or hi. One pass instead of five over the plane (scale, shift,
    /// add, count, clamp). Returns how many leading elements it did.</summary>
    public static int ScaleShiftAddClamp<T>(ReadOnlySpan<T> x, T scale, T shift, ReadOnlySpan<T> s, Span<T> y, T lo, T hi, ref long onBounds)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLengths(nameof(ScaleShiftAddClamp), y.Length, (nameof(x), x.Length), (nameof(s), s.Length));
        if (!Vectorized<T>()) return 0;
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref T sr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(s);
        ref T yr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        Vector<T> k = new(scale), b = new(shift), low = new(lo), high = new(hi), onBound = Vector<T>.Zero;
        int i = 0;
        // per lane a count of ones in T: exact up to 2^24 per lane (float), far beyond the planes this serves
        for (; i <= y.Length - Vector<T>.Count && i < 1 << 24; i += Vector<T>.Count)
        {
            Vector<T> a = Vector.LoadUnsafe(ref xr, (nuint)i) * k + b + Vector.LoadUnsafe(ref sr, (nuint)i);
            onBound += Vector.ConditionalSelect(Vector.BitwiseOr(Vector.Equals(a, low), Vector.Equals(a, high)), Vector<T>.One, Vector<T>.Zero);
            Vector.ConditionalSelect(Vector.LessThan(a, low), low, Vector.ConditionalSelect(Vector.GreaterThan(a, high), high, a)).StoreUnsafe(ref yr, (nuint)i);
        }
        onBounds += long.CreateTruncating(Vector.Sum(onBound));
        return i;
    }

    /// <summary>Scalar reference of <see cref="ScaleShiftAddClamp{T}"/> (and its tail) for elements from <paramref name="start"/> on.</summary>
    public static void ScaleShiftAddClampScalar<T>(ReadOnlySpan<T> x, T scale, T shift, ReadOnlySpan<T> s, Span<T> y, T lo, T hi, ref long onBounds, int start = 0)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLengths(nameof(ScaleShiftAddClampScalar), y.Length, (nameof(x), x.Length), (nameof(s), s.Length));
        for (int i = start; i < y.Length; i++)
        {
            T a = x[i] * scale + shift + s[i];
            if (a == lo || a == hi) onBounds++;
            y[i] = a < lo ? lo : a > hi ? hi : a;
        }
    }

    /// <summary><see cref="ScaleShiftAddClamp{T}"/> on float32 that also packs the signs of y, 64 to a word: bit p of
    /// <paramref name="signs"/> is <c>y[p] ≥ 0</c> (the bit packer's sign rule: ±0 → 1, NaN → 0), the bits past y's
    /// length in the last word 0. The next binary convolution's input bits, formed while y is still in registers rather
    /// than by reading y back (<c>BitPack.ChannelsLastFromPlanes</c>). Does every element: on Vector512 in one pass (whole
    /// vectors, the rest by <see cref="ScaleShiftAddClampScalarSigns"/>), on the other paths as
    /// <see cref="ScaleShiftAddClamp{T}"/> then <c>BitPack.Pack</c> of y; y and <paramref name="onBounds"/> are exactly
    /// <see cref="ScaleShiftAddClamp{T}"/>'s.</summary>
    public static void ScaleShiftAddClampSigns(ReadOnlySpan<float> x, float scale, float shift, ReadOnlySpan<float> s, Span<float> y, float lo, float hi,
                                               ref long onBounds, Span<ulong> signs)
    {
        CheckLengths(nameof(ScaleShiftAddClampSigns), y.Length, (nameof(x), x.Length), (nameof(s), s.Length));
        if (signs.Length < (y.Length + 63) / 64)
            throw new ArgumentException($"{nameof(ScaleShiftAddClampSigns)}: {signs.Length} sign words for {y.Length} values; it needs {(y.Length + 63) / 64}.", nameof(signs));
        if (Simd.Path == SimdPath.Vector512 && Vector512.IsHardwareAccelerated)
        {
            int done = SignWords512(x, scale, shift, s, y, lo, hi, ref onBounds, signs);
            if (done < y.Length) ScaleShiftAddClampScalarSigns(x, scale, shift, s, y, lo, hi, ref onBounds, signs, done);
            return;
        }
        // other paths: the epilogue's own vector loop, then the signs packed from y while the plane is in L1
        int vectorized = ScaleShiftAddClamp<float>(x, scale, shift, s, y, lo, hi, ref onBounds);
        ScaleShiftAddClampScalar<float>(x, scale, shift, s, y, lo, hi, ref onBounds, vectorized);
        Binary.BitPack.Pack(y, signs);
    }

    /// <summary>Scalar reference of <see cref="ScaleShiftAddClampSigns"/> from element <paramref name="start"/> on:
    /// <see cref="ScaleShiftAddClampScalar{T}"/> from there, then the words from the one holding element
    /// <paramref name="start"/> to the last, rebuilt from y (the vector loop leaves a word it did not finish).</summary>
    public static void ScaleShiftAddClampScalarSigns(ReadOnlySpan<float> x, float scale, float shift, ReadOnlySpan<float> s, Span<float> y, float lo, float hi,
                                                     ref long onBounds, Span<ulong> signs, int start = 0)
    {
        ScaleShiftAddClampScalar(x, scale, shift, s, y, lo, hi, ref onBounds, start);
        for (int w = start / 64; w < (y.Length + 63) / 64; w++)
        {
            ulong word = 0;
            for (int p = 64 * w, end = Math.Min(y.Length, 64 * w + 64); p < end; p++)
                if (y[p] >= 0f) word |= 1UL << (p & 63);
            signs[w] = word;
        }
    }

    // Whole 16-lane vectors: each compare's mask bits shifted into the word, stored when full and where the vectors end
    // (a word the scalar pass then finishes is rebuilt from y).
    private static int SignWords512(ReadOnlySpan<float> x, float scale, float shift, ReadOnlySpan<float> s, Span<float> y, float lo, float hi,
                                    ref long onBounds, Span<ulong> signs)
    {
        ref float xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref float sr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(s);
        ref float yr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        Vector512<float> k = Vector512.Create(scale), b = Vector512.Create(shift), low = Vector512.Create(lo), high = Vector512.Create(hi), onBound = Vector512<float>.Zero;
        int i = 0;
        ulong word = 0;
        // per lane a count of ones in float: exact up to 2^24 per lane, far beyond the planes this serves
        for (; i <= y.Length - 16 && i < 1 << 24; i += 16)
        {
            Vector512<float> a = Vector512.LoadUnsafe(ref xr, (nuint)i) * k + b + Vector512.LoadUnsafe(ref sr, (nuint)i);
            onBound += Vector512.ConditionalSelect(Vector512.Equals(a, low) | Vector512.Equals(a, high), Vector512<float>.One, Vector512<float>.Zero);
            Vector512<float> c = Vector512.ConditionalSelect(Vector512.LessThan(a, low), low, Vector512.ConditionalSelect(Vector512.GreaterThan(a, high), high, a));
            c.StoreUnsafe(ref yr, (nuint)i);
            word |= Vector512.GreaterThanOrEqual(c, Vector512<float>.Zero).ExtractMostSignificantBits() << (i & 63);
            if ((i & 63) == 48)
            {
                signs[i >> 6] = word;
                word = 0;
            }
        }
        if ((i & 63) != 0) signs[i >> 6] = word; // a plane of 16, 32 or 48 elements ends inside its word
        onBounds += (long)Vector512.Sum(onBound);
        return i;
    }

    /// <summary>The vector form of the PReLU forward, <c>y = x &gt; 0 ? x : slope·x</c> lane by lane (the product formed
    /// and selected, so a NaN and −0 come out exactly as in the scalar loop); returns how many leading elements it did.</summary>
    public static int PReluForward<T>(ReadOnlySpan<T> x, Span<T> y, T slope) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLengths(nameof(PReluForward), y.Length, (nameof(x), x.Length), (nameof(x), x.Length));
        if (!Vectorized<T>()) return 0;
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref T yr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        Vector<T> k = new(slope);
        int i = 0;
        for (; i <= y.Length - Vector<T>.Count; i += Vector<T>.Count)
        {
            Vector<T> v = Vector.LoadUnsafe(ref xr, (nuint)i);
            Vector.ConditionalSelect(Vector.GreaterThan(v, Vector<T>.Zero), v, k * v).StoreUnsafe(ref yr, (nuint)i);
        }
        return i;
    }

    /// <summary>The vector form of the batch norm + residual add + PReLU epilogue, <c>a = (x·scale + shift) + s</c>,
    /// <c>y = a &gt; 0 ? a : slope·a</c> lane by lane: the product and both sums each rounded in that order (no fused
    /// multiply-add), exactly the scalar loop's result per element. Returns how many leading elements it did.</summary>
    public static int ScaleShiftAddPRelu<T>(ReadOnlySpan<T> x, T scale, T shift, ReadOnlySpan<T> s, Span<T> y, T slope)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLengths(nameof(ScaleShiftAddPRelu), y.Length, (nameof(x), x.Length), (nameof(s), s.Length));
        if (!Vectorized<T>()) return 0;
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref T sr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(s);
        ref T yr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        Vector<T> k = new(scale), b = new(shift), negative = new(slope);
        int i = 0;
        for (; i <= y.Length - Vector<T>.Count; i += Vector<T>.Count)
        {
            Vector<T> a = Vector.LoadUnsafe(ref xr, (nuint)i) * k + b + Vector.LoadUnsafe(ref sr, (nuint)i);
            Vector.ConditionalSelect(Vector.GreaterThan(a, Vector<T>.Zero), a, negative * a).StoreUnsafe(ref yr, (nuint)i);
        }
        return i;
    }

    /// <summary>Scalar reference of <see cref="ScaleShiftAddPRelu{T}"/> (and its tail) for elements from <paramref name="start"/> on.</summary>
    public static void ScaleShiftAddPReluScalar<T>(ReadOnlySpan<T> x, T scale, T shift, ReadOnlySpan<T> s, Span<T> y, T slope, int start = 0)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLengths(nameof(ScaleShiftAddPReluScalar), y.Length, (nameof(x), x.Length), (nameof(s), s.Length));
        for (int i = start; i < y.Length; i++)
        {
            T a = x[i] * scale + shift + s[i];
            y[i] = a > T.Zero ? a : slope * a;
        }
    }

    /// <summary>The PReLU backward over a whole plane: <c>dx = a &gt; 0 ? dy : slope·dy</c> for every element, and the
    /// return value <c>Σ_{not a &gt; 0} dy·a</c>, the plane's share of the slope's gradient (each product rounded to T).
    /// On the vector paths the sum is kept per lane in T and the lanes then added in float64 with the tail; so it is
    /// a fixed function of the inputs (every caller that passes the same plane gets the same bits), but not the scalar
    /// reference's order (<see cref="PReluBackwardScalar{T}"/>, which sums in float64 throughout); dx is exact either way.</summary>
    public static double PReluBackward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> dy, Span<T> dx, T slope) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLengths(nameof(PReluBackward), dx.Length, (nameof(a), a.Length), (nameof(dy), dy.Length));
        if (!Vectorized<T>()) return PReluBackwardScalar(a, dy, dx, slope);
        ref T ar = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(a);
        ref T gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dy);
        ref T dr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dx);
        Vector<T> k = new(slope), sum = Vector<T>.Zero;
        int i = 0;
        for (; i <= dx.Length - Vector<T>.Count; i += Vector<T>.Count)
        {
            Vector<T> v = Vector.LoadUnsafe(ref ar, (nuint)i), g = Vector.LoadUnsafe(ref gr, (nuint)i);
            Vector<T> positive = Vector.GreaterThan(v, Vector<T>.Zero);
            Vector.ConditionalSelect(positive, g, k * g).StoreUnsafe(ref dr, (nuint)i);
            sum += Vector.ConditionalSelect(positive, Vector<T>.Zero, g * v);
        }
        double total = 0;
        for (int lane = 0; lane < Vector<T>.Count; lane++) total += double.CreateChecked(sum[lane]);
        return PReluTail(a, dy, dx, slope, i, total);
    }

    /// <summary><see cref="PReluBackward{T}"/> of a = (x·scale + shift) + s without a being stored: a is formed lane by lane
    /// with <see cref="ScaleShiftAddPRelu{T}"/>'s roundings, then dz and the slope-gradient share exactly as
    /// <see cref="PReluBackward{T}"/> would from that a (same lanes, same order, on every path) — one pass over x, s and
    /// dy instead of writing a to scratch and reading it back.</summary>
    public static double ScaleShiftAddPReluBackward<T>(ReadOnlySpan<T> x, T scale, T shift, ReadOnlySpan<T> s, ReadOnlySpan<T> dy, Span<T> dz, T slope)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLengths(nameof(ScaleShiftAddPReluBackward), dz.Length, (nameof(x), x.Length), (nameof(s), s.Length));
        CheckLengths(nameof(ScaleShiftAddPReluBackward), dz.Length, (nameof(dy), dy.Length), (nameof(dy), dy.Length));
        double total = 0;
        int i = 0;
        if (Vectorized<T>())
        {
            ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            ref T sr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(s);
            ref T gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dy);
            ref T dr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dz);
            Vector<T> k = new(scale), b = new(shift), negative = new(slope), sum = Vector<T>.Zero;
            for (; i <= dz.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                Vector<T> a = Vector.LoadUnsafe(ref xr, (nuint)i) * k + b + Vector.LoadUnsafe(ref sr, (nuint)i), g = Vector.LoadUnsafe(ref gr, (nuint)i);
                Vector<T> positive = Vector.GreaterThan(a, Vector<T>.Zero);
                Vector.ConditionalSelect(positive, g, negative * g).StoreUnsafe(ref dr, (nuint)i);
                sum += Vector.ConditionalSelect(positive, Vector<T>.Zero, g * a);
            }
            for (int lane = 0; lane < Vector<T>.Count; lane++) total += double.CreateChecked(sum[lane]);
        }
        for (; i < dz.Length; i++)
        {
            T a = x[i] * scale + shift + s[i];
            if (a > T.Zero) dz[i] = dy[i];
            else
            {
                dz[i] = slope * dy[i];
                total += double.CreateChecked(dy[i] * a);
            }
        }
        return total;
    }

    /// <summary>Scalar reference of <see cref="PReluBackward{T}"/>: the same dx, the slope-gradient share summed in
    /// float64 element by element.</summary>
    public static double PReluBackwardScalar<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> dy, Span<T> dx, T slope) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLengths(nameof(PReluBackwardScalar), dx.Length, (nameof(a), a.Length), (nameof(dy), dy.Length));
        return PReluTail(a, dy, dx, slope, 0, 0);
    }

    /// <summary>The PReLU backward of elements <paramref name="start"/> on, one at a time, each share added to
    /// <paramref name="total"/> in order; returns the total.</summary>
    private static double PReluTail<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> dy, Span<T> dx, T slope, int start, double total)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        for (int i = start; i < dx.Length; i++)
        {
            if (a[i] > T.Zero) dx[i] = dy[i];
            else
            {
                dx[i] = slope * dy[i];
                total += double.CreateChecked(dy[i] * a[i]);
            }
        }
        return total;
    }

    /// <summary>The vector form of batch norm's input gradient per channel, <c>dx = (x·a + dy·k) + b</c> lane by lane:
    /// both products and both sums rounded in that order (no fused multiply-add), exactly the scalar loop's result per
    /// element, in one pass instead of three (TensorPrimitives Multiply, MultiplyAdd, Add). Returns how many leading
    /// elements it did.</summary>
    public static int BatchNormInputGradient<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T k, T a, T b, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLengths(nameof(BatchNormInputGradient), dx.Length, (nameof(dy), dy.Length), (nameof(x), x.Length));
        if (!Vectorized<T>()) return 0;
        ref T gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dy);
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref T dr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dx);
        Vector<T> kv = new(k), av = new(a), bv = new(b);
        int i = 0;
        for (; i <= dx.Length - Vector<T>.Count; i += Vector<T>.Count)
            (Vector.LoadUnsafe(ref xr, (nuint)i) * av + Vector.LoadUnsafe(ref gr, (nuint)i) * kv + bv).StoreUnsafe(ref dr, (nuint)i);
        return i;
    }

    /// <summary>Scalar reference of <see cref="BatchNormInputGradient{T}"/> (and its tail) for elements from <paramref name="start"/> on.</summary>
    public static void BatchNormInputGradientScalar<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T k, T a, T b, Span<T> dx, int start = 0) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLengths(nameof(BatchNormInputGradientScalar), dx.Length, (nameof(dy), dy.Length), (nameof(x), x.Length));
        for (int i = start; i < dx.Length; i++) dx[i] = x[i] * a + dy[i] * k + b;
    }

    /// <summary>The vector form of the clamp backward, <c>dx = lo ≤ x ≤ hi ? dy : 0</c>, or with
    /// <paramref name="inclusive"/> false the open window <c>lo &lt; x &lt; hi</c> (the backward read from a clamp's output
    /// when no input fell exactly on a bound); returns how many leading elements it did.</summary>
    public static int ClampBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx, T lo, T hi, bool inclusive = true) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (!Vectorized<T>()) return 0;
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref T gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dy);
        ref T dr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dx);
        Vector<T> low = new(lo), high = new(hi);
        int i = 0;
        for (; i <= dx.Length - Vector<T>.Count; i += Vector<T>.Count)
        {
            Vector<T> v = Vector.LoadUnsafe(ref xr, (nuint)i);
            Vector<T> inside = inclusive
                ? Vector.BitwiseAnd(Vector.GreaterThanOrEqual(v, low), Vector.LessThanOrEqual(v, high))
                : Vector.BitwiseAnd(Vector.GreaterThan(v, low), Vector.LessThan(v, high));
            Vector.ConditionalSelect(inside, Vector.LoadUnsafe(ref gr, (nuint)i), Vector<T>.Zero).StoreUnsafe(ref dr, (nuint)i);
        }
        return i;
    }

    // The vector loops run unless the scalar path is forced or T has no hardware vectors.
    private static bool Vectorized<T>() where T : unmanaged =>
        Simd.Path != SimdPath.Scalar && Vector.IsHardwareAccelerated && Vector<T>.IsSupported;

    // Inlined (these kernels run once per image plane, so a call per check showed in the ResNet-20 step profile); the
    // message is built only on the way to the throw.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckLengths(string kernel, int outputLength, (string Name, int Length) first, (string Name, int Length) second)
    {
        if (first.Length < outputLength || second.Length < outputLength) ThrowLengths(kernel, outputLength, first, second);
    }

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowLengths(string kernel, int outputLength, (string Name, int Length) first, (string Name, int Length) second) =>
        throw new ArgumentException($"{kernel}: {first.Name} has {first.Length} elements and {second.Name} {second.Length}; each needs at least the output's {outputLength}.");
}
