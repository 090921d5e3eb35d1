using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BinaryGrad.Kernels;

/// <summary>The backward of 3×3 convolutions by <see cref="StackedConv3x3"/> (stride 1 and 2): both gradients, and the
/// fused backward of a convolution of sign(x).</summary>
internal static unsafe partial class Conv2DCore<T> where T : unmanaged, INumber<T>
{
    public static void BackwardOfSign(in Conv2DGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight, T clip,
                                      Span<T> gradInput, Span<T> gradWeight, bool accumulate = false)
    {
        g.CheckLength(input.Length, g.InputLength, nameof(input), "The input");
        g.CheckLength(gradOutput.Length, g.OutputLength, nameof(gradOutput), "The output gradient");
        g.CheckLength(weight.Length, g.WeightLength, nameof(weight), "The weight");
        if (!gradInput.IsEmpty) g.CheckLength(gradInput.Length, g.InputLength, nameof(gradInput), "The input gradient");
        if (!gradWeight.IsEmpty) g.CheckLength(gradWeight.Length, g.WeightLength, nameof(gradWeight), "The weight gradient");
        if (TryBackwardOfSignByLookup(g, input, gradOutput, weight, clip, gradInput, gradWeight, accumulate)) return;
        if (!StackedConv3x3.Applies(g) && !StackedConv3x3.AppliesStride2(g))
        {
            // the general route: sign(x) and the unmasked input gradient in scratch, then the masked write
            T[] scratch = s_columns.Rent(g.InputLength);
            Span<T> buffer = scratch.AsSpan(0, g.InputLength);
            if (!gradWeight.IsEmpty)
            {
                StackedConv3x3.Sign<T>(input[..g.InputLength], buffer);
                BackwardWeight(g, buffer, gradOutput, gradWeight, default);
            }
            if (!gradInput.IsEmpty)
            {
                buffer.Clear();
                BackwardInput(g, gradOutput, weight, buffer);
                StackedConv3x3.WriteMasked<T>(buffer, input, gradInput, clip, accumulate);
            }
            s_columns.Return(scratch);
            return;
        }
        BackwardOfSignStacked(g, input, gradOutput, weight, clip, gradInput, gradWeight, accumulate);
    }

