using System.Numerics.Tensors;
using BinaryGrad.Kernels;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>Max pooling over NCHW: <c>y[n,c,p,q] = max</c> of x over the window rows <c>p·s − pad .. p·s − pad + k − 1</c>
    /// (columns likewise; padding never wins). Stride defaults to the window size.</summary>
    /// <remarks>Backward: each dy goes to the input position that won its window (ties: the first in row-major order),
    /// <c>dx[argmax] += dy</c>; overlapping windows add up.</remarks>
    /// <exception cref="ArgumentException">x is not rank 4, or the window/stride/padding do not fit (message gives shapes).</exception>
    public static Tensor MaxPool2D(Tensor x, int kernelSize, int? stride = null, int padding = 0) =>
        new MaxPoolFunction(PoolGeometry(x, kernelSize, stride, padding, "max_pool2d")).Apply(x);

    /// <summary>Average pooling over NCHW: <c>y[n,c,p,q] = (1/k²)·Σ</c> of x over the window (padding counts as zeros,
    /// PyTorch's <c>count_include_pad=True</c>). Stride defaults to the window size.</summary>
    /// <remarks>Backward: <c>dx += dy/k²</c> over each window's positions.</remarks>
    /// <exception cref="ArgumentException">x is not rank 4, or the window/stride/padding do not fit.</exception>
    public static Tensor AvgPool2D(Tensor x, int kernelSize, int? stride = null, int padding = 0) =>
        new AvgPoolFunction(PoolGeometry(x, kernelSize, stride, padding, "avg_pool2d")).Apply(x);

    /// <summary>Global average pooling: x [N,C,H,W] → y [N,C], <c>y[n,c] = (1/HW)·Σ_{h,w} x[n,c,h,w]</c> (flattened, so a
    /// classifier Linear follows directly).</summary>
    /// <remarks>Backward: <c>dx[n,c,h,w] = dy[n,c]/HW</c>.</remarks>
    /// <exception cref="ArgumentException">x is not rank 4.</exception>
    public static Tensor GlobalAvgPool2D(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 4) throw new ArgumentException($"global_avg_pool2d: x {Shapes.Format(x.Shape)} must be [N,C,H,W].");
        return new GlobalAvgPoolFunction().Apply(x);
    }

    private static Pool2DGeometry PoolGeometry(Tensor x, int kernelSize, int? stride, int padding, string op)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 4) throw new ArgumentException($"{op}: x {Shapes.Format(x.Shape)} must be [N,C,H,W].");
        int s = stride ?? kernelSize;
        try
        {
            return new Pool2DGeometry(x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], kernelSize, kernelSize, s, s, padding, padding);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentException($"{op}: x {Shapes.Format(x.Shape)}, kernel {kernelSize}, stride {s}, padding {padding}: {e.Message}", e);
        }
    }

    private static int[] PooledShape(in Pool2DGeometry g) => [g.Batch, g.Channels, g.OutHeight, g.OutWidth];

    private sealed class MaxPoolFunction(Pool2DGeometry geometry) : Function
    {
        // The argmax indices are private to this node, so they come from the shared array pool and go back to it when
        // the backward has used them (a node that is never differentiated just lets the GC take its array).
        private int[] _argmax = [];
        private DType _dtype;
        public override string Name => "max_pool2d";
        internal override bool DropsGradOutput => true;

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor x = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
            _dtype = x.DType;
            Tensor y = Tensor.Uninitialized(PooledShape(geometry), x.DType);
            _argmax = ScratchPool<int>.ThisThread.Rent(geometry.OutputLength);
            Span<int> argmax = _argmax.AsSpan(0, geometry.OutputLength);
            if (x.DType == DType.Float32) Pool2DKernels.MaxForward(geometry, x.AsSpan<float>(), y.AsSpan<float>(), argmax);
            else Pool2DKernels.MaxForward(geometry, x.AsSpan<double>(), y.AsSpan<double>(), argmax);
            return y;
        }

        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor dx = Tensor.RentGradient([geometry.Batch, geometry.Channels, geometry.InHeight, geometry.InWidth], _dtype, clear: true);
            ReadOnlySpan<int> argmax = _argmax.AsSpan(0, geometry.OutputLength);
            if (_dtype == DType.Float32) Pool2DKernels.MaxBackward(geometry, dy.AsContiguousSpan<float>(), argmax, dx.AsSpan<float>());
            else Pool2DKernels.MaxBackward(geometry, dy.AsContiguousSpan<double>(), argmax, dx.AsSpan<double>());
            return [dx];
        }

        protected override void ReleaseSaved()
        {
            if (_argmax.Length > 0) ScratchPool<int>.ThisThread.Return(_argmax);
            _argmax = [];
        }
    }

    private sealed class AvgPoolFunction(Pool2DGeometry geometry) : Function
    {
        private DType _dtype;
        public override string Name => "avg_pool2d";

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor x = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
            _dtype = x.DType;
            Tensor y = Tensor.Empty(PooledShape(geometry), x.DType);
            if (x.DType == DType.Float32) Pool2DKernels.AverageForward(geometry, x.AsSpan<float>(), y.AsSpan<float>());
            else Pool2DKernels.AverageForward(geometry, x.AsSpan<double>(), y.AsSpan<double>());
            return y;
        }

        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor dx = Tensor.Empty([geometry.Batch, geometry.Channels, geometry.InHeight, geometry.InWidth], _dtype);
            if (_dtype == DType.Float32) Pool2DKernels.AverageBackward(geometry, dy.AsContiguousSpan<float>(), dx.AsSpan<float>());
            else Pool2DKernels.AverageBackward(geometry, dy.AsContiguousSpan<double>(), dx.AsSpan<double>());
            return [dx];
        }
    }

    private sealed class GlobalAvgPoolFunction : Function
    {
        private int[] _inputShape = [];
        private DType _dtype;
        public override string Name => "global_avg_pool2d";

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor x = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
            (_inputShape, _dtype) = (x.Shape.ToArray(), x.DType);
            Tensor y = Tensor.Empty([x.Shape[0], x.Shape[1]], x.DType);
            int plane = x.Shape[2] * x.Shape[3];
            if (x.DType == DType.Float32)
            {
                ReadOnlySpan<float> xs = x.AsSpan<float>(); Span<float> ys = y.AsSpan<float>();
                for (int i = 0; i < ys.Length; i++) ys[i] = TensorPrimitives.Sum(xs.Slice(i * plane, plane)) / plane;
            }
            else
            {
                ReadOnlySpan<double> xs = x.AsSpan<double>(); Span<double> ys = y.AsSpan<double>();
                for (int i = 0; i < ys.Length; i++) ys[i] = TensorPrimitives.Sum(xs.Slice(i * plane, plane)) / plane;
            }
            return y;
        }

        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor dx = Tensor.Empty(_inputShape, _dtype);
            int plane = _inputShape[2] * _inputShape[3];
            if (_dtype == DType.Float32)
            {
                ReadOnlySpan<float> g = dy.AsContiguousSpan<float>(); Span<float> d = dx.AsSpan<float>();
                for (int i = 0; i < g.Length; i++) d.Slice(i * plane, plane).Fill(g[i] / plane);
            }
            else
            {
                ReadOnlySpan<double> g = dy.AsContiguousSpan<double>(); Span<double> d = dx.AsSpan<double>();
                for (int i = 0; i < g.Length; i++) d.Slice(i * plane, plane).Fill(g[i] / plane);
            }
            return [dx];
        }
    }
}
