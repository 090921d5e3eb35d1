using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>ReActNet's RSign: sign with a learnable per-channel threshold (Liu, Shen, Savvides, Cheng, ECCV 2020).</summary>
/// <remarks>
/// Forward: y = sign(x − α_c), c = channel (axis 1 of [N, C, …]; one shared α when <c>channels</c> = 1).
/// Backward (ApproxSign surrogate A'(u) = (2 − 2|u|)·1[|u| ≤ 1]): dx = dy·A'(x − α_c),
/// dα_c = −Σ_{n,h,w} dy·A'(x − α_c). The learnable shift lets each channel choose where it splits its (not
/// necessarily zero-centred) distribution. The code stores a bias b = −α, init 0; here α itself, init 0.
/// Scalar view uses α of channel 0.
/// Provenance: verified-code (liuzechun/ReActNet reactnet.py). Paper: Liu et al. 2020, arXiv:2003.03488.
/// </remarks>
public sealed class RSign : Quantizer
{
    /// <summary>Creates RSign with <paramref name="channels"/> thresholds, initialised to 0.</summary>
    public RSign(int channels = 1, DType dtype = DType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        Threshold = new Parameter("threshold", Tensor.Zeros([channels], dtype));
    }

    /// <summary>The per-channel threshold α (shape [C]).</summary>
    public Parameter Threshold { get; }

    /// <inheritdoc/>
    public override IEnumerable<Parameter> Parameters => [Threshold];
    /// <inheritdoc/>
    public override string Name => "rsign";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Activation;
    /// <inheritdoc/>
    public override bool IsHardSign => true;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    private double Alpha0 => Threshold.Value.ToDoubleArray()[0];

    /// <summary>sign(x − α_0).</summary>
    public override double Forward(double x) => BinaryMath.Sign(x - Alpha0);

    /// <summary>A'(x − α_0).</summary>
    public override double Derivative(double x) => BinaryMath.ApproxSignDerivative(x - Alpha0);

    /// <inheritdoc/>
    protected override void Prepare(Tensor x) => Channels.CheckActivation(Name, x.Shape, Threshold.Length);

    /// <inheritdoc/>
    protected override double[] ForwardValues(QuantizerCall call)
    {
        double[] a = call.ParameterValues[0];
        double[] y = new double[call.X.Length];
        for (int i = 0; i < y.Length; i++) y[i] = BinaryMath.Sign(call.X[i] - a[Channels.ActivationChannel(call.Shape, i, a.Length)]);
        return y;
    }

    /// <inheritdoc/>
    protected override double[] BackwardValues(QuantizerCall call, double[] dy, double[][] parameterGrads)
    {
        double[] a = call.ParameterValues[0], da = parameterGrads[0];
        double[] dx = new double[dy.Length];
        for (int i = 0; i < dx.Length; i++)
        {
            int c = Channels.ActivationChannel(call.Shape, i, a.Length);
            dx[i] = dy[i] * BinaryMath.ApproxSignDerivative(call.X[i] - a[c]);
            da[c] -= dx[i];
        }
        return dx;
    }

    // Float32 path: the float64 path's arithmetic (bit-identical) on the float32 activations in place.
    private protected override bool HasFloat32ParameterPath => true;

    private protected override object? ForwardFloat32WithParameters(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, double[][] parameters, Span<float> y)
    {
        double[] a = parameters[0];
        int inner = Channels.ActivationInner(shape);
        for (int i = 0; i < x.Length; i++) y[i] = (float)BinaryMath.Sign(x[i] - a[a.Length == 1 ? 0 : i / inner % a.Length]);
        return null;
    }

    private protected override void BackwardFloat32WithParameters(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, object? saved, double[][] parameters,
        ReadOnlySpan<float> dy, Span<float> dx, double[][] parameterGrads)
    {
        double[] a = parameters[0], da = parameterGrads[0];
        int inner = Channels.ActivationInner(shape);
        for (int i = 0; i < x.Length; i++)
        {
            int c = a.Length == 1 ? 0 : i / inner % a.Length;
            double g = dy[i] * BinaryMath.ApproxSignDerivative(x[i] - a[c]);
            da[c] -= g;
            dx[i] = (float)g;
        }
    }
}