    /// <summary><see cref="BackwardOfSign"/> by <see cref="StackedConv3x3"/>: per thread and group of images, dY stacked
    /// once for both products, x stacked as its signs for dW, the dX result times the mask written into the input gradient.
    /// Stride 2 works on the four phase planes of x and of dx (<see cref="StackedConv3x3.AppliesStride2"/>), one
    /// input-gradient pass per phase with that phase's taps. dW is summed per thread and the sums added in image order,
    /// as in <see cref="BackwardWeightStacked"/>.</summary>
    private static void BackwardOfSignStacked(in Conv2DGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight, T clip,
                                              Span<T> gradInput, Span<T> gradWeight, bool accumulate)
    {
        Conv2DGeometry geometry = g;
        bool needInput = !gradInput.IsEmpty, needWeight = !gradWeight.IsEmpty, strided = g.StrideHeight == 2;
        int weightLength = g.WeightLength, block = StackedConv3x3.ChannelBlock, phases = strided ? 4 : 1;
        int outPlanes = (g.OutChannels + block - 1) / block * block, inPlanes = (g.InChannels + block - 1) / block * block;
        // the filters of each phase's taps, one after the other (stride 1: one "phase" of all nine taps, rotated by the shifts)
        int[] phaseTaps = new int[9], phaseStart = new int[5];
        int packedLength = inPlanes * g.OutChannels * 9;
        T[] packed = s_columns.Rent(packedLength);
        Span<int> unusedShifts = stackalloc int[9];
        if (needInput)
            for (int ph = 0, at = 0; ph < phases; ph++)
            {
                int n = strided ? StackedConv3x3.Stride2InputTaps(ph / 2, ph % 2, 1, phaseTaps.AsSpan(at), unusedShifts) : 9;
                if (!strided) StackedConv3x3.AllTaps.CopyTo(phaseTaps);
                StackedConv3x3.PackTaps<T>(weight, g.OutChannels, g.InChannels, phaseTaps.AsSpan(at, n), packed.AsSpan(inPlanes * g.OutChannels * at));
                phaseStart[ph + 1] = at += n;
            }
        PartialSums partials = t_partials ??= new PartialSums();
        partials.Prepare(KernelThreads.Count, weightLength);
        SimdPath path = Simd.Path;
        bool acrossOutputs = needWeight && AcrossOutputs(path, g.OutChannels);
        bool winograd = acrossOutputs && !strided && Winograd(path, g);
        fixed (T* px = input, pdy = gradOutput, pw = packed, pdx = gradInput)
        {
            nint x = (nint)px, dy = (nint)pdy, w = (nint)pw, dx = (nint)pdx;
            KernelThreads.For(g.Batch, 1, (first, end) =>
            {
                Span<T> sums = partials.Take(first).AsSpan(0, weightLength);
                sums.Clear();
                int group = StackedConv3x3.GroupSize(geometry.OutHeight, geometry.OutWidth);
                var full = new StackedConv3x3.Layout(Math.Min(group, end - first), geometry.OutHeight, geometry.OutWidth);
                T[] stackedY = s_columns.Rent(outPlanes * full.PlaneStride);
                T[] stackedX = needWeight ? s_columns.Rent(phases * geometry.InChannels * full.PlaneStride) : [];
                T[] result = needInput ? s_columns.Rent((strided ? 2 : 1) * inPlanes * full.Positions) : [];
                T[] transposedY = acrossOutputs ? RentPanels(full, geometry.OutChannels) : [];
                T[] transforms = winograd ? RentWinograd(full, geometry) : [];
                ReadOnlySpan<T> xs = Span(x, geometry.InputLength), dys = Span(dy, geometry.OutputLength);
                Span<int> xOffsets = stackalloc int[9], yShifts = stackalloc int[9], taps = stackalloc int[9];
                for (int n = first; n < end; n += group)
                {
                    var layout = new StackedConv3x3.Layout(Math.Min(group, end - n), geometry.OutHeight, geometry.OutWidth);
                    StackedConv3x3.Stack<T>(layout, dys[(n * geometry.OutputImageLength)..], geometry.OutputImageLength, geometry.OutChannels, outPlanes, stackedY);
                    ReadOnlySpan<T> images = xs[(n * geometry.InputImageLength)..];
                    if (strided) StackedConv3x3.Stride2WeightOffsets(layout.Pitch, layout.PlaneStride, xOffsets);
                    else StackedConv3x3.Stride1Offsets(layout.Pitch, xOffsets, yShifts);
                    if (needWeight)
                    {
                        if (strided) StackedConv3x3.StackPhases<T>(layout, images, geometry.InputImageLength, geometry.InChannels, stackedX, sign: true);
                        else StackedConv3x3.Stack<T>(layout, images, geometry.InputImageLength, geometry.InChannels, geometry.InChannels, stackedX, sign: true);
                        GroupWeightGradient(path, layout, stackedY, stackedX, transposedY, geometry.OutChannels, geometry.InChannels, sums, xOffsets,
                            phases * layout.PlaneStride, transforms);
                    }
                    if (!needInput) continue;
                    Span<T> target = Span(dx, geometry.InputLength)[(n * geometry.InputImageLength)..];
                    int half = inPlanes * layout.Positions;
                    for (int ph = 0; ph < phases; ph++)
                    {
                        int count = strided ? StackedConv3x3.Stride2InputTaps(ph / 2, ph % 2, layout.Pitch, taps, yShifts) : 9;
                        ReadOnlySpan<T> filters = Span(w, packedLength).Slice(inPlanes * geometry.OutChannels * phaseStart[ph], inPlanes * geometry.OutChannels * count);
                        Span<T> into = result.AsSpan(ph % 2 * half, half);
                        StackedConv3x3.InputGradient<T>(path, layout, stackedY, filters, geometry.OutChannels, geometry.InChannels, into, yShifts[..count]);
                        if (!strided) StackedConv3x3.WriteUnstackedMasked<T>(layout, into, geometry.InChannels, target, images, geometry.InputImageLength, clip, accumulate);
                        else if (ph % 2 == 1) // phases (r, 0) and (r, 1) done: write rows 2y + r whole
                            StackedConv3x3.WriteUnstackedMaskedPhases<T>(layout, result.AsSpan(0, half), into, geometry.InChannels, target, images, geometry.InputImageLength, clip, ph / 2, accumulate);
                    }
                }
                if (winograd)
                {
                    FinishWinograd(path, transforms, geometry, sums);
                    s_columns.Return(transforms);
                }
                s_columns.Return(stackedY);
                if (needWeight) s_columns.Return(stackedX);
                if (needInput) s_columns.Return(result);
                if (acrossOutputs) s_columns.Return(transposedY);
            });
        }
        s_columns.Return(packed);
        if (!needWeight) return;
        for (int i = 0, count = partials.SortByImage(); i < count; i++)
            AddPartialWeightGradient(acrossOutputs, partials[i], g, gradWeight[..weightLength]);
    }

