using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BinaryGrad.Kernels.Binary;

/// <summary>The output stores (epilogues) of the binary convolution: what happens to a tile of integer dots.</summary>
public static unsafe partial class XnorConv2D
{
    /// <summary>Writes the dots of a tile of output pixels [<c>first</c>, <c>first + rows</c>) (flattened over
    /// batch and space), <c>dots[r·OutChannels + o]</c>.</summary>
    private interface ITileOutput
    {
        void Store(in XnorConv2DShape shape, int first, int rows, int* dots, int ld, float* scale, float* bias);

        /// <summary>Output rows a tile never splits (the direct path's tiles and thread ranges are whole units of them):
        /// 1, or 2 for a store that pools row pairs.</summary>
        int RowUnit { get; }
    }

    /// <summary>Integer dots to NCHW (<see cref="StoreNchw{TTarget}"/>).</summary>
    private readonly struct IntOutput(int* output, bool vectorized) : ITileOutput
    {
        public int RowUnit => 1;

        public void Store(in XnorConv2DShape s, int first, int rows, int* dots, int ld, float* scale, float* bias) =>
            StoreNchw(s, first, rows, dots, ld, new IntTarget(output), vectorized);
    }

    /// <summary><c>scale[o]·dot + bias[o]</c> to NCHW (<see cref="StoreNchw{TTarget}"/>); the vector form multiplies then
    /// adds (two roundings, never fused), the same float as the scalar expression.</summary>
    private readonly struct AffineOutput(float* output, bool vectorized) : ITileOutput
    {
        public int RowUnit => 1;

        public void Store(in XnorConv2DShape s, int first, int rows, int* dots, int ld, float* scale, float* bias) =>
            StoreNchw(s, first, rows, dots, ld, new AffineTarget(output, scale, bias), vectorized);
    }

    /// <summary>A 2×2 max-pool (stride 2) of the dots, then <c>fl(fl(scale[o]·m) + bias[o])</c>, float NCHW
    /// [Batch][OutChannels][OutHeight/2][OutWidth/2]. Tiles are whole row pairs (<see cref="RowUnit"/> 2), so every
    /// window lies in one tile.</summary>
    private readonly struct PooledAffineOutput(float* output, bool vectorized) : ITileOutput
    {
        public int RowUnit => 2;

        public void Store(in XnorConv2DShape s, int first, int rows, int* dots, int ld, float* scale, float* bias)
        {
            int ow = s.OutWidth, plane = s.OutHeight * ow, pooledWidth = ow / 2, pooledPlane = plane / 4, channels = s.OutChannels;
            for (int r0 = 0; r0 < rows; r0 += 2 * ow)
            {
                int pixel = first + r0, image = pixel / plane, pooledRow = pixel % plane / ow / 2;
                float* pooled = output + (nint)image * channels * pooledPlane + pooledRow * pooledWidth;
                for (int px = 0; px < pooledWidth; px++)
                {
                    int* top = dots + (nint)(r0 + 2 * px) * ld, bottom = top + (nint)ow * ld;
                    int o = 0;
                    for (; vectorized && o + 8 <= channels; o += 8)
                    {
                        Vector256<int> m = Vector256.Max(Vector256.Max(Vector256.Load(top + o), Vector256.Load(top + ld + o)),
                                                         Vector256.Max(Vector256.Load(bottom + o), Vector256.Load(bottom + ld + o)));
                        // multiply, round, add, round (never an fma): BatchNorm2d's evaluation on the pooled float
                        Vector256<float> y = Vector256.Add(Vector256.Multiply(Vector256.ConvertToSingle(m), Vector256.Load(scale + o)), Vector256.Load(bias + o));
                        for (int c = 0; c < 8; c++) pooled[(nint)(o + c) * pooledPlane + px] = y.GetElement(c);
                    }
                    for (; o < channels; o++)
                    {
                        int m = Math.Max(Math.Max(top[o], top[ld + o]), Math.Max(bottom[o], bottom[ld + o]));
                        pooled[(nint)o * pooledPlane + px] = scale[o] * (float)m + bias[o];
                    }
                }
            }
        }
    }

