using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BinaryGrad.Kernels;

/// <summary>The float weight gradient of a stacked group by Winograd's minimal filtering F(3×3, 2×2): 16
/// multiply-adds per 2×2 tile of dY and (output channel, input channel) pair, where the direct correlation spends
/// 36.</summary>
/// <remarks>
/// <para><b>Why.</b> The weight gradient is the one float product of a binary convolution with no ±1 operand when the
/// activations stay real (1W/32A), and the output-lanes kernel (<see cref="WeightGradientAcrossOutputs"/>) already
/// runs it near the machine's fused multiply-add peak. Fewer multiply-adds is then the only way to make it faster.
/// The weight gradient is a correlation with a 3×3 result, <c>dW[o, c, i, j] = Σ_k D_o[k] · X_c[k + i·P + j]</c>;
/// cut the sum over k into 2×2 tiles of D and each tile is an F(3×3, 2×2) problem (Lavin &amp; Gray, CVPR 2016,
/// "Fast Algorithms for Convolutional Neural Networks", with the roles of filter and output swapped). Over its 16
/// points the sum over tiles is 16 independent products <c>M_p[c, o] = Σ_tiles U_p[tile, o] · V_p[c, tile]</c>,
/// each run like the output-lanes kernel, and the 3×3 gradient is read off M at the end.</para>
/// <para><b>Transforms</b> (points p = 4a + b; checked against the direct sum in Tests/Kernels/Conv/WinogradTests.cs):
/// <list type="bullet">
/// <item>output gradient tile <c>d</c> (2×2, rows y, y + 1, columns x, x + 1): <c>U = A·d·Aᵀ</c> with
/// <c>A = [[1, 0], [½, ½], [½, −½], [0, 1]]</c>;</item>
/// <item>input tile <c>x</c> (4×4, rows y − 1 … y + 2, columns x − 1 … x + 2, i.e. <c>X_c[k₀ + i·P + j]</c>):
/// <c>V = Bᵀ·x·B</c> with <c>Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]</c>;</item>
/// <item>gradient <c>dW = Gᵀ·M·G</c> with <c>Gᵀ = [[1, 1, 1, 0], [0, 1, −1, 0], [0, 1, 1, −1]]</c>.</item>
/// </list>
/// The interpolation points are 0, 1, −1 and ∞, so every coefficient is 0, ±1 or ±½ and the transforms only add,
/// subtract and halve: on small integers (the tests' data) the result is exact, on reals it rounds differently from
/// the direct sum, by about as much.</para>
/// <para><b>Where it runs:</b> float32, 512-bit vectors, output channels in whole 32s (as the output-lanes kernel),
/// at least <see cref="WinogradMinChannels"/> channels each way, stride 1 and even image sides, so that the 2×2 tiles
/// cover every pixel. The products accumulate in M over all of a thread's groups; <see cref="WinogradGradient"/>
/// turns M into dW once per backward.</para>
/// <para><b>Rounding:</b> the vector kernels and their scalar references (<c>…Scalar</c>) evaluate the same float
/// operations on every element, and M's sums are one fused multiply-add chain per element in tile order, so they agree
/// bit for bit.</para>
/// </remarks>
internal static unsafe partial class StackedConv3x3
{
    /// <summary>Points of F(3×3, 2×2): the 4×4 transformed tile.</summary>
    public const int WinogradPoints = 16;

    /// <summary>Input channels per register block of <see cref="WinogradProducts"/>: 12 channels × 32 output channels =
    /// 24 accumulators; per tile 2 loads of U and 12 broadcasts of V for 24 fused multiply-adds (then blocks of 8, and
    /// single channels, for the rest).</summary>
    private const int WinogradChannelBlock = 12;

    /// <summary>Fewest input and output channels for which the Winograd weight gradient runs. Below it the transforms,
    /// the per-tile-row gathers and the sums M cost more than the multiply-adds they save (Bench/Kernels/WinogradBenchmarks.cs,
    /// batch 32 on two Zen 5 cores: 64→64 on 8×8 images 696 → 747 µs, 32→32 on 16×16 558 → 679 µs, 3→128 on 32×32
    /// 2.5 → 4.3 ms; from 128 channels on it wins, 128→128 on 32×32 28.4 → 19.0 ms).</summary>
    public const int WinogradMinChannels = 128;

