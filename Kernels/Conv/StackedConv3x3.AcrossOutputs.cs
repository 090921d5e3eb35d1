using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace BinaryGrad.Kernels;

/// <summary>The float weight gradient of a stacked group with the output channels in the vector lanes.</summary>
/// <remarks>
/// <para><b>Why.</b> <see cref="WeightGradient{T}"/> puts the flat positions in the lanes: every (o, c, tap) sum ends
/// in a lane sum, and its loads of D and of the shifted X planes start at odd offsets, so most of them straddle two
/// cache lines. Here the sum runs the other way round: with D transposed (<c>Dᵀ[k, o] = D_o[k]</c>, written once per
/// group as K × 32 panels, O·K elements against the O·C·9·K multiply-adds), one step of k multiplies a vector of 16
/// output channels of Dᵀ by one broadcast X value per tap, <c>dWᵀ[c, t, o…o+15] += Dᵀ[k, o…o+15] · X_c[k + tap_t]</c>. The aligned
/// Dᵀ rows and the broadcasts are whole-line loads, no lane is ever summed, and the accumulators run over the whole
/// group.</para>
/// <para><b>Register block:</b> 32 output channels (two 512-bit vectors) × the 9 taps of one input channel = 18
/// accumulators; per step of k, 2 loads of Dᵀ and 9 broadcasts for 18 fused multiply-adds, so the loop is bound by
/// the multiply-adds, not the loads.</para>
/// <para><b>Layout of the result:</b> transposed, <c>dWᵀ[(c·9 + t)·O + o]</c>, so that the lanes store whole; the caller
/// transposes it into dW[o, c, t] once per backward (<see cref="AddTransposedWeightGradient"/>).</para>
/// <para><b>Rounding:</b> each dW element is one chain of fused multiply-adds in increasing k per group, in the
/// kernel and in its scalar reference (<see cref="MathF.FusedMultiplyAdd"/>), which agree bit for bit. Against the
/// lane-sum kernel (the AVX2 and scalar paths of the convolution) the sums are grouped differently: equal on small
/// integers, different rounding on reals.</para>
/// </remarks>
internal static unsafe partial class StackedConv3x3
{
    /// <summary>Output channels per register block of <see cref="WeightGradientAcrossOutputs"/>.</summary>
    public const int OutputLanesBlock = 32;

    /// <summary>True when <see cref="WeightGradientAcrossOutputs"/> has a vector kernel for this path and channel count
    /// (512-bit vectors: 18 accumulators need more than AVX2's 16 registers, and a 12-accumulator 256-bit variant, one
    /// pass per filter row, measured slower than the lane-sum kernel; docs/cifar10.md).</summary>
    public static bool AcrossOutputsApplies(SimdPath path, int outChannels) =>
        path == SimdPath.Vector512 && Vector512.IsHardwareAccelerated && outChannels % OutputLanesBlock == 0;

    /// <summary>Writes <c>dt[(o / 32)·32·K + k·32 + o % 32] = D_o[k] = Y_o[k + P + 1]</c> for k &lt; K =
    /// <see cref="Layout.Positions"/>, from the stacked output gradient (planes <see cref="Layout.PlaneStride"/>
    /// apart): one K × 32 panel per block of 32 output channels, so a block's panel is one contiguous run that
    /// stays in L2 while every input channel reads it.</summary>
    public static void TransposeGradOutput(in Layout layout, float* stackedY, int outChannels, float* dt)
    {
        CheckWholePanels(outChannels);
        int positions = layout.Positions, stride = layout.PlaneStride, origin = layout.Pitch + 1;
        const int Tile = 16;
        for (int ob = 0; ob < outChannels; ob += OutputLanesBlock)
        {
            float* panel = dt + ob * positions;
            for (int kb = 0; kb < positions; kb += Tile)
            {
                int kEnd = Math.Min(kb + Tile, positions);
                for (int o = 0; o < OutputLanesBlock; o++)
                {
                    float* from = stackedY + (ob + o) * stride + origin;
                    for (int k = kb; k < kEnd; k++) panel[k * OutputLanesBlock + o] = from[k];
                }
            }
        }
    }

