using System.Numerics;
using System.Numerics.Tensors;
using BinaryGrad.Kernels;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary><c>y = max(x, 0)</c>.</summary>
    /// <remarks>Backward: <c>dx = dy · [x &gt; 0]</c>. Convention at the kink: the derivative at x = 0 is 0 (as in PyTorch).</remarks>
    public static Tensor Relu(Tensor x) => Unary(x, new LeakyReluKernel("relu", 0));

    /// <summary><c>y = x</c> for x &gt; 0, else <c>slope·x</c>.</summary>
    /// <remarks>Backward: <c>dx = dy</c> where x &gt; 0, else <c>slope·dy</c> (so at x = 0 the derivative is slope).</remarks>
    public static Tensor LeakyRelu(Tensor x, double slope = 0.01) => Unary(x, new LeakyReluKernel("leaky_relu", slope));

    /// <summary><c>y = clamp(x, min, max)</c>, by default to [−1, 1].</summary>
    /// <remarks>Backward: <c>dx = dy · [min ≤ x ≤ max]</c>. Convention: the boundaries belong to the pass-through
    /// region (derivative 1 at |x| = 1), the same convention as the clipped straight-through estimator of
    /// BNN (Hubara et al. 2016: 1 where |x| ≤ 1).</remarks>
    public static Tensor HardTanh(Tensor x, double min = -1, double max = 1) => Unary(x, new ClampKernel("hardtanh", min, max));

    /// <summary><c>y = tanh x</c>. Backward: <c>dx = dy ⊙ (1 − y²)</c>.</summary>
    public static Tensor Tanh(Tensor x) => Unary(x, new TanhKernel());

    /// <summary><c>y = σ(x) = 1 / (1 + e⁻ˣ)</c>. Backward: <c>dx = dy ⊙ y ⊙ (1 − y)</c>.</summary>
    public static Tensor Sigmoid(Tensor x) => Unary(x, new SigmoidKernel());

    /// <summary><c>y = ln(1 + e^(βx)) / β</c>, computed as <c>max(x,0) + ln(1 + e^(−β|x|))/β</c> so it never overflows.</summary>
    /// <remarks>Backward: <c>dx = dy ⊙ σ(βx)</c>.</remarks>
    public static Tensor Softplus(Tensor x, double beta = 1) => Unary(x, new SoftplusKernel(beta));

    private readonly struct LeakyReluKernel(string name, double slope) : IUnaryKernel
    {
        public string Name => name;
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            if (slope == 0) { TensorPrimitives.Max(x, T.Zero, y); return; }
            T s = T.CreateTruncating(slope);
            for (int i = 0; i < y.Length; i++) y[i] = x[i] > T.Zero ? x[i] : s * x[i];
        }
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T s = T.CreateTruncating(slope);
            int i = ActivationKernels.LeakyReluBackward(x, dy, dx, s);
            for (; i < dx.Length; i++) dx[i] = x[i] > T.Zero ? dy[i] : s * dy[i];
        }
    }

    internal readonly struct ClampKernel(string name, double min, double max) : IUnaryKernel
    {
        public string Name => name;
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T lo = T.CreateTruncating(min), hi = T.CreateTruncating(max);
            int i = ActivationKernels.ClampForward(x, y, lo, hi);
            for (; i < y.Length; i++) y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
        }
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T lo = T.CreateTruncating(min), hi = T.CreateTruncating(max);
            int i = ActivationKernels.ClampBackward(x, dy, dx, lo, hi);
            for (; i < dx.Length; i++) dx[i] = x[i] >= lo && x[i] <= hi ? dy[i] : T.Zero;
        }
    }

    private readonly struct TanhKernel : IUnaryKernel
    {
        public string Name => "tanh";
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Tanh(x, y);
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] * (T.One - y[i] * y[i]);
        }
    }

    private readonly struct SigmoidKernel : IUnaryKernel
    {
        public string Name => "sigmoid";
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Sigmoid(x, y);
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] * y[i] * (T.One - y[i]);
        }
    }

    private readonly struct SoftplusKernel(double beta) : IUnaryKernel
    {
        public string Name => "softplus";
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T b = T.CreateTruncating(beta);
            for (int i = 0; i < y.Length; i++)
                y[i] = T.Max(x[i], T.Zero) + T.LogP1(T.Exp(-b * T.Abs(x[i]))) / b;
        }
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T b = T.CreateTruncating(beta);
            for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] / (T.One + T.Exp(-b * x[i]));
        }
    }
}
