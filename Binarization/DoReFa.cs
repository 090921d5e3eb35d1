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
/// Provenance: verified-code (larq quantizers.py DoReFa). Paper: Zhou et al. 2016, arXiv:1606.06160.
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

    private static double MaxAbsTanh(double[] x)
    {
        double m = 0;
        foreach (double v in x) m = Math.Max(m, Math.Abs(Math.Tanh(v)));
        return m > 0 ? m : 1;
    }

    /// <inheritdoc/>
    protected override double[] ForwardValues(QuantizerCall call)
    {
        if (Mode == DoReFaMode.Activations) return base.ForwardValues(call);
        double m = MaxAbsTanh(call.X);
        call.Saved = m;
        double[] y = new double[call.X.Length];
        for (int i = 0; i < y.Length; i++) y[i] = 2 * Math.Round((Math.Tanh(call.X[i]) / (2 * m) + 0.5) * Levels) / Levels - 1;
        return y;
    }

    /// <inheritdoc/>
    protected override double[] BackwardValues(QuantizerCall call, double[] dy, double[][] parameterGrads)
    {
        if (Mode == DoReFaMode.Activations) return base.BackwardValues(call, dy, parameterGrads);
        double m = (double)call.Saved!;
        double[] dx = new double[dy.Length];
        for (int i = 0; i < dx.Length; i++)
        {
            double t = Math.Tanh(call.X[i]);
            dx[i] = dy[i] * (1 - t * t) / m;
        }
        return dx;
    }

    // Float32 path: the same float64 formulas per element (bit-identical to the float64 path) without the float64
    // copies; the weight mode computes tanh once per element and keeps it for the backward.
    private protected override bool HasFloat32Path => true;

    private protected override object? ForwardFloat32(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, Span<float> y)
    {
        if (Mode == DoReFaMode.Activations)
        {
            for (int i = 0; i < x.Length; i++) y[i] = (float)Forward(x[i]);
            return null;
        }
        double[] tanh = GC.AllocateUninitializedArray<double>(x.Length);
        double m = 0;
        for (int i = 0; i < x.Length; i++)
        {
            tanh[i] = Math.Tanh(x[i]);
            m = Math.Max(m, Math.Abs(tanh[i]));
        }
        if (!(m > 0)) m = 1; // as MaxAbsTanh: all-zero weights, or a NaN (Math.Max propagates it), give m = 1
        for (int i = 0; i < x.Length; i++) y[i] = (float)(2 * Math.Round((tanh[i] / (2 * m) + 0.5) * Levels) / Levels - 1);
        return (tanh, m);
    }

    private protected override void BackwardFloat32(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, object? saved, ReadOnlySpan<float> dy, Span<float> dx)
    {
        if (saved is not (double[] tanh, double m))
        {
            for (int i = 0; i < x.Length; i++) dx[i] = (float)(dy[i] * Derivative(x[i]));
            return;
        }
        for (int i = 0; i < x.Length; i++) dx[i] = (float)(dy[i] * (1 - tanh[i] * tanh[i]) / m);
    }
}
