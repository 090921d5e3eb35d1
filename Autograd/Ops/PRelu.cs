using System.Numerics;
using BinaryGrad.Kernels;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>Parametric ReLU (He et al. 2015): <c>y = x</c> for x &gt; 0, <c>y = a_c·x</c> otherwise, with one learned
    /// slope per channel (axis 1; weight [C]) or one shared slope (weight [1]).</summary>
    /// <remarks>Backward: <c>dx = dy</c> where x &gt; 0, <c>a_c·dy</c> elsewhere; <c>da_c = Σ_{x ≤ 0} dy·x</c> over the
    /// channel's elements.</remarks>
    /// <exception cref="ArgumentException">The weight is neither [1] nor [C] for x's axis 1, or types differ.</exception>
    public static Tensor PRelu(Tensor x, Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        int channels = x.Rank >= 2 ? x.Shape[1] : 1;
        if (weight.Rank != 1 || (weight.Shape[0] != 1 && weight.Shape[0] != channels))
            throw new ArgumentException($"prelu: weight {Shapes.Format(weight.Shape)} must be [1] or [{channels}] for x {Shapes.Format(x.Shape)}.");
        CheckSameDType(x, weight, "prelu");
        return new PReluFunction().Apply(x, weight);
    }

    /// <summary>The slope gradient from the per-plane shares of <see cref="ActivationKernels.PReluBackward{T}"/> (planes in
    /// (image, channel) order): da_c = Σ over the images, in order, of the shares in float64, rounded to T once; one
    /// shared slope sums every plane in order.</summary>
    internal static void AddSlopeShares<T>(ReadOnlySpan<double> shares, int planes, int channels, Span<T> slopeGradient)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double[] rented = ScratchPool<double>.ThisThread.Rent(slopeGradient.Length);
        Span<double> sums = rented.AsSpan(0, slopeGradient.Length);
        sums.Clear();
        for (int p = 0; p < planes; p++) sums[slopeGradient.Length == 1 ? 0 : p % channels] += shares[p];
        for (int k = 0; k < sums.Length; k++) slopeGradient[k] = T.CreateChecked(sums[k]);
        ScratchPool<double>.ThisThread.Return(rented);
    }

    private sealed class PReluFunction : Function
    {
        private Tensor? _x, _w;
        public override string Name => "prelu";

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor x = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
            Tensor w = inputs[1].IsContiguous ? inputs[1] : inputs[1].MaterializeRaw();
            (_x, _w) = (x, w);
            Tensor y = Tensor.Uninitialized(x.Shape, x.DType);
            if (x.DType == DType.Float32) Forward<float>(x, w, y); else Forward<double>(x, w, y);
            return y;
        }

        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor x = _x!, w = _w!;
            Tensor g = dy.IsContiguous ? dy : dy.MaterializeRaw();
            Tensor dx = Tensor.Uninitialized(x.Shape, x.DType), dw = w.ZerosLike();
            if (x.DType == DType.Float32) Backward<float>(x, w, g, dx, dw); else Backward<double>(x, w, g, dx, dw);
            return [NeedsGrad(0) ? dx : null, NeedsGrad(1) ? dw : null];
        }

        /// <summary>x laid out as (images, channels, plane): plane = the elements per image and channel.</summary>
        private static (int Images, int Channels, int Plane) Layout(Tensor x)
        {
            int n = x.Rank >= 2 ? x.Shape[0] : 1, c = x.Rank >= 2 ? x.Shape[1] : 1;
            return (n, c, x.Length / Math.Max(n * c, 1));
        }

        /// <summary>y = x where x &gt; 0, a_c·x elsewhere; image planes spread over the kernel threads.</summary>
        private static void Forward<T>(Tensor x, Tensor w, Tensor y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            (int n, int c, int plane) = Layout(x);
            KernelThreads.For(n * c, Math.Max(1, (1 << 14) / Math.Max(plane, 1)), (first, end) =>
            {
                ReadOnlySpan<T> xs = x.AsSpan<T>(), slopes = w.AsSpan<T>();
                Span<T> ys = y.AsSpan<T>();
                for (int p = first; p < end; p++)
                {
                    T a = slopes[slopes.Length == 1 ? 0 : p % c];
                    ReadOnlySpan<T> xPlane = xs.Slice(p * plane, plane);
                    Span<T> yPlane = ys.Slice(p * plane, plane);
                    for (int j = ActivationKernels.PReluForward(xPlane, yPlane, a); j < plane; j++) yPlane[j] = xPlane[j] > T.Zero ? xPlane[j] : a * xPlane[j];
                }
            });
        }

        /// <summary>dx = dy where x &gt; 0, a_c·dy elsewhere, and da_c = Σ_{x ≤ 0} dy·x: each image plane's share from
        /// <see cref="ActivationKernels.PReluBackward{T}"/> (planes spread over the kernel threads), then added per slope
        /// in float64 in plane order, so the result does not depend on the thread count. The fused
        /// <see cref="BatchNormAddPRelu"/> runs the one-pass form of the same kernel
        /// (<see cref="ActivationKernels.ScaleShiftAddPReluBackward{T}"/>, the same lanes and order) and adds the shares the
        /// same way, hence the same bits.</summary>
        private static void Backward<T>(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            (int n, int c, int plane) = Layout(x);
            double[] shares = ScratchPool<double>.ThisThread.Rent(n * c);
            KernelThreads.For(n * c, Math.Max(1, (1 << 14) / Math.Max(plane, 1)), (first, end) =>
            {
                ReadOnlySpan<T> xs = x.AsSpan<T>(), gs = dy.AsSpan<T>(), slopes = w.AsSpan<T>();
                Span<T> dxs = dx.AsSpan<T>();
                for (int p = first; p < end; p++)
                    shares[p] = ActivationKernels.PReluBackward(xs.Slice(p * plane, plane), gs.Slice(p * plane, plane), dxs.Slice(p * plane, plane),
                        slopes[slopes.Length == 1 ? 0 : p % c]);
            });
            AddSlopeShares<T>(shares, n * c, c, dw.AsSpan<T>());
            ScratchPool<double>.ThisThread.Return(shares);
        }

        protected override void ReleaseSaved() => (_x, _w) = (null, null);
    }
}
