namespace BinaryGrad.Binarization;

/// <summary>A user-defined elementwise scheme from two functions: the forward q(x) the network sees and the backward
/// factor s(x), so that dx = dy · s(x). The quickest way to try a new estimator without subclassing
/// <see cref="Quantizer"/>; register it with <see cref="SchemeRegistry.Register"/> to train with it by name, and test
/// it with <see cref="EstimatorCheck"/>.</summary>
/// <remarks>
/// <para>Declare <paramref name="isHardSign"/> only when q(x) ∈ {−1, +1} for every x: the binary layers then pack the
/// forward to bits and run the XNOR-popcount kernels. The declaration is verified on every forward — a value other than
/// ±1 throws instead of silently giving wrong bit-kernel results.</para>
/// <para>Declare <paramref name="isSmooth"/> only when s is the exact derivative of q; the gradient checks then
/// compare it with finite differences. Otherwise the backward is treated (and drawn in graphs) as an estimator.</para>
/// <para>It runs the elementwise loops of <see cref="ElementwiseQuantizer"/> (two delegate calls per element, each value
/// in float64 and rounded once), which is fine for experiments; a scheme that earns a place in the registry gets a
/// float32 kernel.</para>
/// </remarks>
/// <param name="name">Op name shown in graphs and errors.</param>
/// <param name="forward">q(x).</param>
/// <param name="surrogate">s(x), the backward factor.</param>
/// <param name="kind">Activations, weights or both.</param>
/// <param name="isHardSign">q(x) is exactly ±1 for every x.</param>
/// <param name="isSmooth">s is the exact derivative of q.</param>
public sealed class FunctionQuantizer(string name, Func<double, double> forward, Func<double, double> surrogate,
    QuantizerKind kind = QuantizerKind.Both, bool isHardSign = false, bool isSmooth = false) : ElementwiseQuantizer
{
    private readonly Func<double, double> _forward = forward ?? throw new ArgumentNullException(nameof(forward));
    private readonly Func<double, double> _surrogate = surrogate ?? throw new ArgumentNullException(nameof(surrogate));

    /// <inheritdoc/>
    public override string Name { get; } = string.IsNullOrWhiteSpace(name) ? throw new ArgumentException("A scheme needs a name.", nameof(name)) : name;

    /// <inheritdoc/>
    public override QuantizerKind Kind { get; } = kind;

    /// <inheritdoc/>
    public override bool IsHardSign { get; } = isHardSign;

    /// <inheritdoc/>
    public override bool IsSmooth { get; } = isSmooth;

    /// <inheritdoc/>
    public override double Forward(double x) => _forward(x);

    /// <inheritdoc/>
    public override double Derivative(double x) => _surrogate(x);

    /// <summary>The elementwise forward; with <c>isHardSign</c> it checks every float64 value before rounding.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double xi = Num.D(x[i]), yi = _forward(xi);
            if (IsHardSign && yi is not (1.0 or -1.0) && !double.IsNaN(xi))
                throw new InvalidOperationException($"Scheme '{Name}' is declared hard-sign but its forward gave q({xi}) = {yi}, not ±1. Fix the forward or declare isHardSign: false.");
            y[i] = Num.R<T>(yi);
        }
        return null;
    }
}
