using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels;

/// <summary>The backward of a 3×3, stride-1, padding-1 convolution (both gradients) as direct correlations over a
/// "stacked" layout of a group of images, without im2col, col2im or a GEMM, for any image size.</summary>
/// <remarks>
/// <para><b>Layout.</b> Each channel of a group of G images of H×W becomes one flat plane with row pitch
/// P = W + 1: every image row is stored after one zero (column 0), and the images follow each other with one zero
/// row between them (and one above the first). Pixel (g, y, x) sits at position
/// <c>q = (1 + g·(H + 1) + y)·P + 1 + x</c>. Its 3×3 neighbour (y + i − 1, x + j − 1) is then at
/// <c>q + (i − 1)·P + (j − 1)</c> for every pixel: a neighbour left of column 0 is the zero of column 0, one right
/// of the last column is the next row's column-0 zero, and the rows above and below an image are the zero rows.
/// So the convolution's zero padding holds with a single flat shift per tap, and the inner loops run over the flat
/// positions in whole vectors regardless of W (8×8 images included). Plane element j holds position q = j − 1,
/// so every tap's shift is non-negative. The cost is the zeros: (H + 1)(W + 1)/(HW) of the work, 1.27 for 8×8
/// images, 1.06 for 32×32.</para>
/// <para><b>Weight gradient.</b> <c>dW[o, c, i, j] = Σ_{g,y,x} dY[g, o, y, x] · X[g, c, y + i − 1, x + j − 1]</c> =
/// <c>Σ_k D_o[k] · X_c[k + i·P + j]</c> over the flat index k, where <c>D_o[k] = Y_o[k + P + 1]</c> is the stacked
/// output gradient read from position P (it is zero on every position that is not a pixel, so the sum over
/// non-pixels adds nothing). Register block: 8 output channels × the 3 taps of one filter row = 24 vector
/// accumulators; per vector step 8 loads of D, 3 of X, 24 fused multiply-adds. The lanes are summed at the end of
/// each group into dW (per-thread partial sums, added in image order by the caller). In float32 with output channels
/// in 32s on 512-bit vectors the caller takes the output-lanes kernel instead (StackedConv3x3.AcrossOutputs.cs):
/// no lane sums and no line-straddling loads.</para>
/// <para><b>Input gradient.</b> <c>dX[g, c, y, x] = Σ_{o,i,j} W[o, c, i, j] · dY[g, o, y − i + 1, x − j + 1]</c>; at
/// output position q = P + k this is <c>Σ_{o,a,b} W[o, c, 2 − a, 2 − b] · Y_o[k + a·P + b]</c> (the filters
/// transposed and rotated 180°, <see cref="PackTaps{T}"/>). Register block: 8 input channels × 3 vectors = 24
/// accumulators; per (o, tap) 3 loads of Y and 8 broadcast weights for 24 fused multiply-adds. The result planes
/// are added into dx row by row (<see cref="AddUnstacked{T}"/>).</para>
/// <para>Summation order: every output is one chain of fused multiply-adds per lane (or per scalar) followed by the
/// lane sum, so the paths differ by rounding on reals and agree exactly on small integers (the tests' data).</para>
/// </remarks>
internal static partial class StackedConv3x3
{
    /// <summary>Channels per register block (output channels for dW, input channels for dX).</summary>
    public const int ChannelBlock = 8;

    /// <summary>The flat length computed per plane is a multiple of this: three 512-bit float vectors (and so of
    /// every narrower vector block).</summary>
    public const int PositionBlock = 48;

    /// <summary>True for a 3×3, stride-1, padding-1, undilated geometry.</summary>
    public static bool Applies(in Conv2DGeometry g) =>
        g is { KernelHeight: 3, KernelWidth: 3, StrideHeight: 1, StrideWidth: 1, PadHeight: 1, PadWidth: 1, DilationHeight: 1, DilationWidth: 1 };

