using System.Numerics.Tensors;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>Inverted dropout: in training, <c>y = x ⊙ m</c> with independent <c>m_i = 1/(1 − p)</c> with probability
    /// 1 − p and 0 otherwise, so <c>E[y] = x</c> and evaluation needs no rescaling; in evaluation (or p = 0) y = x.</summary>
    /// <remarks>Backward: <c>dx = dy ⊙ m</c> with the same mask. The mask comes from <paramref name="rng"/>, one draw per
    /// element in row-major order, so a seeded run is reproducible. p = 1 drops everything (y = 0).</remarks>
    /// <exception cref="ArgumentOutOfRangeException">p is outside [0, 1].</exception>
    public static Tensor Dropout(Tensor x, double p, Rng rng, bool training)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(rng);
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout: p must be in [0, 1].");
        if (!training || p == 0) return x;
        Tensor mask = Tensor.Empty(x.Shape, x.DType);
        double keep = p == 1 ? 0 : 1 / (1 - p);
        if (x.DType == DType.Float32)
        {
            Span<float> m = mask.AsSpan<float>();
            for (int i = 0; i < m.Length; i++) m[i] = rng.NextDouble() < p ? 0f : (float)keep;
        }
        else
        {
            Span<double> m = mask.AsSpan<double>();
            for (int i = 0; i < m.Length; i++) m[i] = rng.NextDouble() < p ? 0 : keep;
        }
        return new DropoutFunction(mask).Apply(x);
    }

    private sealed class DropoutFunction(Tensor mask) : Function
    {
        public override string Name => "dropout";

        protected override Tensor Forward(Tensor[] inputs) => Masked(inputs[0], mask);

        protected internal override Tensor?[] Backward(Tensor dy) => [Masked(dy, mask)];

        private static Tensor Masked(Tensor values, Tensor mask)
        {
            Tensor result = Tensor.Empty(mask.Shape, mask.DType);
            if (mask.DType == DType.Float32) TensorPrimitives.Multiply(values.AsContiguousSpan<float>(), mask.AsSpan<float>(), result.AsSpan<float>());
            else TensorPrimitives.Multiply(values.AsContiguousSpan<double>(), mask.AsSpan<double>(), result.AsSpan<double>());
            return result;
        }
    }
}
