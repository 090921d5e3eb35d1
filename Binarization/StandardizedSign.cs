namespace BinaryGrad.Binarization;

/// <summary>Activation sign after per-sample standardisation, with the ApproxSign surrogate (SiMaN, BiPer).</summary>
/// <remarks>
/// Training forward: per sample (axis 0; all other axes form the group of n elements) a0 = (a − c·mean(a))/sqrt(Var(a) + 1e-5)
/// (Var unbiased; c = 1 for SiMaN, c = 0 for BiPer), y = sign(a0). The positive scale never changes the sign, and with
/// c = 0 neither does anything else, so the forward equals sign(a) (BiPer skips the normalisation at test time; SiMaN
/// keeps it, so its test-time output is sign(a − mean)). Backward: the surrogate dz = dy·(2 − 2|a0|)₊ followed by the
/// exact derivative of the standardisation (the reference code lets autograd differentiate it), i.e. dx is the exact
/// gradient of Σ dy·F(a0(a)) with F the ApproxSign quadratic. Effect: the surrogate window adapts to each sample's spread.
/// Scalar view: a single already-standardised value — Forward = sign, Derivative = ApproxSign'.
/// Provenance: verified-code (lmbxmu/SiMaN and edmav4/BiPer binarized_modules.py). Papers: Vargas et al. 2024, arXiv:2404.01278; Lin et al. 2022, arXiv:2102.07981. See docs/schemes/straight-through.md.
/// </remarks>
public sealed class StandardizedSign(bool center) : Quantizer
{
    /// <summary>Subtract the per-sample mean (SiMaN) or only divide by the standard deviation (BiPer).</summary>
    public bool Center { get; } = center;

    /// <inheritdoc/>
    public override string Name => Center ? "standardized_sign" : "scaled_approx_sign";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Activation;
    /// <inheritdoc/>
    public override bool IsHardSign => true;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    /// <summary>sign(x).</summary>
    public override double Forward(double x) => BinaryMath.Sign(x);

    /// <summary>(2 − 2|x|)·1[|x| ≤ 1].</summary>
    public override double Derivative(double x) => BinaryMath.ApproxSignDerivative(x);

    private sealed record Saved(double[] Z, (double, double)[] Stats);

    /// <summary>y = sign(z); z stays float64 for the backward, which needs it exactly.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        if (!(Training || Center))
        {
            for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(BinaryMath.Sign(Num.D(x[i])));
            return null;
        }
        int groups = shape.Length >= 2 && shape[0] > 0 ? shape[0] : 1;
        double[] z = GC.AllocateUninitializedArray<double>(x.Length);
        var stats = Standardization.Forward(x, groups, Center, 1e-5, z);
        for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(BinaryMath.Sign(z[i]));
        return new Saved(z, stats);
    }

    /// <summary>The surrogate on z, then the exact standardisation backward (the scalar pair when not standardised).</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        if (saved is not Saved s)
        {
            for (int i = 0; i < x.Length; i++) dx[i] = Num.R<T>(Num.D(dy[i]) * BinaryMath.ApproxSignDerivative(Num.D(x[i])));
            return;
        }
        double[] dz = GC.AllocateUninitializedArray<double>(x.Length);
        for (int i = 0; i < dz.Length; i++) dz[i] = Num.D(dy[i]) * BinaryMath.ApproxSignDerivative(s.Z[i]);
        Standardization.Backward(x, s.Z, s.Stats, Center, dz, dx);
    }
}