    /// <summary>Images per group: about 1024 stacked positions, so the 8 D planes and an X plane of the weight-gradient
    /// block (8·4 KB + 4 KB in float) stay in L1 while the block runs over them.</summary>
    public static int GroupSize(int height, int width) => Math.Clamp(1024 / ((height + 1) * (width + 1)), 1, 64);

    /// <summary>The geometry of one stacked group.</summary>
    public readonly struct Layout
    {
        public Layout(int images, int height, int width)
        {
            (Images, Height, Width, Pitch) = (images, height, width, width + 1);
            int used = (images * (height + 1) - 1) * Pitch; // positions P … G(H+1)P − 1, from the first image row to the last
            Positions = (used + PositionBlock - 1) / PositionBlock * PositionBlock;
            PlaneStride = (Positions + 2 * Pitch + 2 + 15) / 16 * 16; // the furthest tap reads Positions − 1 + 2P + 2
        }

        public int Images { get; }
        public int Height { get; }
        public int Width { get; }

        /// <summary>P = W + 1.</summary>
        public int Pitch { get; }

        /// <summary>Flat positions computed per plane (from position P), a multiple of <see cref="PositionBlock"/>.</summary>
        public int Positions { get; }

        /// <summary>Elements per stacked plane.</summary>
        public int PlaneStride { get; }

        /// <summary>Plane index of pixel (g, y, 0): <c>q + 1</c> for its position q.</summary>
        public int RowStart(int image, int row) => (1 + image * (Height + 1) + row) * Pitch + 2;
    }

    /// <summary>Writes <paramref name="channels"/> stacked planes of the layout's images, image g being
    /// <c>source[g·imageStride …]</c> [channels, H, W]; planes <paramref name="channels"/> … <paramref name="planes"/> − 1
    /// (channel padding up to a block) are zero. With <paramref name="sign"/> the planes hold sign(v) instead of v, in
    /// the bit packer's convention (<c>v ≥ 0</c> → +1, else −1: ±0 → +1, NaN → −1), so the weight gradient of a
    /// convolution of sign(x) reads x itself.</summary>
    public static void Stack<T>(in Layout layout, ReadOnlySpan<T> source, int imageStride, int channels, int planes, Span<T> stacked, bool sign = false)
        where T : unmanaged, INumber<T>
    {
        int h = layout.Height, w = layout.Width, plane = h * w, stride = layout.PlaneStride;
        stacked[..(planes * stride)].Clear();
        _ = source[(layout.Images - 1) * imageStride + channels * plane - 1]; // bounds, once: rows are copied by reference
        ref T from = ref MemoryMarshal.GetReference(source);
        ref T to = ref MemoryMarshal.GetReference(stacked);
        SimdPath path = Simd.Path;
        for (int c = 0; c < channels; c++)
            for (int g = 0; g < layout.Images; g++)
            {
                ref T image = ref Unsafe.Add(ref from, g * imageStride + c * plane);
                ref T target = ref Unsafe.Add(ref to, c * stride + layout.RowStart(g, 0));
                for (int y = 0; y < h; y++)
                {
                    ref T row = ref Unsafe.Add(ref image, y * w);
                    ref T into = ref Unsafe.Add(ref target, y * layout.Pitch);
                    if (sign) SignRow(path, ref row, ref into, w);
                    else CopyRow(path, ref row, ref into, w);
                }
            }
    }

    /// <summary><c>target[0 … count) = source[0 … count)</c> for one short image row: inline vector moves (a library
    /// call per 8–32-element row costs more than the copy), scalar on the scalar path and for the tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow<T>(SimdPath path, ref T source, ref T target, int count) where T : unmanaged
    {
        int i = 0;
        if (path == SimdPath.Vector512 && Vector512<T>.IsSupported)
            for (; i + Vector512<T>.Count <= count; i += Vector512<T>.Count) Vector512.LoadUnsafe(ref source, (nuint)i).StoreUnsafe(ref target, (nuint)i);
        if (path != SimdPath.Scalar && Vector256<T>.IsSupported)
            for (; i + Vector256<T>.Count <= count; i += Vector256<T>.Count) Vector256.LoadUnsafe(ref source, (nuint)i).StoreUnsafe(ref target, (nuint)i);
        for (; i < count; i++) Unsafe.Add(ref target, i) = Unsafe.Add(ref source, i);
    }

