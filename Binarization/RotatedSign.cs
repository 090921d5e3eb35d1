using System.Numerics;
using System.Runtime.CompilerServices;
using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>RBNN weight binarization with learned bi-rotation (Lin et al., NeurIPS 2020, arXiv 2009.13055).</summary>
/// <remarks>
/// <para>Per layer, n_in = C·kH·kW = a·b (a = largest divisor ≤ √n_in, <see cref="Factor"/>); orthogonal R1 (a×a), R2 (b×b),
/// random orthogonal at the first call (seeded); learnable angle φ_o per output channel.
/// Forward: w2 = (θ − mean_o)/std_o (unbiased std; ε = 1e-12 under the root only guards constant filters);
/// X_o = w2_o reshaped a×b. When the rotation is updated (every forward of an epoch with epoch % k == 0, train and eval, as
/// the reference code does), 3 alternating iterations without gradient: B_o = sign(R1ᵀX_oR2);
/// R1 ← V1U1ᵀ with U1S1V1ᵀ = svd(Σ_o B_oR2ᵀX_oᵀ); R2 ← U2V2ᵀ with U2S2V2ᵀ = svd(Σ_o X_oᵀR1B_o) — coordinate ascent on
/// Σ_o tr(B_oᵀR1ᵀX_oR2), i.e. rotating each filter toward the nearest binary vertex so that the angular bias between
/// latent and binary weights shrinks. Then Rw_o = R1ᵀX_oR2, w3 = w2 + |sin φ_o|·(detach(Rw) − w2), w_b = sign(w3).</para>
/// <para>Backward: dw3 = dw_b·k(√2t − t²|w3|)₊ (the <see cref="RbnnSign"/> weight surrogate and epoch schedule);
/// dφ_o = Σ dw3·sign(sin φ_o)·cos φ_o·(Rw − w2); dw2 = dw3·(1 − |sin φ_o|); then the exact standardisation backward.</para>
/// <para>φ is initialised to π/2 (the paper's text) or, with <c>randomAngle</c> (the registry's default, as the
/// stored reference commit draws it), φ ~ U(0, π/2). π/2 is a saddle of the backward above — both (1 − |sin φ|) and
/// cos φ vanish, so θ and φ receive no gradient and the network cannot learn its weights. The per-channel α on the conv output belongs to the layer. Cost: O(O·a·b·(a + b)) per iteration
/// plus two SVDs, every forward. Scalar view: Forward = sign, Derivative = the surrogate factor at the current t.</para>
/// Provenance: verified-code (lmbxmu/RBNN cifar/modules/binarized_modules.py). Paper: Lin et al. 2020, arXiv:2009.13055. See docs/schemes/rotation.md.
/// </remarks>
public sealed class RotatedSign : Quantizer
{
    private readonly Rng _rng;
    private readonly RbnnSign _surrogate;
    private double[,]? _r1, _r2;
    // the products run in the angle's dtype (float32 for the layers' float32 parameters), chosen by DTypeDispatch
    private readonly RotationProducts<float> _single = new();
    private readonly RotationProducts<double> _double = new();
    private int _epoch;