    /// <summary>Writes a pixel-major tile of dots (<c>dots[r·ld + o]</c> for output pixels [first, first + rows)) to NCHW
    /// through <paramref name="target"/>, channel by channel over the tile's pixels of one image, so consecutive stores
    /// are consecutive addresses (a pixel at a time would stride a whole plane between stores). On the vector paths
    /// 8 pixels × 8 channels are transposed in registers (<see cref="Transpose8x8"/>) and stored as 8 runs of 8; the
    /// scalar loop does the rest.</summary>
    private static void StoreNchw<TTarget>(in XnorConv2DShape s, int first, int rows, int* dots, int ld, TTarget target, bool vectorized)
        where TTarget : struct, INchwTarget
    {
        int plane = s.OutHeight * s.OutWidth, channels = s.OutChannels;
        for (int r0 = 0; r0 < rows;)
        {
            int image = (first + r0) / plane, pixel = (first + r0) % plane, run = Math.Min(rows - r0, plane - pixel);
            nint plane0 = (nint)image * channels * plane + pixel;
            int o = 0;
            for (; vectorized && o + 8 <= channels; o += 8)
            {
                int r = 0;
                for (; r + 8 <= run; r += 8)
                    Transpose8x8(dots + (nint)(r0 + r) * ld + o, ld, new TargetColumns<TTarget>(target, plane0 + (nint)o * plane + r, plane, o));
                for (int c = 0; c < 8; c++)
                    for (int rr = r; rr < run; rr++) target.Value(o + c, plane0 + (nint)(o + c) * plane + rr, dots[(nint)(r0 + rr) * ld + o + c]);
            }
            for (; o < channels; o++)
                for (int r = 0; r < run; r++) target.Value(o, plane0 + (nint)o * plane + r, dots[(nint)(r0 + r) * ld + o]);
            r0 += run;
        }
    }

    /// <summary>Where <see cref="StoreNchw{TTarget}"/> puts channel <c>channel</c>'s values: 8 consecutive ones, or one.</summary>
    private interface INchwTarget
    {
        void Column(int channel, nint offset, Vector256<int> dots);

        void Value(int channel, nint offset, int dot);
    }

