namespace BinaryGrad.Binarization;

/// <summary>What sign(0) returns: +1 by default, as Larq's sign and the Theano BinaryNet/BinaryConnect code; the
/// PyTorch reference codes (torch.sign) give 0.</summary>
public enum SignZero
{
    /// <summary>sign(0) = +1: Larq and the Theano BinaryNet/BinaryConnect code (default).</summary>
    PlusOne,
    /// <summary>sign(0) = 0: <c>torch.sign</c>, as in the RBNN, SiMaN, BiPer and VISPA reference code.</summary>
    Zero,
}

/// <summary>Scalar helpers shared by the schemes.</summary>
public static class BinaryMath
{
    /// <summary>sign(x) = +1 if x ≥ 0 else −1 (NaN → NaN); with <see cref="SignZero.Zero"/>, sign(0) = 0.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)] // per element in the quantizer loops
    public static double Sign(double x, SignZero zero = SignZero.PlusOne) =>
        double.IsNaN(x) ? x : x > 0 ? 1 : x < 0 ? -1 : zero == SignZero.PlusOne ? 1 : 0;

    /// <summary>Indicator of |x| ≤ c (inclusive, Larq's <c>less_equal</c>); c = +∞ means no mask.</summary>
    public static double InsideClip(double x, double c) => Math.Abs(x) <= c ? 1 : 0;

    /// <summary>The ApproxSign (Bi-Real) surrogate derivative (2 − 2|x|)·1[|x| ≤ 1], the derivative of the piecewise
    /// quadratic F(x) = x² + 2x (−1 ≤ x &lt; 0), −x² + 2x (0 ≤ x &lt; 1), ±1 outside.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static double ApproxSignDerivative(double x) => Math.Abs(x) <= 1 ? 2 - 2 * Math.Abs(x) : 0;

    /// <summary>The piecewise quadratic ApproxSign surrogate F (see <see cref="ApproxSignDerivative"/>).</summary>
    public static double ApproxSignSurrogate(double x) =>
        x < -1 ? -1 : x < 0 ? x * x + 2 * x : x < 1 ? -x * x + 2 * x : 1;

    /// <summary>Logistic σ(z) = 1/(1+e^{−z}), stable for large |z|.</summary>
    public static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    /// <summary>sign-Swish SS_β(x) = 2σ(βx)·[1 + βx·(1 − σ(βx))] − 1 (BNN+; Larq <c>swish_sign</c>): odd,
    /// sign-preserving, range ≈ [−1.1997, 1.1997], tends to sign(x) as β → ∞ for x ≠ 0.</summary>
    public static double SignSwish(double x, double beta)
    {
        double z = beta * x;
        double s = Sigmoid(z);
        return 2 * s * (1 + z * Sigmoid(-z)) - 1;
    }

    /// <summary>SS'_β(x) = β·(2 − βx·tanh(βx/2)) / (1 + cosh(βx)); 0 for |βx| &gt; 80, where cosh would overflow in
    /// float32 and the true value is below 1e-31·β.</summary>
    public static double SignSwishDerivative(double x, double beta)
    {
        double z = beta * x;
        if (Math.Abs(z) > 80) return 0;
        return beta * (2 - z * Math.Tanh(z / 2)) / (1 + Math.Cosh(z));
    }
}