    /// <summary>True when the float weight gradient runs with the output channels in the lanes
    /// (<see cref="StackedConv3x3.WeightGradientAcrossOutputs"/>): float32 and whole 32-channel output blocks on
    /// 512-bit vectors. The per-thread sums are then kept transposed, dWᵀ[c, t, o].</summary>
    private static bool AcrossOutputs(SimdPath path, int outChannels) => typeof(T) == typeof(float) && StackedConv3x3.AcrossOutputsApplies(path, outChannels);

    // Panels of Dᵀ for a full group, + 16 floats of room to start them on a 64-byte boundary.
    private static T[] RentPanels(in StackedConv3x3.Layout full, int outChannels) => s_columns.Rent(full.Positions * outChannels + 16);

    /// <summary>True when the float weight gradient runs by Winograd's F(3×3, 2×2) (<see cref="StackedConv3x3.WinogradProducts"/>):
    /// float32 where <see cref="StackedConv3x3.WinogradApplies"/> says so (a subset of where the output-lanes kernel
    /// runs). The caller checks for stride 1.</summary>
    private static bool Winograd(SimdPath path, in Conv2DGeometry g) =>
        typeof(T) == typeof(float) && StackedConv3x3.WinogradApplies(path, g.OutChannels, g.InChannels, g.OutHeight, g.OutWidth);

    /// <summary>A thread's Winograd buffers for groups up to <paramref name="full"/>: the sums M (16·C·O, cleared, kept
    /// over all the thread's groups) at the start, then one group's V (16·C·T') and U (16·O·T), each rounded up to 64
    /// bytes within the fixed block that uses them (the pool's arrays are not pinned, so M stays at offset 0).</summary>
    private static T[] RentWinograd(in StackedConv3x3.Layout full, in Conv2DGeometry g)
    {
        int points = StackedConv3x3.WinogradPoints, sums = points * g.InChannels * g.OutChannels;
        T[] buffer = s_columns.Rent(sums + points * g.InChannels * StackedConv3x3.WinogradPaddedTiles(full)
                                    + points * g.OutChannels * StackedConv3x3.WinogradTiles(full) + 48);
        buffer.AsSpan(0, sums).Clear();
        return buffer;
    }

    /// <summary>Adds one stacked group's weight gradient into a thread's sums: by Winograd into the thread's M when
    /// <paramref name="transforms"/> was rented (<see cref="Winograd"/>), transposed with the output channels in the
    /// lanes when <paramref name="panels"/> was rented (<see cref="AcrossOutputs"/>), else by
    /// <see cref="StackedConv3x3.WeightGradient{T}"/>.</summary>
    private static void GroupWeightGradient(SimdPath path, in StackedConv3x3.Layout layout, T[] stackedY, T[] stackedX, T[] panels, int outChannels, int inChannels,
                                            Span<T> sums, ReadOnlySpan<int> xOffsets, int channelStride, T[] transforms)
    {
        if (panels.Length == 0)
        {
            StackedConv3x3.WeightGradient<T>(path, layout, stackedY, stackedX, outChannels, inChannels, sums, xOffsets, channelStride);
            return;
        }
        fixed (T* ys = stackedY, xs = stackedX, dt = panels, w = sums, wino = transforms)
        {
            // panel rows on cache-line boundaries (32 floats each), so no vector load straddles two lines
            float* aligned = Align64((float*)dt);
            StackedConv3x3.TransposeGradOutput(layout, (float*)ys, outChannels, aligned);
            if (transforms.Length == 0)
            {
                StackedConv3x3.WeightGradientAcrossOutputs(path, layout.Positions, aligned, outChannels, (float*)xs, inChannels, channelStride, xOffsets, (float*)w);
                return;
            }
            int points = StackedConv3x3.WinogradPoints, tiles = StackedConv3x3.WinogradTiles(layout), padded = StackedConv3x3.WinogradPaddedTiles(layout);
            float* m = (float*)wino, v = Align64(m + points * inChannels * outChannels), u = Align64(v + points * inChannels * padded);
            StackedConv3x3.WinogradTransformGradOutput(path, layout, aligned, outChannels, u);
            StackedConv3x3.WinogradTransformInput(path, layout, (float*)xs, inChannels, channelStride, padded, v);
            for (int p = 0; p < points; p++)
                StackedConv3x3.WinogradProducts(path, tiles, u + p * outChannels * tiles, outChannels, v + p * inChannels * padded, inChannels, padded,
                    m + p * inChannels * outChannels);
        }
    }