    private readonly struct IntTarget(int* output) : INchwTarget
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Column(int channel, nint offset, Vector256<int> dots) => dots.Store(output + offset);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Value(int channel, nint offset, int dot) => output[offset] = dot;
    }

    private readonly struct AffineTarget(float* output, float* scale, float* bias) : INchwTarget
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Column(int channel, nint offset, Vector256<int> dots) =>
            Vector256.Add(Vector256.Multiply(Vector256.Create(scale[channel]), Vector256.ConvertToSingle(dots)), Vector256.Create(bias[channel])).Store(output + offset);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Value(int channel, nint offset, int dot) => output[offset] = scale[channel] * (float)dot + bias[channel];
    }

    /// <summary>Column c of a transposed block to channel <c>firstChannel + c</c> at <c>offset + c·stride</c>.</summary>
    private readonly struct TargetColumns<TTarget>(TTarget target, nint offset, int stride, int firstChannel) : IColumnSink
        where TTarget : struct, INchwTarget
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Column(int c, Vector256<int> column) => target.Column(firstChannel + c, offset + (nint)c * stride, column);
    }

    /// <summary>Transposes the 8×8 int block at <paramref name="source"/> (row stride <paramref name="ld"/>) and hands
    /// column c (<c>column[r] = source[r·ld + c]</c>) to <paramref name="sink"/>. Three rounds of AVX2 unpacks and lane
    /// permutes (24 shuffles for 64 values); without AVX2 a plain gather. Inlined with the sink (a struct), so the
    /// columns stay in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8<TSink>(int* source, int ld, TSink sink) where TSink : struct, IColumnSink
    {
        if (!Avx2.IsSupported)
        {
            for (int c = 0; c < 8; c++)
                sink.Column(c, Vector256.Create(source[c], source[ld + c], source[2 * ld + c], source[3 * ld + c],
                                                source[4 * ld + c], source[5 * ld + c], source[6 * ld + c], source[7 * ld + c]));
            return;
        }
        Vector256<int> r0 = Vector256.Load(source), r1 = Vector256.Load(source + ld), r2 = Vector256.Load(source + 2 * ld), r3 = Vector256.Load(source + 3 * ld);
        Vector256<int> r4 = Vector256.Load(source + 4 * ld), r5 = Vector256.Load(source + 5 * ld), r6 = Vector256.Load(source + 6 * ld), r7 = Vector256.Load(source + 7 * ld);
        // per 128-bit lane: pairs of rows interleaved, then quads; finally the lanes of rows 0-3 and 4-7 joined
        Vector256<int> t0 = Avx2.UnpackLow(r0, r1), t1 = Avx2.UnpackHigh(r0, r1), t2 = Avx2.UnpackLow(r2, r3), t3 = Avx2.UnpackHigh(r2, r3);
        Vector256<int> t4 = Avx2.UnpackLow(r4, r5), t5 = Avx2.UnpackHigh(r4, r5), t6 = Avx2.UnpackLow(r6, r7), t7 = Avx2.UnpackHigh(r6, r7);
        Vector256<int> u0 = Avx2.UnpackLow(t0.AsInt64(), t2.AsInt64()).AsInt32(), u1 = Avx2.UnpackHigh(t0.AsInt64(), t2.AsInt64()).AsInt32();
        Vector256<int> u2 = Avx2.UnpackLow(t1.AsInt64(), t3.AsInt64()).AsInt32(), u3 = Avx2.UnpackHigh(t1.AsInt64(), t3.AsInt64()).AsInt32();
        Vector256<int> u4 = Avx2.UnpackLow(t4.AsInt64(), t6.AsInt64()).AsInt32(), u5 = Avx2.UnpackHigh(t4.AsInt64(), t6.AsInt64()).AsInt32();
        Vector256<int> u6 = Avx2.UnpackLow(t5.AsInt64(), t7.AsInt64()).AsInt32(), u7 = Avx2.UnpackHigh(t5.AsInt64(), t7.AsInt64()).AsInt32();
        sink.Column(0, Avx2.Permute2x128(u0, u4, 0x20));
        sink.Column(1, Avx2.Permute2x128(u1, u5, 0x20));
        sink.Column(2, Avx2.Permute2x128(u2, u6, 0x20));
        sink.Column(3, Avx2.Permute2x128(u3, u7, 0x20));
        sink.Column(4, Avx2.Permute2x128(u0, u4, 0x31));
        sink.Column(5, Avx2.Permute2x128(u1, u5, 0x31));
        sink.Column(6, Avx2.Permute2x128(u2, u6, 0x31));
        sink.Column(7, Avx2.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>Receives the columns of <see cref="Transpose8x8"/>.</summary>
    private interface IColumnSink
    {
        void Column(int c, Vector256<int> column);
    }

    /// <summary>Column c to <c>destination + c·stride</c>, as ints.</summary>
    private readonly struct IntColumns(int* destination, int stride) : IColumnSink
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Column(int c, Vector256<int> column) => column.Store(destination + (nint)c * stride);
    }

    /// <summary>Sign bits of <c>scale·dot + bias</c>, 8 channels per compare on the vector paths. Both forms are
    /// branch-free: the signs are data, and a branch per channel mispredicted half the time.</summary>
    private readonly struct PackedSignOutput(ulong* output, bool vectorized) : ITileOutput
    {
        public int RowUnit => 1;

        public void Store(in XnorConv2DShape s, int first, int rows, int* dots, int ld, float* scale, float* bias)
        {
            for (int r = 0; r < rows; r++) StorePixel(s, first + r, dots + (nint)r * ld, scale, bias);
        }

        private void StorePixel(in XnorConv2DShape s, int outputPixel, int* dots, float* scale, float* bias)
        {
            int wpp = BitPack.WordsPerPixel(s.OutChannels);
            ulong* dst = output + (nint)outputPixel * wpp; // [N][OH][OW] flattened is the output pixel index
            for (int w = 0; w < wpp; w++)
            {
                ulong word = 0;
                int o = w * 64, end = Math.Min(s.OutChannels, o + 64);
                for (; vectorized && o + 8 <= end; o += 8)
                {
                    // multiply then add, as two roundings: the same float as the scalar expression below
                    Vector256<float> y = Vector256.Multiply(Vector256.Load(scale + o), Vector256.ConvertToSingle(Vector256.Load(dots + o)));
                    y = Vector256.Add(y, Vector256.Load(bias + o));
                    word |= (ulong)Vector256.GreaterThanOrEqual(y, Vector256<float>.Zero).ExtractMostSignificantBits() << (o & 63);
                }
                for (; o < end; o++) word |= (ulong)(scale[o] * (float)dots[o] + bias[o] >= 0f ? 1 : 0) << (o & 63);
                dst[w] = word;
            }
        }
    }
}
