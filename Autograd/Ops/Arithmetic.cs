using System.Numerics;
using System.Numerics.Tensors;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>Element-wise sum <c>y = a + b</c> with NumPy broadcasting.</summary>
    /// <remarks>Backward: <c>da = dy</c>, <c>db = dy</c>, each summed over the axes it was broadcast along.</remarks>
    /// <exception cref="ArgumentException">The shapes cannot be broadcast or the types differ.</exception>
    public static Tensor Add(Tensor a, Tensor b) => Binary(a, b, new AddKernel());

    /// <summary>Element-wise difference <c>y = a − b</c> with broadcasting.</summary>
    /// <remarks>Backward: <c>da = dy</c>, <c>db = −dy</c> (summed over broadcast axes).</remarks>
    public static Tensor Sub(Tensor a, Tensor b) => Binary(a, b, new SubKernel());

    /// <summary>Element-wise product <c>y = a ⊙ b</c> with broadcasting.</summary>
    /// <remarks>Backward: <c>da = dy ⊙ b</c>, <c>db = dy ⊙ a</c> (summed over broadcast axes).</remarks>
    public static Tensor Mul(Tensor a, Tensor b) => Binary(a, b, new MulKernel());

    /// <summary>Element-wise quotient <c>y = a / b</c> with broadcasting.</summary>
    /// <remarks>Backward: <c>da = dy / b</c>, <c>db = −dy ⊙ a / b² = −dy ⊙ y / b</c>. Division by zero follows IEEE (±∞, NaN).</remarks>
    public static Tensor Div(Tensor a, Tensor b) => Binary(a, b, new DivKernel());

    /// <summary>Negation <c>y = −x</c>. Backward: <c>dx = −dy</c>.</summary>
    public static Tensor Neg(Tensor x) => Unary(x, new AffineKernel("neg", -1, 0));

    /// <summary><c>y = x + c</c> for a constant c. Backward: <c>dx = dy</c>.</summary>
    public static Tensor Add(Tensor x, double c) => Unary(x, new AffineKernel("add_scalar", 1, c));

    /// <summary><c>y = c·x</c> for a constant c. Backward: <c>dx = c·dy</c>.</summary>
    public static Tensor Mul(Tensor x, double c) => Unary(x, new AffineKernel("mul_scalar", c, 0));

    internal readonly struct AddKernel : IBinaryKernel
    {
        public string Name => "add";
        public void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Add(a, b, y);
        public void BackwardA<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> da) where T : unmanaged, IBinaryFloatingPointIeee754<T> => dy.CopyTo(da);
        public void BackwardB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> db) where T : unmanaged, IBinaryFloatingPointIeee754<T> => dy.CopyTo(db);
    }

    private readonly struct SubKernel : IBinaryKernel
    {
        public string Name => "sub";
        public void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Subtract(a, b, y);
        public void BackwardA<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> da) where T : unmanaged, IBinaryFloatingPointIeee754<T> => dy.CopyTo(da);
        public void BackwardB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> db) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Negate(dy, db);
    }

    private readonly struct MulKernel : IBinaryKernel
    {
        public string Name => "mul";
        public void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Multiply(a, b, y);
        public void BackwardA<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> da) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Multiply(dy, b, da);
        public void BackwardB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> db) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Multiply(dy, a, db);
    }

    private readonly struct DivKernel : IBinaryKernel
    {
        public string Name => "div";
        public void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Divide(a, b, y);
        public void BackwardA<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> da) where T : unmanaged, IBinaryFloatingPointIeee754<T> => TensorPrimitives.Divide(dy, b, da);
        public void BackwardB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> db) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            for (int i = 0; i < db.Length; i++) db[i] = -dy[i] * y[i] / b[i];
        }
    }

    /// <summary>y = scale·x + shift.</summary>
    private readonly struct AffineKernel(string name, double scale, double shift) : IUnaryKernel
    {
        public string Name => name;
        public void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T s = T.CreateTruncating(scale), c = T.CreateTruncating(shift);
            if (shift == 0) TensorPrimitives.Multiply(x, s, y);
            else if (scale == 1) TensorPrimitives.Add(x, c, y);
            else
            {
                TensorPrimitives.Multiply(x, s, y);
                TensorPrimitives.Add(y, c, y);
            }
        }
        public void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
            TensorPrimitives.Multiply(dy, T.CreateTruncating(scale), dx);
    }
}

public sealed partial class Tensor
{
    /// <summary><see cref="Ops.Add(Tensor, Tensor)"/>.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => Ops.Add(a, b);
    /// <summary><see cref="Ops.Sub(Tensor, Tensor)"/>.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => Ops.Sub(a, b);
    /// <summary><see cref="Ops.Mul(Tensor, Tensor)"/>.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => Ops.Mul(a, b);
    /// <summary><see cref="Ops.Div(Tensor, Tensor)"/>.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => Ops.Div(a, b);
    /// <summary><see cref="Ops.Neg"/>.</summary>
    public static Tensor operator -(Tensor x) => Ops.Neg(x);
    /// <summary><c>x + c</c>.</summary>
    public static Tensor operator +(Tensor x, double c) => Ops.Add(x, c);
    /// <summary><c>c + x</c>.</summary>
    public static Tensor operator +(double c, Tensor x) => Ops.Add(x, c);
    /// <summary><c>x − c</c>.</summary>
    public static Tensor operator -(Tensor x, double c) => Ops.Add(x, -c);
    /// <summary><c>c − x</c>.</summary>
    public static Tensor operator -(double c, Tensor x) => Ops.Add(Ops.Neg(x), c);
    /// <summary><c>c·x</c>.</summary>
    public static Tensor operator *(Tensor x, double c) => Ops.Mul(x, c);
    /// <summary><c>c·x</c>.</summary>
    public static Tensor operator *(double c, Tensor x) => Ops.Mul(x, c);
    /// <summary><c>x / c</c>.</summary>
    public static Tensor operator /(Tensor x, double c) => Ops.Mul(x, 1.0 / c);
}
