using System.Numerics;
using BinaryGrad.Kernels.Sign;

namespace BinaryGrad.Binarization;

/// <summary>A scalar map x ↦ M(x) with its derivative, possibly schedule-driven: the building block of the PC++
/// family's forward quantizer F and backward quantizer B (Lu et al. 2023, arXiv:2402.17710; docs/schemes/proximal.md).</summary>
public abstract class ElementMap
{
    /// <summary>Short name, e.g. <c>sign</c> or <c>clip(ρ)</c>.</summary>
    public abstract string Name { get; }

    /// <summary>M(x).</summary>
    public abstract double Value(double x);

    /// <summary>M'(x) (0 where M is piecewise constant, e.g. sign).</summary>
    public abstract double Derivative(double x);

    /// <summary>True when M(x) ∈ {−1, +1} for every x (sign(0) = +1).</summary>
    public virtual bool IsSign => false;

    /// <summary>True when M is continuous and piecewise differentiable, so a finite-difference check of its
    /// derivative is meaningful away from finitely many kinks.</summary>
    public virtual bool IsSmooth => true;

    /// <summary>Moves scheduled parameters to <paramref name="progress"/>; default nothing.</summary>
    public virtual void OnProgress(TrainingProgress progress) { }

    /// <inheritdoc/>
    public override string ToString() => Name;

    /// <summary>True when <see cref="Values{T}"/> runs a float32 kernel (the built-in sign, identity, hardtanh, clip and
    /// SS_β maps, and compositions of them).</summary>
    internal virtual bool HasValueKernel => false;

    /// <summary>y = M(x) over a span: by default M in float64 rounded once; maps with a kernel run it for float32
    /// (equal to the rounded M, or within an ulp where the map says so).</summary>
    internal virtual void Values<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T> => ScalarValues(x, y);

    /// <summary>True when <see cref="DerivativeTimes{T}"/> runs a float32 kernel (built-in maps except the W-shaped prox
    /// and compositions).</summary>
    internal virtual bool HasDerivativeKernel => false;

    /// <summary>dx = dy·M'(x) over spans: by default in float64 rounded once; maps with a kernel run it for float32.</summary>
    internal virtual void DerivativeTimes<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        ScalarDerivativeTimes(x, dy, dx);

