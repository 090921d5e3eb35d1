using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels;

/// <summary>A direct 3×3, stride-1, padding-1 convolution of one image for few channels, without im2col:
/// <c>y[o, r, x] (+)= Σ_{c, i, j} w[o, c, i, j] · xpad[c, r + i, x + j]</c>, where xpad is the image with a one-pixel
/// zero border. Its job is the input gradient of such a convolution with 16–32 output channels (ResNet-20's first
/// two stages), which the GEMM route computes as a GEMM of inner dimension C_out (16) followed by col2im — two
/// passes over a C_in·9 × pixels column matrix for 16 multiply-adds per column entry.</summary>
/// <remarks>
/// <para>The input gradient of <c>y = conv(x, W)</c> (3×3, stride 1, padding 1) is itself such a convolution:
/// <c>dx[c, r, x] = Σ_{o, i, j} W[o, c, 2 − i, 2 − j] · dypad[o, r + i, x + j]</c>, i.e. the forward of the
/// gradient with the filters transposed (in ↔ out) and rotated by 180° (<see cref="FlipTranspose{T}"/>).</para>
/// <para>Register blocking: 4 output channels × 2 vectors of one output row are 8 accumulators; per input channel
/// and tap the kernel loads 2 vectors of the padded row (unaligned, shifted by the tap's column) and broadcasts 4
/// weights for 8 fused multiply-adds. Rows must be a whole number of 2-vector blocks and the output channels a
/// multiple of 4 (<see cref="Applies"/>); the vectors are 256-bit, or 512-bit on the Vector512 path when rows hold whole
/// 2-zmm blocks (<see cref="Image512{T}"/>).</para>
/// <para>Summation order for each output: input channels in order, taps in row-major order, one fused multiply-add
/// each, then the old value added when accumulating. Exact on integer data like every path; on reals within the
/// usual bound of a k = 9·C_in dot product.</para>
/// </remarks>
internal static class DirectConv3x3
{
    /// <summary>Input channels at most this: beyond them the GEMM's reuse of packed operands wins.</summary>
    public const int MaxInChannels = 32;

    /// <summary>True for a 3×3, stride-1, padding-1, undilated geometry whose rows fill whole blocks of 2 vectors, with
    /// output channels in fours and at most <see cref="MaxInChannels"/> input channels, on a vector path.</summary>
    public static bool Applies<T>(in Conv2DGeometry g, int inChannels, int outChannels) where T : unmanaged, INumber<T> =>
        Simd.Path != SimdPath.Scalar && Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported
        && g is { KernelHeight: 3, KernelWidth: 3, StrideHeight: 1, StrideWidth: 1, PadHeight: 1, PadWidth: 1, DilationHeight: 1, DilationWidth: 1 }
        && g.InWidth % (2 * Vector256<T>.Count) == 0 && outChannels % 4 == 0 && inChannels <= MaxInChannels;

    /// <summary><c>W'[c, o, i, j] = W[o, c, 2 − i, 2 − j]</c> for 3×3 filters W [O, C, 3, 3]: the filters of the
    /// input-gradient convolution.</summary>
    public static void FlipTranspose<T>(ReadOnlySpan<T> weight, int outChannels, int inChannels, Span<T> flipped) where T : unmanaged, INumber<T>
    {
        for (int o = 0; o < outChannels; o++)
            for (int c = 0; c < inChannels; c++)
                for (int t = 0; t < 9; t++)
                    flipped[(c * outChannels + o) * 9 + 8 - t] = weight[(o * inChannels + c) * 9 + t];
    }

    /// <summary>Copies one image [C, H, W] into <paramref name="padded"/> [C, H + 2, W + 2] with a zero border.</summary>
    public static void Pad<T>(ReadOnlySpan<T> image, int channels, int height, int width, Span<T> padded) where T : unmanaged, INumber<T>
    {
        int pw = width + 2, ph = height + 2;
        padded[..(channels * ph * pw)].Clear();
        for (int c = 0; c < channels; c++)
            for (int r = 0; r < height; r++)
                image.Slice((c * height + r) * width, width).CopyTo(padded.Slice((c * ph + r + 1) * pw + 1, width));
    }