    /// <summary>True when <see cref="WinogradProducts"/> runs the weight gradient of a stride-1 3×3 convolution with
    /// these channel counts on images of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public static bool WinogradApplies(SimdPath path, int outChannels, int inChannels, int height, int width) =>
        WinogradEnabled && AcrossOutputsApplies(path, outChannels) && Avx512F.IsSupported && height % 2 == 0 && width % 2 == 0
        && outChannels >= WinogradMinChannels && inChannels >= WinogradMinChannels;

    /// <summary>False sends the weight gradient back to the direct output-lanes kernel: for the benchmarks that compare
    /// the two (Bench/Kernels/WinogradBenchmarks.cs).</summary>
    internal static bool WinogradEnabled { get; set; } = true;

    /// <summary>Tiles of a layout: one per 2×2 block of pixels.</summary>
    public static int WinogradTiles(in Layout layout) => layout.Images * (layout.Height / 2) * (layout.Width / 2);

    /// <summary><see cref="WinogradTiles"/> rounded up to whole 16-lane vectors: the row length of V.</summary>
    public static int WinogradPaddedTiles(in Layout layout) => (WinogradTiles(layout) + 15) / 16 * 16;

    /// <summary><c>u[((p·(O/32) + ob)·T + t)·32 + o'] = (A·d·Aᵀ)[p]</c> for tile t of output channel ob + o', d being
    /// D at the tile's four pixels, read from the panels of <see cref="TransposeGradOutput"/>. Tiles are numbered in
    /// image, row, column order; tile t's top-left pixel (y, x even) is at k₀ = (g·(H + 1) + y)·P + 1 + x in D's
    /// numbering.</summary>
    public static void WinogradTransformGradOutput(SimdPath path, in Layout layout, float* panels, int outChannels, float* u)
    {
        CheckWholePanels(outChannels);
        int positions = layout.Positions, pitch = layout.Pitch, blocks = outChannels / OutputLanesBlock, tiles = WinogradTiles(layout);
        int pointStride = blocks * tiles * OutputLanesBlock, half = layout.Width / 2;
        for (int ob = 0; ob < blocks; ob++)
        {
            float* panel = panels + ob * OutputLanesBlock * positions;
            for (int t = 0; t < tiles; t++)
            {
                int row = t / half, image = row / (layout.Height / 2), y = 2 * (row % (layout.Height / 2)), x = 2 * (t % half);
                float* d00 = panel + ((image * (layout.Height + 1) + y) * pitch + 1 + x) * OutputLanesBlock, d01 = d00 + OutputLanesBlock;
                float* d10 = d00 + pitch * OutputLanesBlock, d11 = d10 + OutputLanesBlock;
                float* into = u + (ob * tiles + t) * OutputLanesBlock;
                if (path == SimdPath.Vector512)
                    for (int h = 0; h < OutputLanesBlock; h += 16)
                        GradOutputTile(Vector512.Load(d00 + h), Vector512.Load(d01 + h), Vector512.Load(d10 + h), Vector512.Load(d11 + h), into + h, pointStride);
                else
                    for (int o = 0; o < OutputLanesBlock; o++) GradOutputTileScalar(d00[o], d01[o], d10[o], d11[o], into + o, pointStride);
            }
        }
    }

