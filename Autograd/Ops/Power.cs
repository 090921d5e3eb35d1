using System.Numerics;
using System.Numerics.Tensors;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary><c>y = x^p</c> for a constant exponent p.</summary>
    /// <remarks>Backward: <c>dx = dy · p · x^(p−1)</c>. At x = 0 with p &lt; 1 the derivative is infinite (IEEE
    /// result); negative x with non-integer p gives NaN, as in the forward.</remarks>
    public static Tensor Pow(Tensor x, double p) => Unary(x, new PowKernel(p));

    /// <summary><c>y = eˣ</c>. Backward: <c>dx = dy ⊙ y</c>.</summary>
    public static Tensor Exp(Tensor x) => Unary(x, new ExpKernel());

    /// <summary>Natural logarithm <c>y = ln x</c>. Backward: <c>dx = dy / x</c> (x = 0 gives ±∞).</summary>
    public static Tensor Log(Tensor x) => Unary(x, new LogKernel());

    /// <summary><c>y = √x</c>. Backward: <c>dx = dy / (2y)</c> (infinite at x = 0).</summary>
    public static Tensor Sqrt(Tensor x) => Unary(x, new SqrtKernel());

    private readonly struct PowKernel(double p) : IUnaryKernel
    {
        public string Name => "pow";
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            if (p == 2) TensorPrimitives.Multiply(x, x, y);
            else TensorPrimitives.Pow(x, T.CreateTruncating(p), y);
        }
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T exponent = T.CreateTruncating(p), reduced = T.CreateTruncating(p - 1);
            for (int i = 0; i < dx.Length; i++)
                dx[i] = dy[i] * exponent * (p == 2 ? x[i] : T.Pow(x[i], reduced));
        }
    }

    private readonly struct ExpKernel : IUnaryKernel
    {
        public string Name => "exp";
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Exp(x, y);
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Multiply(dy, y, dx);
    }

    private readonly struct LogKernel : IUnaryKernel
    {
        public string Name => "log";
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Log(x, y);
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Divide(dy, x, dx);
    }

    private readonly struct SqrtKernel : IUnaryKernel
    {
        public string Name => "sqrt";
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Sqrt(x, y);
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T two = T.CreateTruncating(2);
            for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] / (two * y[i]);
        }
    }
}