    /// <summary>Creates the op for <paramref name="channels"/> output channels (1 = one shared angle).</summary>
    /// <param name="channels">Output channels O.</param>
    /// <param name="seed">Seed of the initial random rotations (and the random angle option).</param>
    /// <param name="rotationUpdate">Update the rotation in epochs with epoch % k == 0 (reference default 1 = always).</param>
    /// <param name="tMin">T_min of the surrogate schedule.</param>
    /// <param name="tMax">T_max of the surrogate schedule.</param>
    /// <param name="randomAngle">φ ~ U(0, π/2) instead of π/2.</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <param name="rotationSteps">Within an update epoch, update on every s-th forward only (1 = every forward, the
    /// reference). Not from the source: a cost knob, since the update is ~17 small matrix products per filter.</param>
    public RotatedSign(int channels = 1, ulong seed = 1, int rotationUpdate = 1, double tMin = 1e-2, double tMax = 10,
        bool randomAngle = false, DType dtype = DType.Float32, int rotationSteps = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rotationUpdate, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rotationSteps, 1);
        RotationSteps = rotationSteps;
        _rng = new Rng(seed);
        _surrogate = new RbnnSign(false, tMin, tMax);
        RotationUpdate = rotationUpdate;
        double[] phi = [.. Enumerable.Range(0, channels).Select(_ => randomAngle ? _rng.Uniform(0, Math.PI / 2) : Math.PI / 2)];
        Angle = new Parameter("rotate", Tensor.FromValues(phi, [channels], dtype));
    }

    /// <summary>The per-channel rotation angle φ.</summary>
    public Parameter Angle { get; }

    /// <summary>Epoch period k of the rotation update.</summary>
    public int RotationUpdate { get; }

    /// <summary>Forward period s of the rotation update inside an update epoch (1 = every forward, the reference).</summary>
    public int RotationSteps { get; }

    private long _updateForwards;

    /// <summary>Set false to freeze R1, R2 (e.g. for a deterministic check); the reference always updates.</summary>
    public bool UpdateRotation { get; set; } = true;

    /// <summary>Copy of R1 (null before the first call).</summary>
    public double[,]? LeftRotation => (double[,]?)_r1?.Clone();

    /// <summary>Copy of R2 (null before the first call).</summary>
    public double[,]? RightRotation => (double[,]?)_r2?.Clone();

    /// <summary>The surrogate's current t and k.</summary>
    public (double T, double K) Surrogate => (_surrogate.EffectiveT, _surrogate.K);

    /// <inheritdoc/>
    public override IEnumerable<Parameter> Parameters => [Angle];
    /// <inheritdoc/>
    public override string Name => "rotated_sign";
    /// <inheritdoc/>
    public override QuantizerKind Kind => QuantizerKind.Weight;
    /// <inheritdoc/>
    public override bool IsHardSign => true;
    /// <inheritdoc/>
    public override bool IsSmooth => false;

    /// <inheritdoc/>
    public override void OnProgress(TrainingProgress progress)
    {
        _surrogate.OnProgress(progress);
        _epoch = progress.Epoch;
    }

    /// <summary>sign(x).</summary>
    public override double Forward(double x) => BinaryMath.Sign(x);

    /// <summary>k(√2t − t²|x|)₊ at the current schedule.</summary>
    public override double Derivative(double x) => _surrogate.Derivative(x);

    /// <summary>n = a·b with a the largest divisor of n not above √n.</summary>
    public static (int A, int B) Factor(int n)
    {
        for (int a = (int)Math.Sqrt(n); a > 1; a--)
            if (n % a == 0) return (a, n / a);
        return (1, n);
    }

    /// <inheritdoc/>
    protected override void Prepare(Tensor x)
    {
        (int channels, int n) = Channels.Weight(x.Shape.ToArray(), x.Length);
        if (Angle.Length != 1 && Angle.Length != channels)
            throw new ArgumentException($"{Name}: has {Angle.Length} angles but the weight has {channels} output channels.");
        (int a, int b) = Factor(n);
        if (_r1 is null || _r1.GetLength(0) != a || _r2!.GetLength(0) != b)
        {
            _r1 = Orthogonal.Random(a, _rng);
            _r2 = Orthogonal.Random(b, _rng);
        }
    }

    private static double[,] Block(double[] w, int o, int a, int b)
    {
        var m = new double[a, b];
        for (int i = 0; i < a; i++)
            for (int j = 0; j < b; j++) m[i, j] = w[o * a * b + i * b + j];
        return m;
    }

    /// <summary>Scalar float64 reference of the rotation update (one small product per filter); the batched form is
    /// <see cref="RotationProducts{T}.Update"/>. Kept for the tests that check the batched GEMM form against it.</summary>
    internal static (double[,] R1, double[,] R2) UpdateRotationsReference(double[] w2, int channels, double[,] r1, double[,] r2)
    {
        int a = r1.GetLength(0), b = r2.GetLength(0);
        double[][,] xs = [.. Enumerable.Range(0, channels).Select(o => Block(w2, o, a, b))];
        for (int iteration = 0; iteration < 3; iteration++)
        {
            var bs = new double[xs.Length][,];
            var d1 = new double[a, a];
            for (int o = 0; o < xs.Length; o++)
            {
                double[,] y = Orthogonal.Multiply(xs[o], r2);                  // X R2
                double[,] v = Orthogonal.Multiply(r1, y, transposeA: true);     // R1ᵀ X R2
                var sign = new double[a, b];
                for (int i = 0; i < a; i++)
                    for (int j = 0; j < b; j++) sign[i, j] = Math.Sign(v[i, j]);   // torch.sign: 0 at 0
                bs[o] = sign;
                Accumulate(d1, Orthogonal.Multiply(sign, y, transposeB: true)); // B (X R2)ᵀ = B R2ᵀ Xᵀ
            }
            (double[,] u1, _, double[,] v1) = Orthogonal.Svd(d1);
            r1 = Orthogonal.Multiply(v1, u1, transposeB: true);
            var d2 = new double[b, b];
            for (int o = 0; o < xs.Length; o++)
                Accumulate(d2, Orthogonal.Multiply(xs[o], Orthogonal.Multiply(r1, bs[o]), transposeA: true));
            (double[,] u2, _, double[,] v2) = Orthogonal.Svd(d2);
            r2 = Orthogonal.Multiply(u2, v2, transposeB: true);
        }
        return (r1, r2);
    }

    /// <summary>Scalar float64 reference of Rw_o = R1ᵀ·X_o·R2 for every filter (flattened, filter-major).</summary>
    internal static double[] RotateReference(double[] w2, int channels, double[,] r1, double[,] r2)
    {
        int a = r1.GetLength(0), b = r2.GetLength(0);
        double[] rw = new double[w2.Length];
        for (int o = 0; o < channels; o++)
        {
            double[,] r = Orthogonal.Multiply(r1, Orthogonal.Multiply(Block(w2, o, a, b), r2), transposeA: true);
            for (int i = 0; i < a; i++)
                for (int j = 0; j < b; j++) rw[o * a * b + i * b + j] = r[i, j];
        }
        return rw;
    }

    private static void Accumulate(double[,] into, double[,] add)
    {
        for (int i = 0; i < into.GetLength(0); i++)
            for (int j = 0; j < into.GetLength(1); j++) into[i, j] += add[i, j];
    }

    private sealed record Saved(double[] W2, (double, double)[] Stats, double[] Rw, double[] W3);

    /// <summary>w2 = standardised θ (float64), the rotation update, Rw = R1ᵀX R2, w3 = w2 + |sin φ|·(Rw − w2), sign(w3).</summary>
    protected override object? Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, QuantizerParameters<T> p, Span<T> y)
    {
        ReadOnlySpan<T> phi = p[0];
        (int channels, int n) = Channels.Weight(shape, x.Length);
        double[] w2 = new double[x.Length];
        var stats = Standardization.Forward(x, channels, center: true, 1e-12, w2);
        double[] rw = new double[x.Length], w3 = new double[x.Length];
        bool update = UpdateRotation && _epoch % RotationUpdate == 0 && _updateForwards++ % RotationSteps == 0;
        DTypeDispatch.Run(Angle.Value.DType, new Rotation(this, w2, channels, update, rw));
        for (int o = 0; o < channels; o++)
        {
            double s = Math.Abs(Math.Sin(Num.D(phi[phi.Length == 1 ? 0 : o])));
            for (int k = o * n; k < (o + 1) * n; k++)
            {
                w3[k] = w2[k] + s * (rw[k] - w2[k]);
                y[k] = Num.R<T>(BinaryMath.Sign(w3[k]));
            }
        }
        return new Saved(w2, stats, rw, w3);
    }

    /// <summary>The rotation update (when due) and Rw in the products' element type P (the angle's dtype).</summary>
    private readonly struct Rotation(RotatedSign q, double[] w2, int channels, bool update, double[] rw) : IDTypeAction
    {
        public void Run<P>() where P : unmanaged, IBinaryFloatingPointIeee754<P>
        {
            RotationProducts<P> products = typeof(P) == typeof(float) ? Unsafe.As<RotationProducts<P>>(q._single) : Unsafe.As<RotationProducts<P>>(q._double);
            if (update) products.Update(w2, channels, ref q._r1!, ref q._r2!);
            products.Rotate(w2, channels, q._r1!, q._r2!, rw);
        }
    }

    /// <summary>dw3 = dy·k(√2t − t²|w3|)₊; dφ_c += Σ dw3·sign(sin φ)·cos φ·(Rw − w2); dw2 = dw3·(1 − |sin φ|); then the
    /// exact standardisation backward.</summary>
    protected override void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, object? saved, QuantizerParameters<T> p, ReadOnlySpan<T> dy, Span<T> dx)
    {
        var s = (Saved)saved!;
        ReadOnlySpan<T> phi = p[0];
        Span<double> dphi = p.Gradient(0);
        (_, int n) = Channels.Weight(shape, dy.Length);
        (double t, double k) = Surrogate;
        double[] dw2 = new double[dy.Length];
        // sin φ_c and cos φ_c once per channel (the same values the per-element form computed)
        for (int start = 0, channel = 0; start < dy.Length; start += n, channel++)
        {
            int c = phi.Length == 1 ? 0 : channel;
            double angle = Num.D(phi[c]), sin = Math.Sin(angle), cos = Math.Cos(angle), keep = 1 - Math.Abs(sin);
            double angleFactor = Math.Sign(sin) * cos;
            for (int i = start; i < start + n; i++)
            {
                double dw3 = Num.D(dy[i]) * RbnnSign.Surrogate(s.W3[i], k, t);
                dphi[c] += dw3 * angleFactor * (s.Rw[i] - s.W2[i]);
                dw2[i] = dw3 * keep;
            }
        }
        Standardization.Backward(x, s.W2, s.Stats, center: true, dw2, dx);
    }
}
