using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>ReActNet's RPReLU: a PReLU with learnable per-channel input and output shifts.</summary>
/// <remarks>
/// Forward: u = x − γ_c, y = (u if u &gt; 0 else β_c·u) + ζ_c. Exact backward: dx = dy·(1 if u &gt; 0 else β_c),
/// dγ_c = −Σ dx, dζ_c = Σ dy, dβ_c = Σ dy·(u if u ≤ 0 else 0). Init γ = ζ = 0, β = 0.25 (torch PReLU).
/// Not a quantizer but part of the ReActNet scheme (it reshapes the distribution fed to the next RSign); it is a
/// <see cref="Quantizer"/> so it shares Apply/Parameters and is gradient-checked. Scalar view uses channel 0.
/// Provenance: verified-code (liuzechun/ReActNet reactnet.py). Paper: Liu et al. 2020, arXiv:2003.03488.
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

    /// <inheritdoc/>
    protected override double[] ForwardValues(QuantizerCall call)
    {
        double[] g = call.ParameterValues[0], b = call.ParameterValues[1], z = call.ParameterValues[2];
        double[] y = new double[call.X.Length];
        for (int i = 0; i < y.Length; i++)
        {
            int c = Channels.ActivationChannel(call.Shape, i, g.Length);
            double u = call.X[i] - g[c];
            y[i] = (u > 0 ? u : b[c] * u) + z[c];
        }
        return y;
    }

    /// <inheritdoc/>
    protected override double[] BackwardValues(QuantizerCall call, double[] dy, double[][] parameterGrads)
    {
        double[] g = call.ParameterValues[0], b = call.ParameterValues[1];
        double[] dg = parameterGrads[0], db = parameterGrads[1], dz = parameterGrads[2];
        double[] dx = new double[dy.Length];
        for (int i = 0; i < dx.Length; i++)
        {
            int c = Channels.ActivationChannel(call.Shape, i, g.Length);
            double u = call.X[i] - g[c];
            dx[i] = dy[i] * (u > 0 ? 1 : b[c]);
            dg[c] -= dx[i];
            dz[c] += dy[i];
            if (u <= 0) db[c] += dy[i] * u;
        }
        return dx;
    }

    // Float32 path: the float64 path's arithmetic (bit-identical) on the float32 activations in place.
    private protected override bool HasFloat32ParameterPath => true;

    private protected override object? ForwardFloat32WithParameters(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, double[][] parameters, Span<float> y)
    {
        double[] g = parameters[0], b = parameters[1], z = parameters[2];
        int inner = Channels.ActivationInner(shape);
        for (int i = 0; i < x.Length; i++)
        {
            int c = g.Length == 1 ? 0 : i / inner % g.Length;
            double u = x[i] - g[c];
            y[i] = (float)((u > 0 ? u : b[c] * u) + z[c]);
        }
        return null;
    }

    private protected override void BackwardFloat32WithParameters(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, object? saved, double[][] parameters,
        ReadOnlySpan<float> dy, Span<float> dx, double[][] parameterGrads)
    {
        double[] g = parameters[0], b = parameters[1];
        double[] dg = parameterGrads[0], db = parameterGrads[1], dz = parameterGrads[2];
        int inner = Channels.ActivationInner(shape);
        for (int i = 0; i < x.Length; i++)
        {
            int c = g.Length == 1 ? 0 : i / inner % g.Length;
            double u = x[i] - g[c], d = dy[i] * (u > 0 ? 1 : b[c]);
            dx[i] = (float)d;
            dg[c] -= d;
            dz[c] += dy[i];
            if (u <= 0) db[c] += dy[i] * u;
        }
    }
}