    /// <summary><c>dWᵀ[(c·9 + t)·O + o] += Σ_{k &lt; positions} D_o[k] · X[c·channelStride + k + taps[t]]</c> for every
    /// input channel c, tap t and output channel o, D in the panels of <see cref="TransposeGradOutput"/>.</summary>
    public static void WeightGradientAcrossOutputs(SimdPath path, int positions, float* dt, int outChannels, float* input, int inChannels, int channelStride,
                                                   ReadOnlySpan<int> taps, float* gradWeightT)
    {
        CheckWholePanels(outChannels);
        if (!AcrossOutputsApplies(path, outChannels))
        {
            WeightGradientAcrossOutputsScalar(positions, dt, outChannels, input, inChannels, channelStride, taps, gradWeightT);
            return;
        }
        for (int o = 0; o < outChannels; o += OutputLanesBlock)
            for (int c = 0; c < inChannels; c++)
                AcrossOutputs512(positions, dt + o * positions, input + c * channelStride, taps, gradWeightT + c * 9 * outChannels + o, outChannels);
    }

    /// <summary>Scalar reference of <see cref="WeightGradientAcrossOutputs"/>: the same fused multiply-add chains.</summary>
    internal static void WeightGradientAcrossOutputsScalar(int positions, float* dt, int outChannels, float* input, int inChannels, int channelStride,
                                                           ReadOnlySpan<int> taps, float* gradWeightT)
    {
        CheckWholePanels(outChannels);
        CheckWholePanels(outChannels);
        for (int c = 0; c < inChannels; c++)
            for (int t = 0; t < 9; t++)
            {
                float* x = input + c * channelStride + taps[t];
                for (int o = 0; o < outChannels; o++)
                {
                    float sum = gradWeightT[(c * 9 + t) * outChannels + o];
                    float* panel = dt + o / OutputLanesBlock * OutputLanesBlock * positions + o % OutputLanesBlock;
                    for (int k = 0; k < positions; k++) sum = MathF.FusedMultiplyAdd(panel[k * OutputLanesBlock], x[k], sum);
                    gradWeightT[(c * 9 + t) * outChannels + o] = sum;
                }
            }
    }

    // The panels hold 32 output channels each; a partial panel would read stacked planes past the last channel.
    private static void CheckWholePanels(int outChannels)
    {
        if (outChannels <= 0 || outChannels % OutputLanesBlock != 0)
            throw new ArgumentException($"The output-lanes weight gradient takes output channels in whole blocks of {OutputLanesBlock}, not {outChannels}.", nameof(outChannels));
    }

    /// <summary>Adds <c>dWᵀ[(c·9 + t)·O + o]</c> into <c>gradWeight[(o·C + c)·9 + t]</c>.</summary>
    public static void AddTransposedWeightGradient(ReadOnlySpan<float> transposed, int outChannels, int inChannels, Span<float> gradWeight)
    {
        _ = transposed[outChannels * inChannels * 9 - 1];
        _ = gradWeight[outChannels * inChannels * 9 - 1];
        // tiles of 16 output channels × one input channel's 9 taps: contiguous runs of 16 read, and 16 filter rows of
        // 9 contiguous taps written, instead of 9 reads O apart per (o, c)
        const int Tile = 16;
        for (int c = 0; c < inChannels; c++)
            for (int ob = 0; ob < outChannels; ob += Tile)
            {
                int oEnd = Math.Min(ob + Tile, outChannels);
                for (int t = 0; t < 9; t++)
                {
                    ReadOnlySpan<float> run = transposed.Slice((c * 9 + t) * outChannels, outChannels);
                    for (int o = ob; o < oEnd; o++) gradWeight[(o * inChannels + c) * 9 + t] += run[o];
                }
            }
    }

