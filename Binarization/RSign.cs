using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>ReActNet's RSign: sign with a learnable per-channel threshold (Liu, Shen, Savvides, Cheng, ECCV 2020).</summary>
/// <remarks>
/// Forward: y = sign(x − α_c), c = channel (axis 1 of [N, C, …]; one shared α when <c>channels</c> = 1).
/// Backward (ApproxSign surrogate A'(u) = (2 − 2|u|)·1[|u| ≤ 1]): dx = dy·A'(x − α_c),
/// dα_c = −Σ_{n,h,w} dy·A'(x − α_c). The learnable shift lets each channel choose where it splits its (not
/// necessarily zero-centred) distribution. The code stores a bias b = −α, init 0; here α itself, init 0.
/// Scalar view uses α of channel 0.
/// Provenance: verified-code (liuzechun/ReActNet reactnet.py). Paper: Liu et al. 2020, arXiv:2003.03488. See docs/schemes/straight-through.md.
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

    /// <summary>y = sign(x − α_c).</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        ReadOnlySpan<T> a = p[0];
        int inner = Channels.ActivationInner(shape);
        for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(BinaryMath.Sign(Num.D(x[i]) - Num.D(a[a.Length == 1 ? 0 : i / inner % a.Length])));
        return null;
    }

    /// <summary>dx = dy·A'(x − α_c); dα_c −= dx (in float64).</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        ReadOnlySpan<T> a = p[0];
        Span<double> da = p.Gradient(0);
        int inner = Channels.ActivationInner(shape);
        for (int i = 0; i < x.Length; i++)
        {
            int c = a.Length == 1 ? 0 : i / inner % a.Length;
            double g = Num.D(dy[i]) * BinaryMath.ApproxSignDerivative(Num.D(x[i]) - Num.D(a[c]));
            da[c] -= g;
            dx[i] = Num.R<T>(g);
        }
    }
}