    // U = A·d·Aᵀ: rows r₀ = d₀, r₁ = ½(d₀ + d₁), r₂ = ½(d₀ − d₁), r₃ = d₁ (d₀, d₁ the tile's rows), then the same on
    // the columns of every row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradOutputTile(Vector512<float> d00, Vector512<float> d01, Vector512<float> d10, Vector512<float> d11, float* u, int stride)
    {
        Vector512<float> half = Vector512.Create(0.5f);
        Vector512<float> r10 = (d00 + d10) * half, r11 = (d01 + d11) * half, r20 = (d00 - d10) * half, r21 = (d01 - d11) * half;
        GradOutputRow(d00, d01, u, stride, half);
        GradOutputRow(r10, r11, u + 4 * stride, stride, half);
        GradOutputRow(r20, r21, u + 8 * stride, stride, half);
        GradOutputRow(d10, d11, u + 12 * stride, stride, half);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradOutputRow(Vector512<float> r0, Vector512<float> r1, float* u, int stride, Vector512<float> half)
    {
        r0.Store(u);
        ((r0 + r1) * half).Store(u + stride);
        ((r0 - r1) * half).Store(u + 2 * stride);
        r1.Store(u + 3 * stride);
    }

    private static void GradOutputTileScalar(float d00, float d01, float d10, float d11, float* u, int stride)
    {
        float r10 = (d00 + d10) * 0.5f, r11 = (d01 + d11) * 0.5f, r20 = (d00 - d10) * 0.5f, r21 = (d01 - d11) * 0.5f;
        GradOutputRowScalar(d00, d01, u, stride);
        GradOutputRowScalar(r10, r11, u + 4 * stride, stride);
        GradOutputRowScalar(r20, r21, u + 8 * stride, stride);
        GradOutputRowScalar(d10, d11, u + 12 * stride, stride);
    }

    private static void GradOutputRowScalar(float r0, float r1, float* u, int stride)
    {
        u[0] = r0;
        u[stride] = (r0 + r1) * 0.5f;
        u[2 * stride] = (r0 - r1) * 0.5f;
        u[3 * stride] = r1;
    }

    /// <summary><c>v[(p·C + c)·T' + t] = (Bᵀ·x·B)[p]</c> for tile t &lt; T (<see cref="WinogradTiles"/>) of input channel
    /// c, x being the 4×4 block <c>X_c[k₀ + i·P + j]</c> at the tile's k₀ (input planes <paramref name="channelStride"/>
    /// apart, in the stacked layout, as the output-lanes kernel reads them); tiles T … T' − 1 are zero.</summary>
    public static void WinogradTransformInput(SimdPath path, in Layout layout, float* input, int inChannels, int channelStride, int paddedTiles, float* v)
    {
        int pitch = layout.Pitch, half = layout.Width / 2, tiles = WinogradTiles(layout), pointStride = inChannels * paddedTiles;
        if (paddedTiles % 16 != 0 || paddedTiles < tiles)
            throw new ArgumentException($"The Winograd input transform takes whole 16-tile vectors covering {tiles} tiles, not {paddedTiles}.", nameof(paddedTiles));
        bool vector = path == SimdPath.Vector512 && Avx512F.IsSupported;
        int rows = layout.Images * (layout.Height / 2);
        Span<int> rowOrigins = stackalloc int[rows];
        for (int image = 0, r = 0; image < layout.Images; image++)
            for (int y = 0; y < layout.Height; y += 2) rowOrigins[r++] = (image * (layout.Height + 1) + y) * pitch + 1;
        // narrow images fill a vector from several tile rows: two of 8 tiles (16-wide images) or four of 4 (8-wide)
        int rowsPerVector = vector && half is 4 or 8 ? 16 / half : 0;
        for (int c = 0; c < inChannels; c++)
        {
            float* x = input + c * channelStride, into = v + c * paddedTiles;
            // first the blocks themselves, x[i, j] of tile t at into[(4i + j)·pointStride + t]: along a row of tiles
            // they are every other element of X, from the tile row's first origin on
            int row = 0;
            if (rowsPerVector > 0)
                for (; row + rowsPerVector <= rows; row += rowsPerVector)
                    EvensOfRows(x, rowOrigins.Slice(row, rowsPerVector), pitch, into + row * half, pointStride);
            for (; row < rows; row++)
                for (int p = 0; p < WinogradPoints; p++)
                    Evens(vector, x + rowOrigins[row] + p / 4 * pitch + p % 4, into + p * pointStride + row * half, half);
            for (int p = 0; p < WinogradPoints; p++) new Span<float>(into + p * pointStride + tiles, paddedTiles - tiles).Clear();
            // then Bᵀ·x·B in place
            if (vector)
                for (int t = 0; t < paddedTiles; t += 16) InputTiles(into + t, pointStride);
            else
                for (int t = 0; t < tiles; t++) InputTileScalar(into + t, pointStride);
        }
    }

    /// <summary><c>to[t] = from[2t]</c> for t &lt; <paramref name="count"/>: two-source permutes for 16 at a time, one-source
    /// for 8 and 4 (the tile rows of 16-, 8- and 4-tile-wide images), scalar for the rest. Every vector window starts
    /// one element early and takes its odd lanes, so the loads read <c>from[−1] … from[2·count − 2]</c> and never past
    /// the last element used (the tile rows' origins are at least 1 into their plane, so <c>from[−1]</c> is in it).</summary>
    private static void Evens(bool vector, float* from, float* to, int count)
    {
        int t = 0;
        if (vector)
        {
            Vector512<int> odds = OddLanes();
            for (; t + 16 <= count; t += 16)
                Avx512F.PermuteVar16x32x2(Vector512.Load(from + 2 * t - 1), odds, Vector512.Load(from + 2 * t + 15)).Store(to + t);
            if (t + 8 <= count)
            {
                Avx512F.PermuteVar16x32(Vector512.Load(from + 2 * t - 1), odds).GetLower().Store(to + t);
                t += 8;
            }
            if (t + 4 <= count)
            {
                Avx2.PermuteVar8x32(Vector256.Load(from + 2 * t - 1), odds.GetLower()).GetLower().Store(to + t);
                t += 4;
            }
        }
        for (; t < count; t++) to[t] = from[2 * t];
    }

    // Lane indices 1, 3, …, 31 of a two-source permute: the odd lanes of both windows.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> OddLanes() => Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);

    /// <summary>For the 16 tiles of two 8-tile rows or four 4-tile rows (origins in <paramref name="origins"/>), every
    /// point's block element <c>x[i, j]</c> (<see cref="Evens"/> of each row, the rows' halves or quarters side by side,
    /// windows starting one element early as there): two or four row loads and one two-source permute per point
    /// instead of a call per row and point.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EvensOfRows(float* x, ReadOnlySpan<int> origins, int pitch, float* into, int pointStride)
    {
        Vector512<int> odds = OddLanes();
        bool two = origins.Length == 2;
        for (int p = 0; p < WinogradPoints; p++)
        {
            float* start = x + p / 4 * pitch + p % 4 - 1;
            Vector512<float> low, high;
            if (two) (low, high) = (Vector512.Load(start + origins[0]), Vector512.Load(start + origins[1]));
            else
            {
                low = Vector512.Create(Vector256.Load(start + origins[0]), Vector256.Load(start + origins[1]));
                high = Vector512.Create(Vector256.Load(start + origins[2]), Vector256.Load(start + origins[3]));
            }
            Avx512F.PermuteVar16x32x2(low, odds, high).Store(into + p * pointStride);
        }
    }

    // Sixteen tiles in the lanes, in one pass: the block's 16 vectors loaded, Bᵀ·x·B formed in registers, written back.
    // Rows of Bᵀ·x: s₀ = x₀ − x₂, s₁ = x₁ + x₂, s₂ = x₂ − x₁, s₃ = x₁ − x₃ (x_i the block's row i); then the same on the
    // columns of every s.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputTiles(float* v, int stride)
    {
        InputColumns(v, stride, out var s00, out var s10, out var s20, out var s30);
        InputColumns(v + stride, stride, out var s01, out var s11, out var s21, out var s31);
        InputColumns(v + 2 * stride, stride, out var s02, out var s12, out var s22, out var s32);
        InputColumns(v + 3 * stride, stride, out var s03, out var s13, out var s23, out var s33);
        InputRow(s00, s01, s02, s03, v, stride);
        InputRow(s10, s11, s12, s13, v + 4 * stride, stride);
        InputRow(s20, s21, s22, s23, v + 8 * stride, stride);
        InputRow(s30, s31, s32, s33, v + 12 * stride, stride);
    }

    // Column j of Bᵀ·x from column j of the block (x[i, j] at v[(4i)·stride], v already offset by j).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputColumns(float* v, int stride, out Vector512<float> s0, out Vector512<float> s1, out Vector512<float> s2, out Vector512<float> s3)
    {
        Vector512<float> x0 = Vector512.Load(v), x1 = Vector512.Load(v + 4 * stride), x2 = Vector512.Load(v + 8 * stride), x3 = Vector512.Load(v + 12 * stride);
        s0 = x0 - x2;
        s1 = x1 + x2;
        s2 = x2 - x1;
        s3 = x1 - x3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputRow(Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3, float* row, int stride)
    {
        (s0 - s2).Store(row);
        (s1 + s2).Store(row + stride);
        (s2 - s1).Store(row + 2 * stride);
        (s1 - s3).Store(row + 3 * stride);
    }

    private static void InputTileScalar(float* v, int stride)
    {
        for (int j = 0; j < 4; j++)
        {
            float x0 = v[j * stride], x1 = v[(4 + j) * stride], x2 = v[(8 + j) * stride], x3 = v[(12 + j) * stride];
            v[j * stride] = x0 - x2;
            v[(4 + j) * stride] = x1 + x2;
            v[(8 + j) * stride] = x2 - x1;
            v[(12 + j) * stride] = x1 - x3;
        }
        for (int a = 0; a < 4; a++)
        {
            float* row = v + 4 * a * stride;
            float s0 = row[0], s1 = row[stride], s2 = row[2 * stride], s3 = row[3 * stride];
            row[0] = s0 - s2;
            row[stride] = s1 + s2;
            row[2 * stride] = s2 - s1;
            row[3 * stride] = s1 - s3;
        }
    }

    /// <summary>For one point: <c>m[c·O + o] += Σ_{t &lt; tiles} u[(ob·T + t)·32 + o'] · v[c·T' + t]</c> (o = ob·32 + o'),
    /// one fused multiply-add chain per element in tile order. <paramref name="u"/>, <paramref name="v"/> and
    /// <paramref name="m"/> point at the point's slices of the transforms and of M.</summary>
    public static void WinogradProducts(SimdPath path, int tiles, float* u, int outChannels, float* v, int inChannels, int paddedTiles, float* m)
    {
        CheckWholePanels(outChannels);
        if (!AcrossOutputsApplies(path, outChannels))
        {
            WinogradProductsScalar(tiles, u, outChannels, v, inChannels, paddedTiles, m);
            return;
        }
        for (int ob = 0; ob < outChannels; ob += OutputLanesBlock)
        {
            float* panel = u + ob * tiles;
            int c = 0;
            for (; c + WinogradChannelBlock <= inChannels; c += WinogradChannelBlock)
                Products12(tiles, panel, v + c * paddedTiles, paddedTiles, m + c * outChannels + ob, outChannels);
            for (; c + 8 <= inChannels; c += 8)
                Products8(tiles, panel, v + c * paddedTiles, paddedTiles, m + c * outChannels + ob, outChannels);
            for (; c < inChannels; c++) Products1(tiles, panel, v + c * paddedTiles, m + c * outChannels + ob);
        }
    }

    /// <summary>Scalar reference of <see cref="WinogradProducts"/>.</summary>
    internal static void WinogradProductsScalar(int tiles, float* u, int outChannels, float* v, int inChannels, int paddedTiles, float* m)
    {
        CheckWholePanels(outChannels);
        for (int c = 0; c < inChannels; c++)
            for (int o = 0; o < outChannels; o++)
            {
                float* panel = u + o / OutputLanesBlock * OutputLanesBlock * tiles + o % OutputLanesBlock;
                float sum = m[c * outChannels + o];
                for (int t = 0; t < tiles; t++) sum = MathF.FusedMultiplyAdd(panel[t * OutputLanesBlock], v[c * paddedTiles + t], sum);
                m[c * outChannels + o] = sum;
            }
    }

    // 32 output channels × 12 input channels: per tile 2 loads of U, 12 broadcasts of V, 24 fused multiply-adds.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Products12(int tiles, float* panel, float* v, int vStride, float* m, int mStride)
    {
        float* v0 = v, v1 = v0 + vStride, v2 = v1 + vStride, v3 = v2 + vStride, v4 = v3 + vStride, v5 = v4 + vStride;
        float* v6 = v5 + vStride, v7 = v6 + vStride, v8 = v7 + vStride, v9 = v8 + vStride, v10 = v9 + vStride, v11 = v10 + vStride;
        float* m0 = m, m1 = m0 + mStride, m2 = m1 + mStride, m3 = m2 + mStride, m4 = m3 + mStride, m5 = m4 + mStride;
        float* m6 = m5 + mStride, m7 = m6 + mStride, m8 = m7 + mStride, m9 = m8 + mStride, m10 = m9 + mStride, m11 = m10 + mStride;
        Vector512<float> a0 = Vector512.Load(m0), b0 = Vector512.Load(m0 + 16), a1 = Vector512.Load(m1), b1 = Vector512.Load(m1 + 16);
        Vector512<float> a2 = Vector512.Load(m2), b2 = Vector512.Load(m2 + 16), a3 = Vector512.Load(m3), b3 = Vector512.Load(m3 + 16);
        Vector512<float> a4 = Vector512.Load(m4), b4 = Vector512.Load(m4 + 16), a5 = Vector512.Load(m5), b5 = Vector512.Load(m5 + 16);
        Vector512<float> a6 = Vector512.Load(m6), b6 = Vector512.Load(m6 + 16), a7 = Vector512.Load(m7), b7 = Vector512.Load(m7 + 16);
        Vector512<float> a8 = Vector512.Load(m8), b8 = Vector512.Load(m8 + 16), a9 = Vector512.Load(m9), b9 = Vector512.Load(m9 + 16);
        Vector512<float> a10 = Vector512.Load(m10), b10 = Vector512.Load(m10 + 16), a11 = Vector512.Load(m11), b11 = Vector512.Load(m11 + 16);
        float* d = panel;
        for (int t = 0; t < tiles; t++, d += OutputLanesBlock)
        {
            Vector512<float> d0 = Vector512.Load(d), d1 = Vector512.Load(d + 16), s;
            s = Vector512.Create(v0[t]); a0 = VectorFma.MultiplyAdd(d0, s, a0); b0 = VectorFma.MultiplyAdd(d1, s, b0);
            s = Vector512.Create(v1[t]); a1 = VectorFma.MultiplyAdd(d0, s, a1); b1 = VectorFma.MultiplyAdd(d1, s, b1);
            s = Vector512.Create(v2[t]); a2 = VectorFma.MultiplyAdd(d0, s, a2); b2 = VectorFma.MultiplyAdd(d1, s, b2);
            s = Vector512.Create(v3[t]); a3 = VectorFma.MultiplyAdd(d0, s, a3); b3 = VectorFma.MultiplyAdd(d1, s, b3);
            s = Vector512.Create(v4[t]); a4 = VectorFma.MultiplyAdd(d0, s, a4); b4 = VectorFma.MultiplyAdd(d1, s, b4);
            s = Vector512.Create(v5[t]); a5 = VectorFma.MultiplyAdd(d0, s, a5); b5 = VectorFma.MultiplyAdd(d1, s, b5);
            s = Vector512.Create(v6[t]); a6 = VectorFma.MultiplyAdd(d0, s, a6); b6 = VectorFma.MultiplyAdd(d1, s, b6);
            s = Vector512.Create(v7[t]); a7 = VectorFma.MultiplyAdd(d0, s, a7); b7 = VectorFma.MultiplyAdd(d1, s, b7);
            s = Vector512.Create(v8[t]); a8 = VectorFma.MultiplyAdd(d0, s, a8); b8 = VectorFma.MultiplyAdd(d1, s, b8);
            s = Vector512.Create(v9[t]); a9 = VectorFma.MultiplyAdd(d0, s, a9); b9 = VectorFma.MultiplyAdd(d1, s, b9);
            s = Vector512.Create(v10[t]); a10 = VectorFma.MultiplyAdd(d0, s, a10); b10 = VectorFma.MultiplyAdd(d1, s, b10);
            s = Vector512.Create(v11[t]); a11 = VectorFma.MultiplyAdd(d0, s, a11); b11 = VectorFma.MultiplyAdd(d1, s, b11);
        }
        a0.Store(m0); b0.Store(m0 + 16); a1.Store(m1); b1.Store(m1 + 16); a2.Store(m2); b2.Store(m2 + 16); a3.Store(m3); b3.Store(m3 + 16);
        a4.Store(m4); b4.Store(m4 + 16); a5.Store(m5); b5.Store(m5 + 16); a6.Store(m6); b6.Store(m6 + 16); a7.Store(m7); b7.Store(m7 + 16);
        a8.Store(m8); b8.Store(m8 + 16); a9.Store(m9); b9.Store(m9 + 16); a10.Store(m10); b10.Store(m10 + 16); a11.Store(m11); b11.Store(m11 + 16);
    }

    // 32 output channels × 8 input channels: per tile 2 loads of U, 8 broadcasts of V, 16 fused multiply-adds.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Products8(int tiles, float* panel, float* v, int vStride, float* m, int mStride)
    {
        float* v0 = v, v1 = v0 + vStride, v2 = v1 + vStride, v3 = v2 + vStride, v4 = v3 + vStride, v5 = v4 + vStride, v6 = v5 + vStride, v7 = v6 + vStride;
        float* m0 = m, m1 = m0 + mStride, m2 = m1 + mStride, m3 = m2 + mStride, m4 = m3 + mStride, m5 = m4 + mStride, m6 = m5 + mStride, m7 = m6 + mStride;
        Vector512<float> a0 = Vector512.Load(m0), b0 = Vector512.Load(m0 + 16), a1 = Vector512.Load(m1), b1 = Vector512.Load(m1 + 16);
        Vector512<float> a2 = Vector512.Load(m2), b2 = Vector512.Load(m2 + 16), a3 = Vector512.Load(m3), b3 = Vector512.Load(m3 + 16);
        Vector512<float> a4 = Vector512.Load(m4), b4 = Vector512.Load(m4 + 16), a5 = Vector512.Load(m5), b5 = Vector512.Load(m5 + 16);
        Vector512<float> a6 = Vector512.Load(m6), b6 = Vector512.Load(m6 + 16), a7 = Vector512.Load(m7), b7 = Vector512.Load(m7 + 16);
        float* d = panel;
        for (int t = 0; t < tiles; t++, d += OutputLanesBlock)
        {
            Vector512<float> d0 = Vector512.Load(d), d1 = Vector512.Load(d + 16), s;
            s = Vector512.Create(v0[t]); a0 = VectorFma.MultiplyAdd(d0, s, a0); b0 = VectorFma.MultiplyAdd(d1, s, b0);
            s = Vector512.Create(v1[t]); a1 = VectorFma.MultiplyAdd(d0, s, a1); b1 = VectorFma.MultiplyAdd(d1, s, b1);
            s = Vector512.Create(v2[t]); a2 = VectorFma.MultiplyAdd(d0, s, a2); b2 = VectorFma.MultiplyAdd(d1, s, b2);
            s = Vector512.Create(v3[t]); a3 = VectorFma.MultiplyAdd(d0, s, a3); b3 = VectorFma.MultiplyAdd(d1, s, b3);
            s = Vector512.Create(v4[t]); a4 = VectorFma.MultiplyAdd(d0, s, a4); b4 = VectorFma.MultiplyAdd(d1, s, b4);
            s = Vector512.Create(v5[t]); a5 = VectorFma.MultiplyAdd(d0, s, a5); b5 = VectorFma.MultiplyAdd(d1, s, b5);
            s = Vector512.Create(v6[t]); a6 = VectorFma.MultiplyAdd(d0, s, a6); b6 = VectorFma.MultiplyAdd(d1, s, b6);
            s = Vector512.Create(v7[t]); a7 = VectorFma.MultiplyAdd(d0, s, a7); b7 = VectorFma.MultiplyAdd(d1, s, b7);
        }
        a0.Store(m0); b0.Store(m0 + 16); a1.Store(m1); b1.Store(m1 + 16); a2.Store(m2); b2.Store(m2 + 16); a3.Store(m3); b3.Store(m3 + 16);
        a4.Store(m4); b4.Store(m4 + 16); a5.Store(m5); b5.Store(m5 + 16); a6.Store(m6); b6.Store(m6 + 16); a7.Store(m7); b7.Store(m7 + 16);
    }

    // One input channel (the remainder after the blocks): two chains, so latency-bound, and only for odd channel counts.
    private static void Products1(int tiles, float* panel, float* v, float* m)
    {
        Vector512<float> a = Vector512.Load(m), b = Vector512.Load(m + 16);
        float* d = panel;
        for (int t = 0; t < tiles; t++, d += OutputLanesBlock)
        {
            Vector512<float> s = Vector512.Create(v[t]);
            a = VectorFma.MultiplyAdd(Vector512.Load(d), s, a);
            b = VectorFma.MultiplyAdd(Vector512.Load(d + 16), s, b);
        }
        a.Store(m);
        b.Store(m + 16);
    }

    /// <summary><c>dWᵀ[(c·9 + 3i + j)·O + o] += (Gᵀ·M·G)[i, j]</c> for every input channel c and output channel o, M being
    /// <c>m[(p·C + c)·O + o]</c> summed by <see cref="WinogradProducts"/> (points p = 4a + b), into the transposed
    /// layout of <see cref="WeightGradientAcrossOutputs"/>.</summary>
    public static void WinogradGradient(SimdPath path, float* m, int outChannels, int inChannels, float* gradWeightT)
    {
        CheckWholePanels(outChannels);
        int pointStride = inChannels * outChannels;
        for (int c = 0; c < inChannels; c++)
        {
            float* mc = m + c * outChannels, w = gradWeightT + c * 9 * outChannels;
            int o = 0;
            if (path == SimdPath.Vector512 && Vector512.IsHardwareAccelerated)
                for (; o + 16 <= outChannels; o += 16) GradientLanes(mc + o, pointStride, w + o, outChannels);
            for (; o < outChannels; o++) GradientScalar(mc + o, pointStride, w + o, outChannels);
        }
    }

    // Rows of Gᵀ·M: q₀ = (m₀ + m₁) + m₂, q₁ = m₁ − m₂, q₂ = (m₁ + m₂) − m₃ (m_a row a of M); then the same on the
    // columns of every q.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradientLanes(float* m, int stride, float* w, int wStride)
    {
        for (int i = 0; i < 3; i++)
        {
            Vector512<float> q0, q1, q2, q3;
            (q0, q1, q2, q3) = i switch
            {
                0 => (GtRow0(m, 0, stride), GtRow0(m, 1, stride), GtRow0(m, 2, stride), GtRow0(m, 3, stride)),
                1 => (GtRow1(m, 0, stride), GtRow1(m, 1, stride), GtRow1(m, 2, stride), GtRow1(m, 3, stride)),
                _ => (GtRow2(m, 0, stride), GtRow2(m, 1, stride), GtRow2(m, 2, stride), GtRow2(m, 3, stride)),
            };
            float* row = w + 3 * i * wStride;
            (Vector512.Load(row) + ((q0 + q1) + q2)).Store(row);
            (Vector512.Load(row + wStride) + (q1 - q2)).Store(row + wStride);
            (Vector512.Load(row + 2 * wStride) + ((q1 + q2) - q3)).Store(row + 2 * wStride);
        }
    }

    // Element b of row 0, 1 or 2 of Gᵀ·M, M[a, b] being m[(4a + b)·stride].
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> GtRow0(float* m, int b, int stride) =>
        (Vector512.Load(m + b * stride) + Vector512.Load(m + (4 + b) * stride)) + Vector512.Load(m + (8 + b) * stride);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> GtRow1(float* m, int b, int stride) => Vector512.Load(m + (4 + b) * stride) - Vector512.Load(m + (8 + b) * stride);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> GtRow2(float* m, int b, int stride) =>
        (Vector512.Load(m + (4 + b) * stride) + Vector512.Load(m + (8 + b) * stride)) - Vector512.Load(m + (12 + b) * stride);

    private static void GradientScalar(float* m, int stride, float* w, int wStride)
    {
        Span<float> q = stackalloc float[4];
        for (int i = 0; i < 3; i++)
        {
            for (int b = 0; b < 4; b++)
            {
                float m0 = m[b * stride], m1 = m[(4 + b) * stride], m2 = m[(8 + b) * stride], m3 = m[(12 + b) * stride];
                q[b] = i switch { 0 => (m0 + m1) + m2, 1 => m1 - m2, _ => (m1 + m2) - m3 };
            }
            float* row = w + 3 * i * wStride;
            row[0] += (q[0] + q[1]) + q[2];
            row[wStride] += q[1] - q[2];
            row[2 * wStride] += (q[1] + q[2]) - q[3];
        }
    }
}
