using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels;

/// <summary>The correlation kernels of <see cref="StackedConv3x3"/>: the weight and input gradients on the stacked planes, 512-bit, 256-bit and the scalar references.</summary>
internal static partial class StackedConv3x3
{
    /// <summary>Adds the group's weight gradient into <paramref name="gradWeight"/> [O, C, 3, 3]: <paramref name="gradOutput"/>
    /// holds ⌈O/8⌉·8 stacked planes of dY (zero beyond O), <paramref name="input"/> C stacked planes of x.</summary>
    public static void WeightGradient<T>(SimdPath path, in Layout layout, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> input, int outChannels, int inChannels,
                                         Span<T> gradWeight, ReadOnlySpan<int> taps, int channelStride) where T : unmanaged, INumber<T>
    {
        if (path == SimdPath.Vector512 && Vector512<T>.IsSupported) WeightGradient512(layout, gradOutput, input, outChannels, inChannels, gradWeight, taps, channelStride);
        else if (path != SimdPath.Scalar && Vector256<T>.IsSupported) WeightGradient256(layout, gradOutput, input, outChannels, inChannels, gradWeight, taps, channelStride);
        else WeightGradientScalar(layout, gradOutput, input, outChannels, inChannels, gradWeight, taps, channelStride);
    }

    /// <summary>Writes the group's input gradient as ⌈C/8⌉·8 planes of <see cref="Layout.Positions"/> values (from
    /// position P) into <paramref name="result"/>: <paramref name="gradOutput"/> holds O stacked planes of dY,
    /// <paramref name="packedWeight"/> comes from <see cref="PackTaps{T}"/>.</summary>
    public static void InputGradient<T>(SimdPath path, in Layout layout, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> packedWeight, int outChannels, int inChannels,
                                        Span<T> result, ReadOnlySpan<int> shifts) where T : unmanaged, INumber<T>
    {
        if (path == SimdPath.Vector512 && Vector512<T>.IsSupported) InputGradient512(layout, gradOutput, packedWeight, outChannels, inChannels, result, shifts);
        else if (path != SimdPath.Scalar && Vector256<T>.IsSupported) InputGradient256(layout, gradOutput, packedWeight, outChannels, inChannels, result, shifts);
        else InputGradientScalar(layout, gradOutput, packedWeight, outChannels, inChannels, result, shifts);
    }

    /// <summary>Scalar reference: <c>dW[o, c, i, j] += Σ_k D_o[k] · X_c[k + i·P + j]</c>, D_o[k] = Y_o[k + P + 1].</summary>
    internal static void WeightGradientScalar<T>(in Layout layout, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> input, int outChannels, int inChannels,
                                                 Span<T> gradWeight, ReadOnlySpan<int> taps, int channelStride) where T : unmanaged, INumber<T>
    {
        int p = layout.Pitch, stride = layout.PlaneStride;
        for (int o = 0; o < outChannels; o++)
        {
            ReadOnlySpan<T> d = gradOutput.Slice(o * stride + p + 1, layout.Positions);
            for (int c = 0; c < inChannels; c++)
            {
                ReadOnlySpan<T> x = input[(c * channelStride)..];
                for (int t = 0; t < 9; t++)
                {
                    int shift = taps[t];
                    T sum = T.Zero;
                    for (int k = 0; k < d.Length; k++) sum += d[k] * x[k + shift];
                    gradWeight[(o * inChannels + c) * 9 + t] += sum;
                }
            }
        }
    }