    /// <summary><c>target[i] = source[i] ≥ 0 ? 1 : −1</c> over a whole span.</summary>
    public static void Sign<T>(ReadOnlySpan<T> source, Span<T> target) where T : unmanaged, INumber<T> =>
        SignRow(Simd.Path, ref MemoryMarshal.GetReference(source), ref MemoryMarshal.GetReference(target[..source.Length]), source.Length);

    /// <summary><c>target[i] = result[i] · 1[|x[i]| ≤ clip]</c> over a whole span (with <paramref name="accumulate"/>,
    /// <c>target[i] += …</c>).</summary>
    public static void WriteMasked<T>(ReadOnlySpan<T> result, ReadOnlySpan<T> input, Span<T> target, T clip, bool accumulate = false) where T : unmanaged, INumber<T> =>
        MaskedRow(Simd.Path, ref MemoryMarshal.GetReference(result), ref MemoryMarshal.GetReference(input[..result.Length]),
                  ref MemoryMarshal.GetReference(target[..result.Length]), result.Length, clip, accumulate);

    /// <summary><c>target[i] = source[i] ≥ 0 ? 1 : −1</c> for one row (vector on the vector paths, scalar tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SignRow<T>(SimdPath path, ref T source, ref T target, int count) where T : unmanaged, INumber<T>
    {
        int i = 0;
        if (path == SimdPath.Vector512 && Vector512<T>.IsSupported)
            for (; i + Vector512<T>.Count <= count; i += Vector512<T>.Count)
                Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(Vector512.LoadUnsafe(ref source, (nuint)i), Vector512<T>.Zero), Vector512<T>.One, -Vector512<T>.One)
                    .StoreUnsafe(ref target, (nuint)i);
        if (path != SimdPath.Scalar && Vector256<T>.IsSupported)
            for (; i + Vector256<T>.Count <= count; i += Vector256<T>.Count)
                Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref source, (nuint)i), Vector256<T>.Zero), Vector256<T>.One, -Vector256<T>.One)
                    .StoreUnsafe(ref target, (nuint)i);
        for (; i < count; i++) Unsafe.Add(ref target, i) = Unsafe.Add(ref source, i) >= T.Zero ? T.One : -T.One;
    }

    /// <summary>Writes the first <paramref name="channels"/> result planes times the straight-through mask of the
    /// sign's input into images [channels, H, W] at <c>target[g·imageStride …]</c>:
    /// <c>target[i] = result[i] · 1[|x[i]| ≤ clip]</c>, x laid out like the target (a product, not a select, so a masked
    /// non-finite result still gives NaN, as the unfused mask does). Overwrites, so the target needs no clearing: every
    /// pixel of every image is written once. With <paramref name="accumulate"/> it adds instead:
    /// <c>target[i] = target[i] + result[i] · 1[…]</c>, the sum a separate gradient accumulation would make (float
    /// addition commutes), in the same pass.</summary>
    public static void WriteUnstackedMasked<T>(in Layout layout, ReadOnlySpan<T> result, int channels, Span<T> target, ReadOnlySpan<T> input, int imageStride, T clip,
        bool accumulate = false) where T : unmanaged, INumber<T>
    {
        int h = layout.Height, w = layout.Width, plane = h * w, shift = layout.Pitch + 1; // result k is position P + k = plane index k + P + 1
        int last = (layout.Images - 1) * imageStride + channels * plane;
        _ = target[last - 1]; // bounds, once: rows are written by reference
        _ = input[last - 1];
        _ = result[channels * layout.Positions - 1];
        ref T r = ref MemoryMarshal.GetReference(result), x = ref MemoryMarshal.GetReference(input), t = ref MemoryMarshal.GetReference(target);
        SimdPath path = Simd.Path;
        for (int c = 0; c < channels; c++)
            for (int g = 0; g < layout.Images; g++)
            {
                ref T source = ref Unsafe.Add(ref r, c * layout.Positions + layout.RowStart(g, 0) - shift);
                int at = g * imageStride + c * plane;
                for (int y = 0; y < h; y++)
                    MaskedRow(path, ref Unsafe.Add(ref source, y * layout.Pitch), ref Unsafe.Add(ref x, at + y * w), ref Unsafe.Add(ref t, at + y * w), w, clip, accumulate);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskedRow<T>(SimdPath path, ref T source, ref T x, ref T target, int count, T clip, bool accumulate) where T : unmanaged, INumber<T>
    {
        int i = 0;
        if (path == SimdPath.Vector512 && Vector512<T>.IsSupported)
        {
            Vector512<T> bound = Vector512.Create(clip);
            for (; i + Vector512<T>.Count <= count; i += Vector512<T>.Count)
            {
                Vector512<T> inside = Vector512.LessThanOrEqual(Vector512.Abs(Vector512.LoadUnsafe(ref x, (nuint)i)), bound) & Vector512<T>.One;
                Vector512<T> value = Vector512.LoadUnsafe(ref source, (nuint)i) * inside;
                (accumulate ? Vector512.LoadUnsafe(ref target, (nuint)i) + value : value).StoreUnsafe(ref target, (nuint)i);
            }
        }
        if (path != SimdPath.Scalar && Vector256<T>.IsSupported)
        {
            Vector256<T> bound = Vector256.Create(clip);
            for (; i + Vector256<T>.Count <= count; i += Vector256<T>.Count)
            {
                Vector256<T> inside = Vector256.LessThanOrEqual(Vector256.Abs(Vector256.LoadUnsafe(ref x, (nuint)i)), bound) & Vector256<T>.One;
                Vector256<T> value = Vector256.LoadUnsafe(ref source, (nuint)i) * inside;
                (accumulate ? Vector256.LoadUnsafe(ref target, (nuint)i) + value : value).StoreUnsafe(ref target, (nuint)i);
            }
        }
        for (; i < count; i++)
        {
            T value = Unsafe.Add(ref source, i) * (T.Abs(Unsafe.Add(ref x, i)) <= clip ? T.One : T.Zero);
            Unsafe.Add(ref target, i) = accumulate ? Unsafe.Add(ref target, i) + value : value;
        }
    }

    /// <summary>Adds the first <paramref name="channels"/> result planes (<see cref="Layout.Positions"/> long each, from
    /// position P) into images [channels, H, W] at <c>target[g·imageStride …]</c>.</summary>
    public static void AddUnstacked<T>(in Layout layout, ReadOnlySpan<T> result, int channels, Span<T> target, int imageStride) where T : unmanaged, INumber<T>
    {
        int h = layout.Height, w = layout.Width, plane = h * w, shift = layout.Pitch + 1; // result k is position P + k = plane index k + P + 1
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<T> source = result.Slice(c * layout.Positions, layout.Positions);
            for (int g = 0; g < layout.Images; g++)
                for (int y = 0; y < h; y++)
                    AddRow(ref MemoryMarshal.GetReference(source.Slice(layout.RowStart(g, y) - shift, w)),
                           ref MemoryMarshal.GetReference(target.Slice(g * imageStride + c * plane + y * w, w)), w);
        }
    }

    /// <summary>Writes the result planes back to NCHW plus a per-channel bias: <c>target[g, c, y, x] = result[c][…] + bias[c]</c>
    /// (no bias when <paramref name="bias"/> is empty: a copy), every pixel written once (a forward's output, no
    /// clearing needed). Inline vector moves per row, as <see cref="AddUnstacked{T}"/>.</summary>
    public static void WriteUnstacked(in Layout layout, ReadOnlySpan<float> result, int channels, Span<float> target, int imageStride, ReadOnlySpan<float> bias)
    {
        int h = layout.Height, w = layout.Width, plane = h * w, shift = layout.Pitch + 1; // result k is position P + k = plane index k + P + 1
        _ = target[(layout.Images - 1) * imageStride + channels * plane - 1]; // bounds, once: rows go by reference
        _ = result[channels * layout.Positions - 1];
        if (!bias.IsEmpty) _ = bias[channels - 1];
        SimdPath path = Simd.Path;
        ref float r = ref MemoryMarshal.GetReference(result), t = ref MemoryMarshal.GetReference(target);
        for (int c = 0; c < channels; c++)
        {
            float add = bias.IsEmpty ? 0f : bias[c];
            for (int g = 0; g < layout.Images; g++)
                for (int y = 0; y < h; y++)
                {
                    ref float from = ref Unsafe.Add(ref r, c * layout.Positions + layout.RowStart(g, y) - shift);
                    ref float into = ref Unsafe.Add(ref t, g * imageStride + c * plane + y * w);
                    if (bias.IsEmpty) CopyRow(path, ref from, ref into, w);
                    else BiasRow(path, ref from, ref into, w, add);
                }
        }
    }

    /// <summary><c>target[i] = source[i] + bias</c> for one short image row (inline vectors, scalar tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BiasRow(SimdPath path, ref float source, ref float target, int count, float bias)
    {
        int i = 0;
        if (path == SimdPath.Vector512)
            for (; i + 16 <= count; i += 16) (Vector512.LoadUnsafe(ref source, (nuint)i) + Vector512.Create(bias)).StoreUnsafe(ref target, (nuint)i);
        if (path != SimdPath.Scalar)
            for (; i + 8 <= count; i += 8) (Vector256.LoadUnsafe(ref source, (nuint)i) + Vector256.Create(bias)).StoreUnsafe(ref target, (nuint)i);
        for (; i < count; i++) Unsafe.Add(ref target, i) = Unsafe.Add(ref source, i) + bias;
    }

    /// <summary><c>target[0 … count) += source[0 … count)</c> for one short image row: inline vector adds (a library call
    /// per 8–32-element row cost ~90 ns, more than the adds), scalar on the scalar path and for the tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow<T>(ref T source, ref T target, int count) where T : unmanaged, INumber<T>
    {
        int i = 0;
        SimdPath path = Simd.Path;
        if (path == SimdPath.Vector512 && Vector512<T>.IsSupported)
            for (; i + Vector512<T>.Count <= count; i += Vector512<T>.Count)
                (Vector512.LoadUnsafe(ref target, (nuint)i) + Vector512.LoadUnsafe(ref source, (nuint)i)).StoreUnsafe(ref target, (nuint)i);
        if (path != SimdPath.Scalar && Vector256<T>.IsSupported)
            for (; i + Vector256<T>.Count <= count; i += Vector256<T>.Count)
                (Vector256.LoadUnsafe(ref target, (nuint)i) + Vector256.LoadUnsafe(ref source, (nuint)i)).StoreUnsafe(ref target, (nuint)i);
        for (; i < count; i++) Unsafe.Add(ref target, i) += Unsafe.Add(ref source, i);
    }

    /// <summary>The input-gradient filters of the listed taps, blocked: <c>packed[((cb·O + o)·n + m)·8 + k] =
    /// W[o, 8cb + k, taps[m]]</c> for W [O, C, 3, 3] (tap t = 3i + j), zero for channels 8cb + k ≥ C; n = taps.Length.
    /// Length ⌈C/8⌉·8·O·n.</summary>
    public static void PackTaps<T>(ReadOnlySpan<T> weight, int outChannels, int inChannels, ReadOnlySpan<int> taps, Span<T> packed) where T : unmanaged, INumber<T>
    {
        int blocks = (inChannels + ChannelBlock - 1) / ChannelBlock, n = taps.Length;
        packed[..(blocks * outChannels * n * ChannelBlock)].Clear();
        for (int o = 0; o < outChannels; o++)
            for (int c = 0; c < inChannels; c++)
                for (int m = 0; m < n; m++)
                    packed[((c / ChannelBlock * outChannels + o) * n + m) * ChannelBlock + c % ChannelBlock] = weight[(o * inChannels + c) * 9 + taps[m]];
    }

    /// <summary>All nine taps in order, for <see cref="PackTaps{T}"/> at stride 1.</summary>
    public static ReadOnlySpan<int> AllTaps => [0, 1, 2, 3, 4, 5, 6, 7, 8];

    /// <summary>Stride 1: the weight gradient reads tap (i, j) of channel c at <c>k + i·P + j</c> of its plane
    /// (<paramref name="xOffsets"/>), the input gradient reads tap (i, j)'s dY at <c>k + (2 − i)·P + (2 − j)</c>
    /// (<paramref name="yShifts"/>, the filter rotated 180°).</summary>
    public static void Stride1Offsets(int pitch, Span<int> xOffsets, Span<int> yShifts)
    {
        for (int t = 0; t < 9; t++)
        {
            xOffsets[t] = t / 3 * pitch + t % 3;
            yShifts[t] = (2 - t / 3) * pitch + 2 - t % 3;
        }
    }

    /// <summary>True for a 3×3, stride-2, padding-1, undilated geometry on an image of even sides: its gradients run on
    /// the four phase planes <c>x_{r,s}[y, x] = x[2y + r, 2x + s]</c> (<see cref="StackPhases{T}"/>), each H/2 × W/2
    /// like the output, where every tap is again a flat shift.</summary>
    public static bool AppliesStride2(in Conv2DGeometry g) =>
        g is { KernelHeight: 3, KernelWidth: 3, StrideHeight: 2, StrideWidth: 2, PadHeight: 1, PadWidth: 1, DilationHeight: 1, DilationWidth: 1 }
        && g.InHeight % 2 == 0 && g.InWidth % 2 == 0;

    /// <summary>Stride 2, tap i of a filter row or column reads input row <c>2y + i − 1</c>: phase <c>r(i)</c> (1, 0, 1)
    /// at phase row <c>y + d(i)</c> with <c>d(i)</c> = (−1, 0, 0).</summary>
    private static int Phase(int i) => i == 1 ? 0 : 1;

    private static int Delta(int i) => i == 0 ? -1 : 0;

    /// <summary>Stride 2, weight gradient: tap (i, j) of channel c reads phase plane <c>4c + 2r(i) + r(j)</c> at
    /// <c>k + (1 + d(i))·P + 1 + d(j)</c> (offsets from the channel's first phase plane).</summary>
    public static void Stride2WeightOffsets(int pitch, int planeStride, Span<int> xOffsets)
    {
        for (int t = 0; t < 9; t++)
        {
            int i = t / 3, j = t % 3;
            xOffsets[t] = (2 * Phase(i) + Phase(j)) * planeStride + (1 + Delta(i)) * pitch + 1 + Delta(j);
        }
    }

    /// <summary>Stride 2, input gradient of phase (r, s): <c>dx[c, 2y + r, 2x + s] = Σ_o Σ W[o, c, i, j]·dY[o, y − d(i), x − d(j)]</c>
    /// over the taps with r(i) = r and r(j) = s (1, 2, 2 and 4 taps for the four phases); dY is read at
    /// <c>k + (1 − d(i))·P + 1 − d(j)</c>. Returns the tap count.</summary>
    public static int Stride2InputTaps(int r, int s, int pitch, Span<int> taps, Span<int> yShifts)
    {
        int n = 0;
        for (int t = 0; t < 9; t++)
        {
            int i = t / 3, j = t % 3;
            if (Phase(i) != r || Phase(j) != s) continue;
            taps[n] = t;
            yShifts[n++] = (1 - Delta(i)) * pitch + 1 - Delta(j);
        }
        return n;
    }

    /// <summary>The four phase planes of each channel, stacked (as <see cref="Stack{T}"/>, signs optional): plane
    /// <c>4c + 2r + s</c> holds <c>x[g, c, 2y + r, 2x + s]</c> for the layout's (half-size) rows and columns.</summary>
    public static void StackPhases<T>(in Layout layout, ReadOnlySpan<T> source, int imageStride, int channels, Span<T> stacked, bool sign)
        where T : unmanaged, INumber<T>
    {
        int h = layout.Height, w = layout.Width, width = 2 * w, plane = 4 * h * w, stride = layout.PlaneStride;
        stacked[..(4 * channels * stride)].Clear();
        _ = source[(layout.Images - 1) * imageStride + channels * plane - 1]; // bounds, once: rows go by reference
        ref T from = ref MemoryMarshal.GetReference(source), to = ref MemoryMarshal.GetReference(stacked);
        bool vector = Simd.Path != SimdPath.Scalar && Vector256.IsHardwareAccelerated && typeof(T) == typeof(float);
        for (int c = 0; c < channels; c++)
            for (int g = 0; g < layout.Images; g++)
                for (int r = 0; r < 2; r++)
                {
                    ref T even = ref Unsafe.Add(ref to, (4 * c + 2 * r) * stride + layout.RowStart(g, 0));
                    ref T odd = ref Unsafe.Add(ref even, stride);
                    for (int y = 0; y < h; y++)
                    {
                        ref T row = ref Unsafe.Add(ref from, g * imageStride + c * plane + (2 * y + r) * width);
                        ref T e = ref Unsafe.Add(ref even, y * layout.Pitch), o = ref Unsafe.Add(ref odd, y * layout.Pitch);
                        int x = 0;
                        if (vector)
                            for (; x + 8 <= w; x += 8)
                            {
                                // 16 inputs → 8 even columns and 8 odd ones: each half sorted evens-then-odds, halves recombined
                                Vector256<int> order = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7);
                                Vector256<float> a = Vector256.Shuffle(Vector256.LoadUnsafe(ref Unsafe.As<T, float>(ref Unsafe.Add(ref row, 2 * x))), order);
                                Vector256<float> b = Vector256.Shuffle(Vector256.LoadUnsafe(ref Unsafe.As<T, float>(ref Unsafe.Add(ref row, 2 * x + 8))), order);
                                Vector256<float> ev = Vector256.Create(a.GetLower(), b.GetLower()), od = Vector256.Create(a.GetUpper(), b.GetUpper());
                                if (sign)
                                {
                                    ev = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(ev, Vector256<float>.Zero), Vector256<float>.One, -Vector256<float>.One);
                                    od = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(od, Vector256<float>.Zero), Vector256<float>.One, -Vector256<float>.One);
                                }
                                ev.StoreUnsafe(ref Unsafe.As<T, float>(ref Unsafe.Add(ref e, x)));
                                od.StoreUnsafe(ref Unsafe.As<T, float>(ref Unsafe.Add(ref o, x)));
                            }
                        for (; x < w; x++)
                        {
                            T ve = Unsafe.Add(ref row, 2 * x), vo = Unsafe.Add(ref row, 2 * x + 1);
                            Unsafe.Add(ref e, x) = sign ? (ve >= T.Zero ? T.One : -T.One) : ve;
                            Unsafe.Add(ref o, x) = sign ? (vo >= T.Zero ? T.One : -T.One) : vo;
                        }
                    }
                }
    }

    /// <summary>Writes the result planes of phases (r, 0) and (r, 1) times the mask into the full-size images:
    /// <c>target[g, c, 2y + r, 2x + s] = result_s · 1[|x| ≤ clip]</c> (see <see cref="WriteUnstackedMasked{T}"/>), the two
    /// phases interleaved into whole rows; r = 0 and 1 together write every pixel once (with
    /// <paramref name="accumulate"/>, add to it).</summary>
    public static void WriteUnstackedMaskedPhases<T>(in Layout layout, ReadOnlySpan<T> even, ReadOnlySpan<T> odd, int channels, Span<T> target, ReadOnlySpan<T> input,
                                                     int imageStride, T clip, int r, bool accumulate = false) where T : unmanaged, INumber<T>
    {
        int h = layout.Height, w = layout.Width, width = 2 * w, plane = 4 * h * w, shift = layout.Pitch + 1;
        int last = (layout.Images - 1) * imageStride + channels * plane;
        _ = target[last - 1]; // bounds, once: rows go by reference
        _ = input[last - 1];
        _ = even[channels * layout.Positions - 1];
        _ = odd[channels * layout.Positions - 1];
        ref T re = ref MemoryMarshal.GetReference(even), ro = ref MemoryMarshal.GetReference(odd);
        ref T xs = ref MemoryMarshal.GetReference(input), ts = ref MemoryMarshal.GetReference(target);
        bool vector = Simd.Path != SimdPath.Scalar && Vector256.IsHardwareAccelerated && typeof(T) == typeof(float);
        Vector256<float> bound = Vector256.Create(float.CreateTruncating(clip));
        for (int c = 0; c < channels; c++)
            for (int g = 0; g < layout.Images; g++)
                for (int y = 0; y < h; y++)
                {
                    int from = c * layout.Positions + layout.RowStart(g, y) - shift, at = g * imageStride + c * plane + (2 * y + r) * width;
                    ref T e = ref Unsafe.Add(ref re, from), o = ref Unsafe.Add(ref ro, from), x = ref Unsafe.Add(ref xs, at), t = ref Unsafe.Add(ref ts, at);
                    int i = 0;
                    if (vector)
                        for (; i + 8 <= w; i += 8)
                        {
                            // 8 even and 8 odd columns → 16 interleaved: each half of (evens, odds) zipped by one permutation
                            Vector256<int> zip = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
                            Vector256<float> ev = Vector256.LoadUnsafe(ref Unsafe.As<T, float>(ref Unsafe.Add(ref e, i)));
                            Vector256<float> od = Vector256.LoadUnsafe(ref Unsafe.As<T, float>(ref Unsafe.Add(ref o, i)));
                            Vector256<float> lo = Vector256.Shuffle(Vector256.Create(ev.GetLower(), od.GetLower()), zip);
                            Vector256<float> hi = Vector256.Shuffle(Vector256.Create(ev.GetUpper(), od.GetUpper()), zip);
                            ref float xf = ref Unsafe.As<T, float>(ref Unsafe.Add(ref x, 2 * i)), tf = ref Unsafe.As<T, float>(ref Unsafe.Add(ref t, 2 * i));
                            lo *= Vector256.LessThanOrEqual(Vector256.Abs(Vector256.LoadUnsafe(ref xf)), bound) & Vector256<float>.One;
                            hi *= Vector256.LessThanOrEqual(Vector256.Abs(Vector256.LoadUnsafe(ref xf, 8)), bound) & Vector256<float>.One;
                            (accumulate ? Vector256.LoadUnsafe(ref tf) + lo : lo).StoreUnsafe(ref tf);
                            (accumulate ? Vector256.LoadUnsafe(ref tf, 8) + hi : hi).StoreUnsafe(ref tf, 8);
                        }
                    for (; i < w; i++)
                    {
                        T evenValue = Unsafe.Add(ref e, i) * (T.Abs(Unsafe.Add(ref x, 2 * i)) <= clip ? T.One : T.Zero);
                        T oddValue = Unsafe.Add(ref o, i) * (T.Abs(Unsafe.Add(ref x, 2 * i + 1)) <= clip ? T.One : T.Zero);
                        Unsafe.Add(ref t, 2 * i) = accumulate ? Unsafe.Add(ref t, 2 * i) + evenValue : evenValue;
                        Unsafe.Add(ref t, 2 * i + 1) = accumulate ? Unsafe.Add(ref t, 2 * i + 1) + oddValue : oddValue;
                    }
                }
    }
}