    /// <summary>One image: <paramref name="output"/> [O, H, W] = (or += when <paramref name="accumulate"/>) the
    /// convolution of <paramref name="padded"/> [C, H + 2, W + 2] by <paramref name="weight"/> [O, C, 3, 3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Image<T>(ReadOnlySpan<T> padded, ReadOnlySpan<T> weight, Span<T> output, int inChannels, int outChannels, int height, int width,
                                bool accumulate) where T : unmanaged, INumber<T>
    {
        if (Simd.Path == SimdPath.Vector512 && Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported && width % (2 * Vector512<T>.Count) == 0)
        {
            Image512(padded, weight, output, inChannels, outChannels, height, width, accumulate);
            return;
        }
        int lanes = Vector256<T>.Count, pw = width + 2, planeIn = (height + 2) * pw, planeOut = height * width;
        ref T x = ref MemoryMarshal.GetReference(padded);
        ref T w = ref MemoryMarshal.GetReference(weight);
        ref T y = ref MemoryMarshal.GetReference(output);
        for (int o = 0; o < outChannels; o += 4)
            for (int r = 0; r < height; r++)
                for (int col = 0; col < width; col += 2 * lanes)
                {
                    Vector256<T> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
                    for (int c = 0; c < inChannels; c++)
                    {
                        ref T row = ref Unsafe.Add(ref x, c * planeIn + r * pw + col);
                        ref T w0 = ref Unsafe.Add(ref w, (o * inChannels + c) * 9);
                        int filter = inChannels * 9; // distance between output channels' filters
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++)
                            {
                                ref T source = ref Unsafe.Add(ref row, i * pw + j);
                                Vector256<T> v0 = Vector256.LoadUnsafe(ref source), v1 = Vector256.LoadUnsafe(ref source, (nuint)lanes);
                                int t = i * 3 + j;
                                Vector256<T> k0 = Vector256.Create(Unsafe.Add(ref w0, t)), k1 = Vector256.Create(Unsafe.Add(ref w0, filter + t));
                                Vector256<T> k2 = Vector256.Create(Unsafe.Add(ref w0, 2 * filter + t)), k3 = Vector256.Create(Unsafe.Add(ref w0, 3 * filter + t));
                                a0 = VectorFma.MultiplyAdd(v0, k0, a0); a1 = VectorFma.MultiplyAdd(v1, k0, a1);
                                b0 = VectorFma.MultiplyAdd(v0, k1, b0); b1 = VectorFma.MultiplyAdd(v1, k1, b1);
                                c0 = VectorFma.MultiplyAdd(v0, k2, c0); c1 = VectorFma.MultiplyAdd(v1, k2, c1);
                                d0 = VectorFma.MultiplyAdd(v0, k3, d0); d1 = VectorFma.MultiplyAdd(v1, k3, d1);
                            }
                    }
                    Store(ref Unsafe.Add(ref y, o * planeOut + r * width + col), lanes, a0, a1, accumulate);
                    Store(ref Unsafe.Add(ref y, (o + 1) * planeOut + r * width + col), lanes, b0, b1, accumulate);
                    Store(ref Unsafe.Add(ref y, (o + 2) * planeOut + r * width + col), lanes, c0, c1, accumulate);
                    Store(ref Unsafe.Add(ref y, (o + 3) * planeOut + r * width + col), lanes, d0, d1, accumulate);
                }
    }

    /// <summary><see cref="Image{T}"/> with 512-bit vectors, for rows of whole 2-zmm blocks (32 floats: CIFAR's 32×32
    /// maps): the same fused multiply-adds in the same order per output, twice the lanes per instruction, so the results
    /// are the ymm loop's bit for bit. Why: the real 3 → 128 first convolution of VGG-Small ran at ≈ 190 GFLOP/s, under the
    /// ymm ceiling of ≈ 230 on two Zen 5 cores whose zmm peak is twice that.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image512<T>(ReadOnlySpan<T> padded, ReadOnlySpan<T> weight, Span<T> output, int inChannels, int outChannels, int height, int width,
                                    bool accumulate) where T : unmanaged, INumber<T>
    {
        int lanes = Vector512<T>.Count, pw = width + 2, planeIn = (height + 2) * pw, planeOut = height * width;
        ref T x = ref MemoryMarshal.GetReference(padded);
        ref T w = ref MemoryMarshal.GetReference(weight);
        ref T y = ref MemoryMarshal.GetReference(output);
        int filter = inChannels * 9; // distance between output channels' filters
        for (int o = 0; o < outChannels; o += 4)
            for (int r = 0; r < height; r++)
                for (int col = 0; col < width; col += 2 * lanes)
                {
                    Vector512<T> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
                    for (int c = 0; c < inChannels; c++)
                    {
                        ref T row = ref Unsafe.Add(ref x, c * planeIn + r * pw + col);
                        ref T w0 = ref Unsafe.Add(ref w, (o * inChannels + c) * 9);
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++)
                            {
                                ref T source = ref Unsafe.Add(ref row, i * pw + j);
                                Vector512<T> v0 = Vector512.LoadUnsafe(ref source), v1 = Vector512.LoadUnsafe(ref source, (nuint)lanes);
                                int t = i * 3 + j;
                                Vector512<T> k0 = Vector512.Create(Unsafe.Add(ref w0, t)), k1 = Vector512.Create(Unsafe.Add(ref w0, filter + t));
                                Vector512<T> k2 = Vector512.Create(Unsafe.Add(ref w0, 2 * filter + t)), k3 = Vector512.Create(Unsafe.Add(ref w0, 3 * filter + t));
                                a0 = VectorFma.MultiplyAdd(v0, k0, a0); a1 = VectorFma.MultiplyAdd(v1, k0, a1);
                                b0 = VectorFma.MultiplyAdd(v0, k1, b0); b1 = VectorFma.MultiplyAdd(v1, k1, b1);
                                c0 = VectorFma.MultiplyAdd(v0, k2, c0); c1 = VectorFma.MultiplyAdd(v1, k2, c1);
                                d0 = VectorFma.MultiplyAdd(v0, k3, d0); d1 = VectorFma.MultiplyAdd(v1, k3, d1);
                            }
                    }
                    Store512(ref Unsafe.Add(ref y, o * planeOut + r * width + col), lanes, a0, a1, accumulate);
                    Store512(ref Unsafe.Add(ref y, (o + 1) * planeOut + r * width + col), lanes, b0, b1, accumulate);
                    Store512(ref Unsafe.Add(ref y, (o + 2) * planeOut + r * width + col), lanes, c0, c1, accumulate);
                    Store512(ref Unsafe.Add(ref y, (o + 3) * planeOut + r * width + col), lanes, d0, d1, accumulate);
                }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512<T>(ref T target, int lanes, Vector512<T> first, Vector512<T> second, bool accumulate) where T : unmanaged, INumber<T>
    {
        if (accumulate)
        {
            first += Vector512.LoadUnsafe(ref target);
            second += Vector512.LoadUnsafe(ref target, (nuint)lanes);
        }
        first.StoreUnsafe(ref target);
        second.StoreUnsafe(ref target, (nuint)lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(ref T target, int lanes, Vector256<T> first, Vector256<T> second, bool accumulate) where T : unmanaged, INumber<T>
    {
        if (accumulate)
        {
            first += Vector256.LoadUnsafe(ref target);
            second += Vector256.LoadUnsafe(ref target, (nuint)lanes);
        }
        first.StoreUnsafe(ref target);
        second.StoreUnsafe(ref target, (nuint)lanes);
    }
}