    /// <summary>Adds the 3×3 gradient that a thread's Winograd sums M stand for into its (transposed) weight-gradient sums.</summary>
    private static void FinishWinograd(SimdPath path, T[] transforms, in Conv2DGeometry g, Span<T> sums)
    {
        fixed (T* wino = transforms, w = sums)
            StackedConv3x3.WinogradGradient(path, (float*)wino, g.OutChannels, g.InChannels, (float*)w);
    }

    /// <summary>Adds a thread's weight-gradient sums into dW, transposing them back if they were kept transposed.</summary>
    private static void AddPartialWeightGradient(bool transposed, T[] partial, in Conv2DGeometry g, Span<T> gradWeight)
    {
        if (transposed)
            StackedConv3x3.AddTransposedWeightGradient(MemoryMarshal.Cast<T, float>(partial.AsSpan(0, g.WeightLength)), g.OutChannels, g.InChannels,
                MemoryMarshal.Cast<T, float>(gradWeight));
        else TensorPrimitives.Add(gradWeight, partial.AsSpan(0, g.WeightLength), gradWeight);
    }

    /// <summary>The input gradient by <see cref="StackedConv3x3"/>: per thread, groups of images stacked into flat
    /// planes, the direct correlation with the flipped filters, the result added into dx row by row.</summary>
    private static void BackwardInputStacked(in Conv2DGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight, Span<T> gradInput)
    {
        Conv2DGeometry geometry = g;
        int blocks = (g.InChannels + StackedConv3x3.ChannelBlock - 1) / StackedConv3x3.ChannelBlock, packedLength = blocks * StackedConv3x3.ChannelBlock * g.OutChannels * 9;
        T[] packed = s_columns.Rent(packedLength);
        StackedConv3x3.PackTaps<T>(weight, g.OutChannels, g.InChannels, StackedConv3x3.AllTaps, packed);
        SimdPath path = Simd.Path;
        fixed (T* pdy = gradOutput, pw = packed, pdx = gradInput)
        {
            nint dy = (nint)pdy, w = (nint)pw, dx = (nint)pdx;
            KernelThreads.For(g.Batch, 1, (first, end) =>
            {
                int group = StackedConv3x3.GroupSize(geometry.OutHeight, geometry.OutWidth);
                var full = new StackedConv3x3.Layout(Math.Min(group, end - first), geometry.OutHeight, geometry.OutWidth);
                T[] stacked = s_columns.Rent(geometry.OutChannels * full.PlaneStride), result = s_columns.Rent(blocks * StackedConv3x3.ChannelBlock * full.Positions);
                Span<int> xOffsets = stackalloc int[9], yShifts = stackalloc int[9];
                for (int n = first; n < end; n += group)
                {
                    var layout = new StackedConv3x3.Layout(Math.Min(group, end - n), geometry.OutHeight, geometry.OutWidth);
                    StackedConv3x3.Stack<T>(layout, Span(dy, geometry.OutputLength)[(n * geometry.OutputImageLength)..], geometry.OutputImageLength,
                        geometry.OutChannels, geometry.OutChannels, stacked);
                    StackedConv3x3.Stride1Offsets(layout.Pitch, xOffsets, yShifts);
                    StackedConv3x3.InputGradient<T>(path, layout, stacked, Span(w, packedLength), geometry.OutChannels, geometry.InChannels, result, yShifts);
                    StackedConv3x3.AddUnstacked<T>(layout, result, geometry.InChannels, Span(dx, geometry.InputLength)[(n * geometry.InputImageLength)..], geometry.InputImageLength);
                }
                s_columns.Return(stacked);
                s_columns.Return(result);
            });
        }
        s_columns.Return(packed);
    }

