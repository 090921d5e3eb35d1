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
            int i = Simd.Path == SimdPath.Scalar ? 0 : LeakyReluBackwardVector(x, dy, dx, s);
            for (; i < dx.Length; i++) dx[i] = x[i] > T.Zero ? dy[i] : s * dy[i];
        }
    }

    /// <summary>The vector form of the leaky-ReLU backward, <c>dx = x &gt; 0 ? dy : slope·dy</c> lane by lane (the product
    /// is still formed where x ≤ 0, so relu's 0·dy keeps its sign and NaNs exactly as the scalar loop); returns how many
    /// leading elements it did (the scalar loop does the tail).</summary>
    internal static int LeakyReluBackwardVector<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx, T slope) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (!Vector.IsHardwareAccelerated || !Vector<T>.IsSupported) return 0;
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref T gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dy);
        ref T dr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dx);
        Vector<T> s = new(slope);
        int i = 0;
        for (; i <= dx.Length - Vector<T>.Count; i += Vector<T>.Count)
        {
            Vector<T> g = Vector.LoadUnsafe(ref gr, (nuint)i);
            Vector.ConditionalSelect(Vector.GreaterThan(Vector.LoadUnsafe(ref xr, (nuint)i), Vector<T>.Zero), g, s * g).StoreUnsafe(ref dr, (nuint)i);
        }
        return i;
    }

    internal readonly struct ClampKernel(string name, double min, double max) : IUnaryKernel
    {
        public string Name => name;
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T lo = T.CreateTruncating(min), hi = T.CreateTruncating(max);
            int i = Simd.Path == SimdPath.Scalar ? 0 : ClampForwardVector(x, y, lo, hi);
            for (; i < y.Length; i++) y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
        }
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T lo = T.CreateTruncating(min), hi = T.CreateTruncating(max);
            int i = Simd.Path == SimdPath.Scalar ? 0 : ClampBackwardVector(x, dy, dx, lo, hi);
            for (; i < dx.Length; i++) dx[i] = x[i] >= lo && x[i] <= hi ? dy[i] : T.Zero;
        }
    }

    /// <summary>The vector form of the clamp forward, <c>y = x &lt; lo ? lo : x &gt; hi ? hi : x</c> lane by lane (two
    /// selects, not min/max, so a NaN passes through and −0 stays −0 exactly as in the scalar loop); returns how many
    /// leading elements it did.</summary>
    internal static int ClampForwardVector<T>(ReadOnlySpan<T> x, Span<T> y, T lo, T hi) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (!Vector.IsHardwareAccelerated || !Vector<T>.IsSupported) return 0;
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref T yr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        Vector<T> low = new(lo), high = new(hi);
        int i = 0;
        for (; i <= y.Length - Vector<T>.Count; i += Vector<T>.Count)
        {
            Vector<T> v = Vector.LoadUnsafe(ref xr, (nuint)i);
            Vector.ConditionalSelect(Vector.LessThan(v, low), low, Vector.ConditionalSelect(Vector.GreaterThan(v, high), high, v)).StoreUnsafe(ref yr, (nuint)i);
        }
        return i;
    }

    /// <summary>The vector form of the clamp backward, <c>dx = lo ≤ x ≤ hi ? dy : 0</c>; returns how many leading
    /// elements it did.</summary>
    internal static int ClampBackwardVector<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx, T lo, T hi) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (!Vector.IsHardwareAccelerated || !Vector<T>.IsSupported) return 0;
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref T gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dy);
        ref T dr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dx);
        Vector<T> low = new(lo), high = new(hi);
        int i = 0;
        for (; i <= dx.Length - Vector<T>.Count; i += Vector<T>.Count)
        {
            Vector<T> v = Vector.LoadUnsafe(ref xr, (nuint)i);
            Vector<T> inside = Vector.BitwiseAnd(Vector.GreaterThanOrEqual(v, low), Vector.LessThanOrEqual(v, high));
            Vector.ConditionalSelect(inside, Vector.LoadUnsafe(ref gr, (nuint)i), Vector<T>.Zero).StoreUnsafe(ref dr, (nuint)i);
        }
        return i;
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