    // 32 output channels × 9 taps of one input channel; panel is the block's K × 32 panel, w points at dWᵀ[c, 0, o].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AcrossOutputs512(int positions, float* panel, float* x, ReadOnlySpan<int> taps, float* w, int outChannels)
    {
        float* x0 = x + taps[0], x1 = x + taps[1], x2 = x + taps[2], x3 = x + taps[3], x4 = x + taps[4], x5 = x + taps[5], x6 = x + taps[6], x7 = x + taps[7], x8 = x + taps[8];
        int o = outChannels;
        Vector512<float> a0 = Vector512.Load(w), b0 = Vector512.Load(w + 16), a1 = Vector512.Load(w + o), b1 = Vector512.Load(w + o + 16);
        Vector512<float> a2 = Vector512.Load(w + 2 * o), b2 = Vector512.Load(w + 2 * o + 16), a3 = Vector512.Load(w + 3 * o), b3 = Vector512.Load(w + 3 * o + 16);
        Vector512<float> a4 = Vector512.Load(w + 4 * o), b4 = Vector512.Load(w + 4 * o + 16), a5 = Vector512.Load(w + 5 * o), b5 = Vector512.Load(w + 5 * o + 16);
        Vector512<float> a6 = Vector512.Load(w + 6 * o), b6 = Vector512.Load(w + 6 * o + 16), a7 = Vector512.Load(w + 7 * o), b7 = Vector512.Load(w + 7 * o + 16);
        Vector512<float> a8 = Vector512.Load(w + 8 * o), b8 = Vector512.Load(w + 8 * o + 16);
        float* d = panel;
        for (int k = 0; k < positions; k++, d += OutputLanesBlock)
        {
            Vector512<float> d0 = Vector512.Load(d), d1 = Vector512.Load(d + 16), v;
            v = Vector512.Create(x0[k]); a0 = VectorFma.MultiplyAdd(d0, v, a0); b0 = VectorFma.MultiplyAdd(d1, v, b0);
            v = Vector512.Create(x1[k]); a1 = VectorFma.MultiplyAdd(d0, v, a1); b1 = VectorFma.MultiplyAdd(d1, v, b1);
            v = Vector512.Create(x2[k]); a2 = VectorFma.MultiplyAdd(d0, v, a2); b2 = VectorFma.MultiplyAdd(d1, v, b2);
            v = Vector512.Create(x3[k]); a3 = VectorFma.MultiplyAdd(d0, v, a3); b3 = VectorFma.MultiplyAdd(d1, v, b3);
            v = Vector512.Create(x4[k]); a4 = VectorFma.MultiplyAdd(d0, v, a4); b4 = VectorFma.MultiplyAdd(d1, v, b4);
            v = Vector512.Create(x5[k]); a5 = VectorFma.MultiplyAdd(d0, v, a5); b5 = VectorFma.MultiplyAdd(d1, v, b5);
            v = Vector512.Create(x6[k]); a6 = VectorFma.MultiplyAdd(d0, v, a6); b6 = VectorFma.MultiplyAdd(d1, v, b6);
            v = Vector512.Create(x7[k]); a7 = VectorFma.MultiplyAdd(d0, v, a7); b7 = VectorFma.MultiplyAdd(d1, v, b7);
            v = Vector512.Create(x8[k]); a8 = VectorFma.MultiplyAdd(d0, v, a8); b8 = VectorFma.MultiplyAdd(d1, v, b8);
        }
        a0.Store(w); b0.Store(w + 16); a1.Store(w + o); b1.Store(w + o + 16); a2.Store(w + 2 * o); b2.Store(w + 2 * o + 16);
        a3.Store(w + 3 * o); b3.Store(w + 3 * o + 16); a4.Store(w + 4 * o); b4.Store(w + 4 * o + 16); a5.Store(w + 5 * o); b5.Store(w + 5 * o + 16);
        a6.Store(w + 6 * o); b6.Store(w + 6 * o + 16); a7.Store(w + 7 * o); b7.Store(w + 7 * o + 16); a8.Store(w + 8 * o); b8.Store(w + 8 * o + 16);
    }
}
