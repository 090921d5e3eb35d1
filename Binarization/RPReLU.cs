using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>ReActNet's RPReLU: a PReLU with learnable per-channel input and output shifts.</summary>
/// <remarks>
/// Forward: u = x − γ_c, y = (u if u &gt; 0 else β_c·u) + ζ_c. Exact backward: dx = dy·(1 if u &gt; 0 else β_c),
/// dγ_c = −Σ dx, dζ_c = Σ dy, dβ_c = Σ dy·(u if u ≤ 0 else 0). Init γ = ζ = 0, β = 0.25 (torch PReLU).
/// Not a quantizer but part of the ReActNet scheme (it reshapes the distribution fed to the next RSign); it is a
/// <see cref="Quantizer"/> so it shares Apply/Parameters and is gradient-checked. Scalar view uses channel 0.
/// Provenance: verified-code (liuzechun/ReActNet reactnet.py). Paper: Liu et al. 2020, arXiv:2003.03488. See docs/schemes/straight-through.md.
/// </remarks>
public sealed class RPReLU : Quantizer
{
    /// <summary>Creates RPReLU with <paramref name="channels"/> channels.</summary>
    public RPReLU(int channels = 1, DType dtype = DType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        Shift = new Parameter("gamma", Tensor.Zeros([channels], dtype));
        Slope = new Parameter("beta", Tensor.Full([channels], 0.25, dtype));
        Bias = new Parameter("zeta", Tensor.Zeros([channels], dtype));
    }

    /// <summary>Input shift γ.</summary>
    public Parameter Shift { get; }
    /// <summary>Negative slope β.</summary>
    public Parameter Slope { get; }
    /// <summary>Output shift ζ.</summary>
    public Parameter Bias { get; }

    /// <inheritdoc/>
    public override IEnumerable<Parameter> Parameters => [Shift, Slope, Bias];
    /// <inheritdoc/>
    public override string Name => "rprelu";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Activation;
    /// <inheritdoc/>
    public override bool IsHardSign => false;
    /// <inheritdoc/>
    public override bool IsSmooth => true;

    /// <summary>RPReLU with channel-0 parameters.</summary>
    public override double Forward(double x)
    {
        double u = x - Shift.Value.ToDoubleArray()[0];
        return (u > 0 ? u : Slope.Value.ToDoubleArray()[0] * u) + Bias.Value.ToDoubleArray()[0];
    }

    /// <summary>1 if x &gt; γ_0 else β_0.</summary>
    public override double Derivative(double x) => x - Shift.Value.ToDoubleArray()[0] > 0 ? 1 : Slope.Value.ToDoubleArray()[0];

    /// <inheritdoc/>
    protected override void Prepare(Tensor x) => Channels.CheckActivation(Name, x.Shape, Shift.Length);

    /// <summary>u = x − γ_c, y = (u if u &gt; 0 else β_c·u) + ζ_c.</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        ReadOnlySpan<T> g = p[0], b = p[1], z = p[2];
        int inner = Channels.ActivationInner(shape);
        for (int i = 0; i < x.Length; i++)
        {
            int c = g.Length == 1 ? 0 : i / inner % g.Length;
            double u = Num.D(x[i]) - Num.D(g[c]);
            y[i] = Num.R<T>((u > 0 ? u : Num.D(b[c]) * u) + Num.D(z[c]));
        }
        return null;
    }

    /// <summary>The exact backward; parameter sums in float64.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        ReadOnlySpan<T> g = p[0], b = p[1];
        Span<double> dg = p.Gradient(0), db = p.Gradient(1), dz = p.Gradient(2);
        int inner = Channels.ActivationInner(shape);
        for (int i = 0; i < x.Length; i++)
        {
            int c = g.Length == 1 ? 0 : i / inner % g.Length;
            double gi = Num.D(dy[i]), u = Num.D(x[i]) - Num.D(g[c]), d = gi * (u > 0 ? 1 : Num.D(b[c]));
            dx[i] = Num.R<T>(d);
            dg[c] -= d;
            dz[c] += gi;
            if (u <= 0) db[c] += gi * u;
        }
    }
}