    /// <summary>The weight (and bias) gradient by <see cref="StackedConv3x3"/>: per thread, groups of images stacked
    /// into flat planes (dY and x), the direct correlation summed into a per-thread buffer; the buffers are added in
    /// image order afterwards, so the result does not depend on thread timing.</summary>
    private static void BackwardWeightStacked(in Conv2DGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput, Span<T> gradWeight, Span<T> gradBias)
    {
        Conv2DGeometry geometry = g;
        int weightLength = g.WeightLength, biasLength = gradBias.Length, length = weightLength + biasLength;
        int outPlanes = (g.OutChannels + StackedConv3x3.ChannelBlock - 1) / StackedConv3x3.ChannelBlock * StackedConv3x3.ChannelBlock;
        PartialSums partials = t_partials ??= new PartialSums();
        partials.Prepare(KernelThreads.Count, length);
        SimdPath path = Simd.Path;
        bool acrossOutputs = AcrossOutputs(path, g.OutChannels), winograd = acrossOutputs && Winograd(path, g);
        fixed (T* px = input, pdy = gradOutput)
        {
            nint x = (nint)px, dy = (nint)pdy;
            KernelThreads.For(g.Batch, 1, (first, end) =>
            {
                Span<T> sums = partials.Take(first).AsSpan(0, length);
                sums.Clear();
                int group = StackedConv3x3.GroupSize(geometry.OutHeight, geometry.OutWidth), plane = geometry.OutputPlaneLength;
                var full = new StackedConv3x3.Layout(Math.Min(group, end - first), geometry.OutHeight, geometry.OutWidth);
                T[] stackedY = s_columns.Rent(outPlanes * full.PlaneStride), stackedX = s_columns.Rent(geometry.InChannels * full.PlaneStride);
                T[] transposedY = acrossOutputs ? RentPanels(full, geometry.OutChannels) : [];
                T[] transforms = winograd ? RentWinograd(full, geometry) : [];
                Span<int> xOffsets = stackalloc int[9], yShifts = stackalloc int[9];
                ReadOnlySpan<T> dys = Span(dy, geometry.OutputLength);
                for (int n = first; n < end; n += group)
                {
                    var layout = new StackedConv3x3.Layout(Math.Min(group, end - n), geometry.OutHeight, geometry.OutWidth);
                    StackedConv3x3.Stack<T>(layout, dys[(n * geometry.OutputImageLength)..], geometry.OutputImageLength, geometry.OutChannels, outPlanes, stackedY);
                    StackedConv3x3.Stack<T>(layout, Span(x, geometry.InputLength)[(n * geometry.InputImageLength)..], geometry.InputImageLength,
                        geometry.InChannels, geometry.InChannels, stackedX);
                    StackedConv3x3.Stride1Offsets(layout.Pitch, xOffsets, yShifts);
                    GroupWeightGradient(path, layout, stackedY, stackedX, transposedY, geometry.OutChannels, geometry.InChannels, sums[..weightLength], xOffsets,
                        layout.PlaneStride, transforms);
                }
                if (winograd) FinishWinograd(path, transforms, geometry, sums[..weightLength]);
                for (int o = 0; o < biasLength; o++)
                    for (int n = first; n < end; n++) sums[weightLength + o] += TensorPrimitives.Sum(dys.Slice(n * geometry.OutputImageLength + o * plane, plane));
                s_columns.Return(stackedY);
                s_columns.Return(stackedX);
                if (acrossOutputs) s_columns.Return(transposedY);
                if (winograd) s_columns.Return(transforms);
            });
        }
        for (int i = 0, count = partials.SortByImage(); i < count; i++)
        {
            T[] partial = partials[i];
            AddPartialWeightGradient(acrossOutputs, partial, g, gradWeight[..weightLength]);
            if (biasLength > 0) TensorPrimitives.Add(gradBias, partial.AsSpan(weightLength, biasLength), gradBias);
        }
    }
}
