using System.Numerics.Tensors;
using BinaryGrad.Binarization;
using BinaryGrad.Kernels;
using BinaryGrad.Kernels.Binary;

namespace BinaryGrad.Layers.Inference;

/// <summary>Max pooling, square window, padding never selected (−∞).</summary>
public sealed class MaxPoolLayer(int kernelSize, int stride, int padding) : InferenceLayer
{
    public int KernelSize { get; } = kernelSize;
    public int Stride { get; } = stride;
    public int Padding { get; } = padding;
    public override InferenceLayerKind Kind => InferenceLayerKind.MaxPool;
    public override long ParameterBytes => 0;

    private int Out(int side) => (side + 2 * Padding - KernelSize) / Stride + 1;

    /// <summary>The pooled length of a side of <paramref name="side"/> pixels.</summary>
    internal int OutputSide(int side) => Out(side);

    public override int[] OutputShape(int[] input) =>
        input.Length == 4 && input[2] + 2 * Padding >= KernelSize && input[3] + 2 * Padding >= KernelSize
            ? [input[0], input[1], Out(input[2]), Out(input[3])]
            : throw Mismatch(this, input, $"[N,C,H,W] with H, W ≥ {KernelSize - 2 * Padding}");

    public override Activation Run(Activation x)
    {
        float[] v = x.ToFloats();
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3], oh = Out(h), ow = Out(w);
        float[] y = FloatOutput(n * c * oh * ow);
        // the training op's kernel (Ops.MaxPool2d), so the pooled floats are the evaluation's exactly
        var g = new Pool2DGeometry(n, c, h, w, KernelSize, KernelSize, Stride, Stride, Padding, Padding);
        Pool2DKernels.MaxForward(g, v, y, IntScratch(y.Length));
        return Result(y, null, [n, c, oh, ow]);
    }

    internal override void Write(BinaryWriter w) { w.Write(KernelSize); w.Write(Stride); w.Write(Padding); }

    internal static MaxPoolLayer Read(BgmReader r) => new(r.Size("kernel"), r.Size("stride"), r.Count("padding"));

    public override string ToString() => $"MaxPool({KernelSize}, stride={Stride})";
}

/// <summary><c>clamp(x, min, max)</c>. With <c>min &lt; 0 ≤ max</c> it preserves the sign test <c>x ≥ 0</c>, so it
/// disappears between a binary layer and a sign.</summary>
public sealed class HardTanhLayer(float min, float max) : InferenceLayer
{
    public float Min { get; } = min;
    public float Max { get; } = max;
    public bool PreservesSign => Min < 0 && Max >= 0;
    public override InferenceLayerKind Kind => InferenceLayerKind.HardTanh;
    public override long ParameterBytes => 0;
    public override int[] OutputShape(int[] input) => input;

    public override Activation Run(Activation x)
    {
        float[] v = x.ToFloats();
        float[] y = FloatOutput(v.Length);
        // the training op's vector clamp, then the same scalar expression for the tail
        for (int i = ActivationKernels.ClampForward<float>(v, y, Min, Max); i < v.Length; i++) y[i] = v[i] < Min ? Min : v[i] > Max ? Max : v[i];
        return Result(y, null, x.Shape);
    }

    internal override void Write(BinaryWriter w) { w.Write(Min); w.Write(Max); }

    internal static HardTanhLayer Read(BgmReader r) => new(r.Float(), r.Float());

    public override string ToString() => $"HardTanh({Min}, {Max})";
}

/// <summary>SiMaN's test-time activation (<see cref="StandardizedSign"/> with centring), before a binary layer:
/// y = ±1, the sign of x less the mean of its own image (all C·H·W values, float64 sums). The binary layer then packs
/// these signs as they are. The fused Bi-Real paths do not apply to a unit that starts with it (they pack sign(x)).</summary>
public sealed class CenteredSignLayer : InferenceLayer
{
    private static readonly StandardizedSign Quantizer = new(center: true);

    public override InferenceLayerKind Kind => InferenceLayerKind.CenteredSign;
    public override long ParameterBytes => 0;
    public override int[] OutputShape(int[] input) => input;

    public override Activation Run(Activation x)
    {
        float[] v = x.ToFloats();
        float[] y = FloatOutput(v.Length);
        Quantizer.CenteredSigns(v, x.Batch, y);
        return Result(y, null, x.Shape);
    }

    internal override void Write(BinaryWriter w) { }

    public override string ToString() => "CenteredSign(per-image mean)";
}

/// <summary><c>max(x, 0)</c>.</summary>
public sealed class ReLULayer : InferenceLayer
{
    public override InferenceLayerKind Kind => InferenceLayerKind.ReLU;
    public override long ParameterBytes => 0;
    public override int[] OutputShape(int[] input) => input;

    public override Activation Run(Activation x)
    {
        float[] v = x.ToFloats();
        float[] y = FloatOutput(v.Length);
        for (int i = 0; i < v.Length; i++) y[i] = v[i] > 0 ? v[i] : 0f;
        return Result(y, null, x.Shape);
    }

    internal override void Write(BinaryWriter w) { }

    public override string ToString() => "ReLU";
}

/// <summary>Parametric ReLU with one slope per channel (axis 1) or one shared slope: <c>y = x</c> for x &gt; 0,
/// <c>a_c·x</c> otherwise — <c>Ops.PRelu</c>'s float32 arithmetic (one product, one rounding).</summary>
public sealed class PReLULayer(float[] slopes) : InferenceLayer
{
    public float[] Slopes { get; } = slopes.Length > 0 ? slopes : throw new ArgumentException("PReLULayer: no slopes.");
    public override InferenceLayerKind Kind => InferenceLayerKind.PReLU;
    public override long ParameterBytes => Slopes.Length * 4L;

    public override int[] OutputShape(int[] input) =>
        input.Length >= 2 && (Slopes.Length == 1 || input[1] == Slopes.Length) ? input
            : throw Mismatch(this, input, $"[N,{Slopes.Length},...]");

    public override Activation Run(Activation x)
    {
        float[] v = x.ToFloats();
        float[] y = FloatOutput(v.Length);
        int n = x.Batch, c = x.Shape[1], plane = v.Length / Math.Max(1, n * c);
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
            {
                float a = Slopes[Slopes.Length == 1 ? 0 : ch];
                for (int j = (i * c + ch) * plane, end = j + plane; j < end; j++) y[j] = v[j] > 0 ? v[j] : a * v[j];
            }
        return Result(y, null, x.Shape);
    }

    internal override void Write(BinaryWriter w) { w.Write(Slopes.Length); BgmIo.WriteFloats(w, Slopes); }

    internal static PReLULayer Read(BgmReader r)
    {
        int channels = r.Size("PReLU channels");
        return new PReLULayer(r.Floats(channels));
    }

    public override string ToString() => $"PReLU({Slopes.Length})";
}

/// <summary>[N,C,H,W] → [N,C·H·W] (NCHW order).</summary>
public sealed class FlattenLayer : InferenceLayer
{
    public override InferenceLayerKind Kind => InferenceLayerKind.Flatten;
    public override long ParameterBytes => 0;
    public override int[] OutputShape(int[] input) => [input[0], input.Skip(1).Aggregate(1, (a, b) => a * b)];
    public override Activation Run(Activation x)
    {
        int features = 1;
        for (int axis = 1; axis < x.Shape.Length; axis++) features *= x.Shape[axis];
        return Result(x.ToFloats(), null, [x.Shape[0], features]);
    }
    internal override void Write(BinaryWriter w) { }
    public override string ToString() => "Flatten";
}
