using System.Numerics;
using System.Runtime.InteropServices;

namespace BinaryGrad.Kernels.Binary;

public static partial class XnorConv2D
{
    /// <summary><c>y[n,o,y,x] = scale[o]·dot + bias[o]</c> in T (NCHW), for code written once over the element type:
    /// T = float runs the fused affine epilogue, any other T the integer dots followed by the affine map in T.</summary>
    /// <exception cref="ArgumentException">A span is too short, or the shape is invalid.</exception>
    public static void Forward<T>(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> weights, Span<T> output, in XnorConv2DShape shape,
                                  ReadOnlySpan<T> scale, ReadOnlySpan<T> bias) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float))
        {
            Forward(input, weights, MemoryMarshal.Cast<T, float>(output), shape, MemoryMarshal.Cast<T, float>(scale), MemoryMarshal.Cast<T, float>(bias), plan: null);
            return;
        }
        int[] dots = new int[shape.OutputCount];
        Forward(input, weights, dots, shape);
        int plane = shape.OutHeight * shape.OutWidth;
        for (int i = 0; i < dots.Length; i++)
        {
            int o = i / plane % shape.OutChannels;
            output[i] = scale[o] * T.CreateTruncating(dots[i]) + bias[o];
        }
    }

    /// <summary><see cref="PackWeights(ReadOnlySpan{float}, Span{ulong}, in XnorConv2DShape)"/> for filters of any
    /// element type: each weight is rounded to float first, so the sign bit is the float32 weight's.</summary>
    public static void PackWeights<T>(ReadOnlySpan<T> weights, Span<ulong> packed, in XnorConv2DShape shape) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float))
        {
            PackWeights(MemoryMarshal.Cast<T, float>(weights), packed, shape);
            return;
        }
        float[] values = ScratchPool<float>.ThisThread.Rent(weights.Length);
        for (int i = 0; i < weights.Length; i++) values[i] = float.CreateTruncating(weights[i]);
        PackWeights(values.AsSpan(0, weights.Length), packed, shape);
        ScratchPool<float>.ThisThread.Return(values);
    }
}
