namespace BinaryGrad.Binarization;

/// <summary>Which DoReFa formula to use.</summary>
public enum DoReFaMode
{
    /// <summary>q = round(clip(x, 0, 1)·n)/n.</summary>
    Activations,
    /// <summary>q = 2·round(u·n)/n − 1 with u = tanh(θ)/(2·max|tanh θ|) + ½.</summary>
    Weights,
}

/// <summary>DoReFa k-bit quantizer (Zhou et al. 2016) as Larq implements it.</summary>
/// <remarks>
/// n = 2^k − 1; round is half-to-even (TF/NumPy; <see cref="Math.Round(double)"/>), with an identity gradient.
/// Activations: q = round(clip(x, 0, 1)·n)/n, dq/dx = 1[0 ≤ x ≤ 1].
/// Weights: t = tanh θ, m = max|t| over the whole tensor (stop_gradient), u = t/(2m) + ½, q = 2·round(u·n)/n − 1,
/// dq/dθ = (1 − t²)/m (through tanh and the division). The tanh squashes outliers and dividing by max|t| uses the
/// full [−1, 1] range. If every t is 0, m is taken as 1 (Larq would divide by zero). Scalar view of the weight mode
/// uses m = 1. (For k = 1 the DoReFa paper uses mean|θ|·sign(θ) [REC]; not offered.)
/// Provenance: verified-code (larq quantizers.py DoReFa). Paper: Zhou et al. 2016, arXiv:1606.06160. See docs/schemes/straight-through.md.
/// </remarks>
public sealed class DoReFa(int bits = 2, DoReFaMode mode = DoReFaMode.Activations) : Quantizer
{
    /// <summary>Bit width k (1…16).</summary>
    public int Bits { get; } = bits is >= 1 and <= 16 ? bits : throw new ArgumentOutOfRangeException(nameof(bits), bits, "DoReFa: k must be in [1, 16].");
    /// <summary>Activation or weight formula.</summary>
    public DoReFaMode Mode { get; } = mode;
    private double Levels => (1 << Bits) - 1;

    /// <inheritdoc/>
    public override string Name => Mode == DoReFaMode.Activations ? "dorefa_activations" : "dorefa_weights";
    /// <inheritdoc/>
    public override QuantizerKind Kind => Mode == DoReFaMode.Activations ? QuantizerKind.Activation : QuantizerKind.Weight;
    /// <inheritdoc/>
    public override bool IsHardSign => false;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    /// <summary>The quantized value (weights: with m = 1).</summary>
    public override double Forward(double x) => Mode == DoReFaMode.Activations
        ? Math.Round(Math.Clamp(x, 0, 1) * Levels) / Levels
        : 2 * Math.Round((Math.Tanh(x) / 2 + 0.5) * Levels) / Levels - 1;

    /// <summary>1[0 ≤ x ≤ 1] (activations) or 1 − tanh²(x) (weights, m = 1).</summary>
    public override double Derivative(double x) => Mode == DoReFaMode.Activations
        ? (x >= 0 && x <= 1 ? 1 : 0)
        : 1 - Math.Tanh(x) * Math.Tanh(x);

    /// <summary>Activations: the scalar pair per element. Weights: tanh once per element (kept for the backward), m =
    /// max|tanh θ| (1 when every t is 0 or a NaN makes the maximum NaN), then the quantized value in float64, rounded once.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        if (Mode == DoReFaMode.Activations)
        {
            for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(Forward(Num.D(x[i])));
            return null;
        }
        double[] tanh = GC.AllocateUninitializedArray<double>(x.Length);
        double m = 0;
        for (int i = 0; i < x.Length; i++)
        {
            tanh[i] = Math.Tanh(Num.D(x[i]));
            m = Math.Max(m, Math.Abs(tanh[i]));
        }
        if (!(m > 0)) m = 1;
        for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(2 * Math.Round((tanh[i] / (2 * m) + 0.5) * Levels) / Levels - 1);
        return (tanh, m);
    }

    /// <summary>Activations: dy·1[0 ≤ x ≤ 1]; weights: dy·(1 − t²)/m.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        if (saved is not (double[] tanh, double m))
        {
            for (int i = 0; i < x.Length; i++) dx[i] = Num.R<T>(Num.D(dy[i]) * Derivative(Num.D(x[i])));
            return;
        }
        for (int i = 0; i < x.Length; i++) dx[i] = Num.R<T>(Num.D(dy[i]) * (1 - tanh[i] * tanh[i]) / m);
    }
}