    /// <summary>Scalar reference: <c>result[c][k] = Σ_{o,a,b} W'[c, o, a, b] · Y_o[k + a·P + b]</c>.</summary>
    internal static void InputGradientScalar<T>(in Layout layout, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> packedWeight, int outChannels, int inChannels,
                                                Span<T> result, ReadOnlySpan<int> shifts) where T : unmanaged, INumber<T>
    {
        int p = layout.Pitch, stride = layout.PlaneStride, blocks = (inChannels + ChannelBlock - 1) / ChannelBlock;
        for (int c = 0; c < blocks * ChannelBlock; c++)
        {
            Span<T> target = result.Slice(c * layout.Positions, layout.Positions);
            target.Clear();
            for (int o = 0; o < outChannels; o++)
            {
                ReadOnlySpan<T> y = gradOutput.Slice(o * stride, stride);
                for (int t = 0; t < shifts.Length; t++)
                {
                    T weight = packedWeight[((c / ChannelBlock * outChannels + o) * shifts.Length + t) * ChannelBlock + c % ChannelBlock];
                    int shift = shifts[t];
                    for (int k = 0; k < target.Length; k++) target[k] += weight * y[k + shift];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightGradient512<T>(in Layout layout, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> input, int outChannels, int inChannels,
                                             Span<T> gradWeight, ReadOnlySpan<int> taps, int channelStride) where T : unmanaged, INumber<T>
    {
        int p = layout.Pitch, stride = layout.PlaneStride, positions = layout.Positions, lanes = Vector512<T>.Count;
        ref T dy = ref MemoryMarshal.GetReference(gradOutput);
        ref T xs = ref MemoryMarshal.GetReference(input);
        for (int o = 0; o < outChannels; o += ChannelBlock)
        {
            ref T d0 = ref Unsafe.Add(ref dy, o * stride + p + 1);
            for (int c = 0; c < inChannels; c++)
                for (int i = 0; i < 3; i++)
                {
                    ref T xc = ref Unsafe.Add(ref xs, c * channelStride);
                    ref T xa = ref Unsafe.Add(ref xc, taps[3 * i]), xb = ref Unsafe.Add(ref xc, taps[3 * i + 1]), xd = ref Unsafe.Add(ref xc, taps[3 * i + 2]);
                    Vector512<T> a0 = default, a1 = default, a2 = default, b0 = default, b1 = default, b2 = default, c0 = default, c1 = default, c2 = default;
                    Vector512<T> e0 = default, e1 = default, e2 = default, f0 = default, f1 = default, f2 = default, g0 = default, g1 = default, g2 = default;
                    Vector512<T> h0 = default, h1 = default, h2 = default, k0 = default, k1 = default, k2 = default;
                    for (int k = 0; k < positions; k += lanes)
                    {
                        Vector512<T> x0 = Vector512.LoadUnsafe(ref xa, (nuint)k), x1 = Vector512.LoadUnsafe(ref xb, (nuint)k), x2 = Vector512.LoadUnsafe(ref xd, (nuint)k);
                        ref T dk = ref Unsafe.Add(ref d0, k);
                        Vector512<T> d = Vector512.LoadUnsafe(ref dk);
                        a0 = VectorFma.MultiplyAdd(d, x0, a0); a1 = VectorFma.MultiplyAdd(d, x1, a1); a2 = VectorFma.MultiplyAdd(d, x2, a2);
                        d = Vector512.LoadUnsafe(ref dk, (nuint)stride);
                        b0 = VectorFma.MultiplyAdd(d, x0, b0); b1 = VectorFma.MultiplyAdd(d, x1, b1); b2 = VectorFma.MultiplyAdd(d, x2, b2);
                        d = Vector512.LoadUnsafe(ref dk, (nuint)(2 * stride));
                        c0 = VectorFma.MultiplyAdd(d, x0, c0); c1 = VectorFma.MultiplyAdd(d, x1, c1); c2 = VectorFma.MultiplyAdd(d, x2, c2);
                        d = Vector512.LoadUnsafe(ref dk, (nuint)(3 * stride));
                        e0 = VectorFma.MultiplyAdd(d, x0, e0); e1 = VectorFma.MultiplyAdd(d, x1, e1); e2 = VectorFma.MultiplyAdd(d, x2, e2);
                        d = Vector512.LoadUnsafe(ref dk, (nuint)(4 * stride));
                        f0 = VectorFma.MultiplyAdd(d, x0, f0); f1 = VectorFma.MultiplyAdd(d, x1, f1); f2 = VectorFma.MultiplyAdd(d, x2, f2);
                        d = Vector512.LoadUnsafe(ref dk, (nuint)(5 * stride));
                        g0 = VectorFma.MultiplyAdd(d, x0, g0); g1 = VectorFma.MultiplyAdd(d, x1, g1); g2 = VectorFma.MultiplyAdd(d, x2, g2);
                        d = Vector512.LoadUnsafe(ref dk, (nuint)(6 * stride));
                        h0 = VectorFma.MultiplyAdd(d, x0, h0); h1 = VectorFma.MultiplyAdd(d, x1, h1); h2 = VectorFma.MultiplyAdd(d, x2, h2);
                        d = Vector512.LoadUnsafe(ref dk, (nuint)(7 * stride));
                        k0 = VectorFma.MultiplyAdd(d, x0, k0); k1 = VectorFma.MultiplyAdd(d, x1, k1); k2 = VectorFma.MultiplyAdd(d, x2, k2);
                    }
                    ref T w = ref MemoryMarshal.GetReference(gradWeight);
                    int filter = inChannels * 9, at = (o * inChannels + c) * 9 + i * 3;
                    AddSums(ref w, at, Vector512.Sum(a0), Vector512.Sum(a1), Vector512.Sum(a2));
                    if (o + 1 < outChannels) AddSums(ref w, at + filter, Vector512.Sum(b0), Vector512.Sum(b1), Vector512.Sum(b2));
                    if (o + 2 < outChannels) AddSums(ref w, at + 2 * filter, Vector512.Sum(c0), Vector512.Sum(c1), Vector512.Sum(c2));
                    if (o + 3 < outChannels) AddSums(ref w, at + 3 * filter, Vector512.Sum(e0), Vector512.Sum(e1), Vector512.Sum(e2));
                    if (o + 4 < outChannels) AddSums(ref w, at + 4 * filter, Vector512.Sum(f0), Vector512.Sum(f1), Vector512.Sum(f2));
                    if (o + 5 < outChannels) AddSums(ref w, at + 5 * filter, Vector512.Sum(g0), Vector512.Sum(g1), Vector512.Sum(g2));
                    if (o + 6 < outChannels) AddSums(ref w, at + 6 * filter, Vector512.Sum(h0), Vector512.Sum(h1), Vector512.Sum(h2));
                    if (o + 7 < outChannels) AddSums(ref w, at + 7 * filter, Vector512.Sum(k0), Vector512.Sum(k1), Vector512.Sum(k2));
                }
        }
    }

    /// <summary>The 256-bit weight gradient: the 512-bit kernel's sums (each accumulator the same chain over k), in two
    /// passes of 4 output channels × 3 taps = 12 accumulators, so that with the 3 x vectors they fit AVX2's 16 vector
    /// registers (the output-gradient loads fold into the multiply-adds). One pass of 8 × 3 = 24 accumulators, as the
    /// 512-bit kernel runs in AVX-512's 32 registers, spilled on every step: 3.5× the 512-bit kernel's time instead of 2×.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightGradient256<T>(in Layout layout, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> input, int outChannels, int inChannels,
                                             Span<T> gradWeight, ReadOnlySpan<int> taps, int channelStride) where T : unmanaged, INumber<T>
    {
        int p = layout.Pitch, stride = layout.PlaneStride, positions = layout.Positions, lanes = Vector256<T>.Count;
        ref T dy = ref MemoryMarshal.GetReference(gradOutput);
        ref T xs = ref MemoryMarshal.GetReference(input);
        for (int o = 0; o < outChannels; o += ChannelBlock / 2)
        {
            ref T d0 = ref Unsafe.Add(ref dy, o * stride + p + 1);
            for (int c = 0; c < inChannels; c++)
                for (int i = 0; i < 3; i++)
                {
                    ref T xc = ref Unsafe.Add(ref xs, c * channelStride);
                    ref T xa = ref Unsafe.Add(ref xc, taps[3 * i]), xb = ref Unsafe.Add(ref xc, taps[3 * i + 1]), xd = ref Unsafe.Add(ref xc, taps[3 * i + 2]);
                    Vector256<T> a0 = default, a1 = default, a2 = default, b0 = default, b1 = default, b2 = default, c0 = default, c1 = default, c2 = default;
                    Vector256<T> e0 = default, e1 = default, e2 = default;
                    for (int k = 0; k < positions; k += lanes)
                    {
                        Vector256<T> x0 = Vector256.LoadUnsafe(ref xa, (nuint)k), x1 = Vector256.LoadUnsafe(ref xb, (nuint)k), x2 = Vector256.LoadUnsafe(ref xd, (nuint)k);
                        ref T dk = ref Unsafe.Add(ref d0, k);
                        Vector256<T> d = Vector256.LoadUnsafe(ref dk);
                        a0 = VectorFma.MultiplyAdd(d, x0, a0); a1 = VectorFma.MultiplyAdd(d, x1, a1); a2 = VectorFma.MultiplyAdd(d, x2, a2);
                        d = Vector256.LoadUnsafe(ref dk, (nuint)stride);
                        b0 = VectorFma.MultiplyAdd(d, x0, b0); b1 = VectorFma.MultiplyAdd(d, x1, b1); b2 = VectorFma.MultiplyAdd(d, x2, b2);
                        d = Vector256.LoadUnsafe(ref dk, (nuint)(2 * stride));
                        c0 = VectorFma.MultiplyAdd(d, x0, c0); c1 = VectorFma.MultiplyAdd(d, x1, c1); c2 = VectorFma.MultiplyAdd(d, x2, c2);
                        d = Vector256.LoadUnsafe(ref dk, (nuint)(3 * stride));
                        e0 = VectorFma.MultiplyAdd(d, x0, e0); e1 = VectorFma.MultiplyAdd(d, x1, e1); e2 = VectorFma.MultiplyAdd(d, x2, e2);
                    }
                    ref T w = ref MemoryMarshal.GetReference(gradWeight);
                    int filter = inChannels * 9, at = (o * inChannels + c) * 9 + i * 3;
                    AddSums(ref w, at, Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2));
                    if (o + 1 < outChannels) AddSums(ref w, at + filter, Vector256.Sum(b0), Vector256.Sum(b1), Vector256.Sum(b2));
                    if (o + 2 < outChannels) AddSums(ref w, at + 2 * filter, Vector256.Sum(c0), Vector256.Sum(c1), Vector256.Sum(c2));
                    if (o + 3 < outChannels) AddSums(ref w, at + 3 * filter, Vector256.Sum(e0), Vector256.Sum(e1), Vector256.Sum(e2));
                }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddSums<T>(ref T w, int at, T s0, T s1, T s2) where T : unmanaged, INumber<T>
    {
        Unsafe.Add(ref w, at) += s0;
        Unsafe.Add(ref w, at + 1) += s1;
        Unsafe.Add(ref w, at + 2) += s2;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradient512<T>(in Layout layout, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> packedWeight, int outChannels, int inChannels,
                                            Span<T> result, ReadOnlySpan<int> shifts) where T : unmanaged, INumber<T>
    {
        int p = layout.Pitch, stride = layout.PlaneStride, positions = layout.Positions, lanes = Vector512<T>.Count, blocks = (inChannels + ChannelBlock - 1) / ChannelBlock;
        ref T ys = ref MemoryMarshal.GetReference(gradOutput);
        ref T wp = ref MemoryMarshal.GetReference(packedWeight);
        ref T r = ref MemoryMarshal.GetReference(result);
        for (int cb = 0; cb < blocks; cb++)
            for (int k = 0; k < positions; k += 3 * lanes)
            {
                Vector512<T> a0 = default, a1 = default, a2 = default, b0 = default, b1 = default, b2 = default, c0 = default, c1 = default, c2 = default;
                Vector512<T> e0 = default, e1 = default, e2 = default, f0 = default, f1 = default, f2 = default, g0 = default, g1 = default, g2 = default;
                Vector512<T> h0 = default, h1 = default, h2 = default, k0 = default, k1 = default, k2 = default;
                for (int o = 0; o < outChannels; o++)
                {
                    ref T y = ref Unsafe.Add(ref ys, o * stride + k);
                    ref T w = ref Unsafe.Add(ref wp, (cb * outChannels + o) * shifts.Length * ChannelBlock);
                    for (int t = 0; t < shifts.Length; t++)
                    {
                        ref T source = ref Unsafe.Add(ref y, shifts[t]);
                        Vector512<T> y0 = Vector512.LoadUnsafe(ref source), y1 = Vector512.LoadUnsafe(ref source, (nuint)lanes), y2 = Vector512.LoadUnsafe(ref source, (nuint)(2 * lanes));
                        ref T wt = ref Unsafe.Add(ref w, t * ChannelBlock);
                        Vector512<T> v = Vector512.Create(wt);
                        a0 = VectorFma.MultiplyAdd(y0, v, a0); a1 = VectorFma.MultiplyAdd(y1, v, a1); a2 = VectorFma.MultiplyAdd(y2, v, a2);
                        v = Vector512.Create(Unsafe.Add(ref wt, 1));
                        b0 = VectorFma.MultiplyAdd(y0, v, b0); b1 = VectorFma.MultiplyAdd(y1, v, b1); b2 = VectorFma.MultiplyAdd(y2, v, b2);
                        v = Vector512.Create(Unsafe.Add(ref wt, 2));
                        c0 = VectorFma.MultiplyAdd(y0, v, c0); c1 = VectorFma.MultiplyAdd(y1, v, c1); c2 = VectorFma.MultiplyAdd(y2, v, c2);
                        v = Vector512.Create(Unsafe.Add(ref wt, 3));
                        e0 = VectorFma.MultiplyAdd(y0, v, e0); e1 = VectorFma.MultiplyAdd(y1, v, e1); e2 = VectorFma.MultiplyAdd(y2, v, e2);
                        v = Vector512.Create(Unsafe.Add(ref wt, 4));
                        f0 = VectorFma.MultiplyAdd(y0, v, f0); f1 = VectorFma.MultiplyAdd(y1, v, f1); f2 = VectorFma.MultiplyAdd(y2, v, f2);
                        v = Vector512.Create(Unsafe.Add(ref wt, 5));
                        g0 = VectorFma.MultiplyAdd(y0, v, g0); g1 = VectorFma.MultiplyAdd(y1, v, g1); g2 = VectorFma.MultiplyAdd(y2, v, g2);
                        v = Vector512.Create(Unsafe.Add(ref wt, 6));
                        h0 = VectorFma.MultiplyAdd(y0, v, h0); h1 = VectorFma.MultiplyAdd(y1, v, h1); h2 = VectorFma.MultiplyAdd(y2, v, h2);
                        v = Vector512.Create(Unsafe.Add(ref wt, 7));
                        k0 = VectorFma.MultiplyAdd(y0, v, k0); k1 = VectorFma.MultiplyAdd(y1, v, k1); k2 = VectorFma.MultiplyAdd(y2, v, k2);
                    }
                }
                ref T target = ref Unsafe.Add(ref r, cb * ChannelBlock * positions + k);
                Store3(ref target, lanes, a0, a1, a2);
                Store3(ref Unsafe.Add(ref target, positions), lanes, b0, b1, b2);
                Store3(ref Unsafe.Add(ref target, 2 * positions), lanes, c0, c1, c2);
                Store3(ref Unsafe.Add(ref target, 3 * positions), lanes, e0, e1, e2);
                Store3(ref Unsafe.Add(ref target, 4 * positions), lanes, f0, f1, f2);
                Store3(ref Unsafe.Add(ref target, 5 * positions), lanes, g0, g1, g2);
                Store3(ref Unsafe.Add(ref target, 6 * positions), lanes, h0, h1, h2);
                Store3(ref Unsafe.Add(ref target, 7 * positions), lanes, k0, k1, k2);
            }
    }

    /// <summary>The 256-bit input gradient: the 512-bit kernel's sums (each output element the same chain over o and t),
    /// in blocks of 4 input channels × 2 vectors of positions = 8 accumulators, which with the 2 gradient vectors and
    /// the broadcast weight fit AVX2's 16 vector registers (8 × 3 = 24 accumulators, the 512-bit kernel's block, spilled
    /// on every step there).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradient256<T>(in Layout layout, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> packedWeight, int outChannels, int inChannels,
                                            Span<T> result, ReadOnlySpan<int> shifts) where T : unmanaged, INumber<T>
    {
        int p = layout.Pitch, stride = layout.PlaneStride, positions = layout.Positions, lanes = Vector256<T>.Count, blocks = (inChannels + ChannelBlock - 1) / ChannelBlock;
        const int Half = ChannelBlock / 2;
        ref T ys = ref MemoryMarshal.GetReference(gradOutput);
        ref T wp = ref MemoryMarshal.GetReference(packedWeight);
        ref T r = ref MemoryMarshal.GetReference(result);
        for (int cb = 0; cb < blocks; cb++)
            for (int half = 0; half < ChannelBlock; half += Half)
                for (int k = 0; k < positions; k += 2 * lanes)
                {
                    Vector256<T> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, e0 = default, e1 = default;
                    for (int o = 0; o < outChannels; o++)
                    {
                        ref T y = ref Unsafe.Add(ref ys, o * stride + k);
                        ref T w = ref Unsafe.Add(ref wp, (cb * outChannels + o) * shifts.Length * ChannelBlock + half);
                        for (int t = 0; t < shifts.Length; t++)
                        {
                            ref T source = ref Unsafe.Add(ref y, shifts[t]);
                            Vector256<T> y0 = Vector256.LoadUnsafe(ref source), y1 = Vector256.LoadUnsafe(ref source, (nuint)lanes);
                            ref T wt = ref Unsafe.Add(ref w, t * ChannelBlock);
                            Vector256<T> v = Vector256.Create(wt);
                            a0 = VectorFma.MultiplyAdd(y0, v, a0); a1 = VectorFma.MultiplyAdd(y1, v, a1);
                            v = Vector256.Create(Unsafe.Add(ref wt, 1));
                            b0 = VectorFma.MultiplyAdd(y0, v, b0); b1 = VectorFma.MultiplyAdd(y1, v, b1);
                            v = Vector256.Create(Unsafe.Add(ref wt, 2));
                            c0 = VectorFma.MultiplyAdd(y0, v, c0); c1 = VectorFma.MultiplyAdd(y1, v, c1);
                            v = Vector256.Create(Unsafe.Add(ref wt, 3));
                            e0 = VectorFma.MultiplyAdd(y0, v, e0); e1 = VectorFma.MultiplyAdd(y1, v, e1);
                        }
                    }
                    ref T target = ref Unsafe.Add(ref r, (cb * ChannelBlock + half) * positions + k);
                    a0.StoreUnsafe(ref target); a1.StoreUnsafe(ref target, (nuint)lanes);
                    b0.StoreUnsafe(ref target, (nuint)positions); b1.StoreUnsafe(ref target, (nuint)(positions + lanes));
                    c0.StoreUnsafe(ref target, (nuint)(2 * positions)); c1.StoreUnsafe(ref target, (nuint)(2 * positions + lanes));
                    e0.StoreUnsafe(ref target, (nuint)(3 * positions)); e1.StoreUnsafe(ref target, (nuint)(3 * positions + lanes));
                }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store3<T>(ref T target, int lanes, Vector512<T> v0, Vector512<T> v1, Vector512<T> v2) where T : unmanaged
    {
        v0.StoreUnsafe(ref target);
        v1.StoreUnsafe(ref target, (nuint)lanes);
        v2.StoreUnsafe(ref target, (nuint)(2 * lanes));
    }

}