    /// <summary>y = (T)M(x) per element.</summary>
    internal void ScalarValues<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = Num.R<T>(Value(Num.D(x[i])));
    }

    /// <summary>dx = (T)(dy·M'(x)) per element.</summary>
    internal void ScalarDerivativeTimes<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) dx[i] = Num.R<T>(Num.D(dy[i]) * Derivative(Num.D(x[i])));
    }

    /// <summary>sign(x), sign(0) = +1: the prox of the indicator of {±1} for every μ (ties broken to +1).</summary>
    public static ElementMap Sign() => new SignMap();

    /// <summary>x: the prox of r ≡ 0.</summary>
    public static ElementMap Identity() => new IdentityMap();

    /// <summary>hardtanh(x) = clip(x, −1, 1), derivative 1[|x| ≤ 1] (inclusive, as BNN's mask): the prox of ι_[−1,1].</summary>
    public static ElementMap HardTanh() => new HardTanhMap();

    /// <summary>SS_β(x) with β from <paramref name="beta"/> (Darabi et al. 2018, arXiv:1812.11800).</summary>
    public static ElementMap SignSwish(Schedule beta) => new SignSwishMap(beta);

    /// <summary>P_ρ(u) = clip(ρu, −1, 1), ρ ≥ 1 from <paramref name="rho"/>; P_ρ'(u) = ρ·1[|ρu| &lt; 1] (the proximal quantizer of ProxConnect, Dockhorn et al. 2021, arXiv:2110.13220; [STD]).
    /// ρ = 1 is hardtanh, ρ → ∞ is sign.</summary>
    public static ElementMap Clip(Schedule rho) => new ClipMap(rho);

    /// <summary>Prox of the W-shaped regulariser dist₁(z, {±1}) with strength μ (derived by us [DER]): odd, and for w ≥ 0
    /// P(w) = w + μ (w ≤ 1 − μ), 1 (1 − μ &lt; w ≤ 1 + μ), w − μ (w &gt; 1 + μ); P(0) = +μ (tie to +). Equals sign on
    /// |w| ≤ 1 + μ once μ ≥ 1. Discontinuous at 0, so not smooth.</summary>
    public static ElementMap WShapedProx(Schedule mu) => new WShapedMap(mu);

    /// <summary>outer ∘ inner, derivative outer'(inner(x))·inner'(x).</summary>
    public static ElementMap Compose(ElementMap outer, ElementMap inner) => new ComposedMap(outer, inner);

    private sealed class SignMap : ElementMap
    {
        public override string Name => "sign";
        public override double Value(double x) => BinaryMath.Sign(x);
        public override double Derivative(double x) => 0;
        public override bool IsSign => true;
        public override bool IsSmooth => false;
        internal override bool HasValueKernel => true;
        internal override void Values<T>(ReadOnlySpan<T> x, Span<T> y)
        {
            if (!SignSpans.Sign(x, y, 1, 1)) ScalarValues(x, y);
        }
        internal override bool HasDerivativeKernel => true;
        // dy·0 (±0, NaN for non-finite dy): no |x| is ≤ −∞, so the mask is 0 everywhere.
        internal override void DerivativeTimes<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx)
        {
            if (!SignSpans.MaskTimes(x, dy, dx, double.NegativeInfinity)) ScalarDerivativeTimes(x, dy, dx);
        }
    }

    private sealed class IdentityMap : ElementMap
    {
        public override string Name => "identity";
        public override double Value(double x) => x;
        public override double Derivative(double x) => 1;
        internal override bool HasValueKernel => true;
        internal override void Values<T>(ReadOnlySpan<T> x, Span<T> y) => x.CopyTo(y);
        internal override bool HasDerivativeKernel => true;
        internal override void DerivativeTimes<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) => dy.CopyTo(dx);
    }

    private sealed class HardTanhMap : ElementMap
    {
        public override string Name => "hardtanh";
        public override double Value(double x) => Math.Clamp(x, -1, 1);
        public override double Derivative(double x) => BinaryMath.InsideClip(x, 1);
        internal override bool HasValueKernel => true;
        internal override void Values<T>(ReadOnlySpan<T> x, Span<T> y)
        {
            if (!SignSpans.ClipValues(x, y, 1)) ScalarValues(x, y);
        }
        internal override bool HasDerivativeKernel => true;
        internal override void DerivativeTimes<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx)
        {
            if (!SignSpans.MaskTimes(x, dy, dx, 1)) ScalarDerivativeTimes(x, dy, dx);
        }
    }

    private sealed class SignSwishMap(Schedule beta) : ElementMap
    {
        private double _beta = beta.ValueAt(default);
        public override string Name => $"sign_swish(β={_beta:G4})";
        public override double Value(double x) => BinaryMath.SignSwish(x, _beta);
        public override double Derivative(double x) => BinaryMath.SignSwishDerivative(x, _beta);
        public override void OnProgress(TrainingProgress progress) => _beta = beta.ValueAt(progress);
        internal override bool HasValueKernel => true;
        // one-exp form: equal to Value rounded once, or one ulp apart (see SignKernels.SignSwishValues)
        internal override void Values<T>(ReadOnlySpan<T> x, Span<T> y)
        {
            if (!SignSpans.SignSwishValues(x, y, _beta)) ScalarValues(x, y);
        }
        internal override bool HasDerivativeKernel => true;
        internal override void DerivativeTimes<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx)
        {
            if (!SignSpans.SwishTimes(x, dy, dx, _beta)) ScalarDerivativeTimes(x, dy, dx);
        }
    }

    private sealed class ClipMap(Schedule rho) : ElementMap
    {
        private double _rho = rho.ValueAt(default);
        public override string Name => $"clip(ρ={_rho:G4})";
        public override double Value(double x) => Math.Clamp(_rho * x, -1, 1);
        public override double Derivative(double x) => Math.Abs(_rho * x) < 1 ? _rho : 0;
        public override void OnProgress(TrainingProgress progress) => _rho = rho.ValueAt(progress);
        internal override bool HasValueKernel => true;
        internal override void Values<T>(ReadOnlySpan<T> x, Span<T> y)
        {
            if (!SignSpans.ClipValues(x, y, _rho)) ScalarValues(x, y);
        }
        internal override bool HasDerivativeKernel => true;
        internal override void DerivativeTimes<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx)
        {
            if (!SignSpans.Surrogate(SignKernels.SurrogateKind.Clip, x, dy, dx, _rho)) ScalarDerivativeTimes(x, dy, dx);
        }
    }

    private sealed class WShapedMap(Schedule mu) : ElementMap
    {
        private double _mu = mu.ValueAt(default);
        public override string Name => $"wshaped_prox(μ={_mu:G4})";
        public override bool IsSmooth => false;

        public override double Value(double x)
        {
            if (double.IsNaN(x)) return x;
            double s = x >= 0 ? 1 : -1, w = Math.Abs(x);
            return s * (w <= 1 - _mu ? w + _mu : w <= 1 + _mu ? 1 : w - _mu);
        }

        public override double Derivative(double x)
        {
            double w = Math.Abs(x);
            return w <= 1 - _mu || w > 1 + _mu ? 1 : 0;
        }

        public override void OnProgress(TrainingProgress progress) => _mu = mu.ValueAt(progress);
    }

    private sealed class ComposedMap(ElementMap outer, ElementMap inner) : ElementMap
    {
        public override string Name => $"{outer.Name}∘{inner.Name}";
        public override double Value(double x) => outer.Value(inner.Value(x));
        public override double Derivative(double x) => outer.Derivative(inner.Value(x)) * inner.Derivative(x);
        public override bool IsSign => outer.IsSign;
        public override bool IsSmooth => outer.IsSmooth && inner.IsSmooth;
        internal override bool HasValueKernel => outer.HasValueKernel && inner.HasValueKernel;

        // with kernels, inner is rounded to T before outer: for float32 within an ulp or two of Value rounded once
        // (outer is clip/sign/identity), for float64 exactly Value
        internal override void Values<T>(ReadOnlySpan<T> x, Span<T> y)
        {
            if (!HasValueKernel)
            {
                ScalarValues(x, y);
                return;
            }
            inner.Values(x, y);
            outer.Values(y, y);
        }

        public override void OnProgress(TrainingProgress progress)
        {
            outer.OnProgress(progress);
            inner.OnProgress(progress);
        }
    }
}
