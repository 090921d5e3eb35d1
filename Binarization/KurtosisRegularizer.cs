using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>How BD-BNN combines the per-layer kurtosis penalties.</summary>
public enum KurtosisReduction
{
    /// <summary>λ·(1/L)·Σ_l (K_l − K_T)² (default).</summary>
    Average,
    /// <summary>λ·Σ_l (K_l − K_T)².</summary>
    Sum,
    /// <summary>λ·max_l (K_l − K_T)².</summary>
    Max,
}

/// <summary>BD-BNN kurtosis regularizer (Rozen et al. 2022, arXiv 2204.02004): pushes each layer's latent weight
/// distribution toward a bimodal shape.</summary>
/// <remarks>
/// Kurt(W) = mean(((W − mean W)/std W)⁴) with the unbiased (N − 1) std over the whole tensor; the penalty is
/// λ·reduce_l (Kurt(W_l) − K_T)². Why: a symmetric two-point distribution has kurtosis 1, uniform 1.8, Gaussian 3, so a
/// low target K_T = 1.8 moves mass away from 0, where sign flips are cheap and binarization error is largest.
/// Exact gradient: dL/dW_i = dL/dK·(4/(n·sd))·(z_i³ − mean(z³) − K·z_i·n/(n − 1)), z = (W − mean)/sd.
/// Provenance: verified-code (BlueAnon/BD-BNN kurtosis.py, train.py). methods.md §9.6.
/// </remarks>
public sealed class KurtosisRegularizer(double target = 1.8, double weight = 1.0, KurtosisReduction reduction = KurtosisReduction.Average) : Regularizer
{
    /// <summary>Target kurtosis K_T.</summary>
    public double Target { get; } = target;
    /// <summary>Weight λ.</summary>
    public double Weight { get; } = weight;
    /// <summary>Combination over layers.</summary>
    public KurtosisReduction Reduction { get; } = reduction;

    /// <inheritdoc/>
    public override string Name => "kurtosis";

    /// <summary>Kurt(W) with the unbiased standard deviation.</summary>
    public static double Kurtosis(ReadOnlySpan<double> w)
    {
        double m = 0;
        foreach (double v in w) m += v;
        m /= w.Length;
        double ss = 0;
        foreach (double v in w) ss += (v - m) * (v - m);
        double sd = Math.Sqrt(ss / (w.Length - 1));
        double k = 0;
        foreach (double v in w) k += Math.Pow((v - m) / sd, 4);
        return k / w.Length;
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">No tensors, or a tensor with fewer than 2 elements.</exception>
    public override Tensor Penalty(IReadOnlyList<Tensor> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Count == 0) throw new ArgumentException("KurtosisRegularizer: no weight tensors given.", nameof(weights));
        if (weights.Any(w => w.Length < 2)) throw new ArgumentException("KurtosisRegularizer: every tensor needs at least 2 elements (unbiased std).", nameof(weights));
        return new KurtosisFunction(this).Apply([.. weights]);
    }

    private sealed class KurtosisFunction(KurtosisRegularizer r) : Function
    {
        private double[][] _w = [];
        private double[] _k = [];
        private int _argMax;

        public override string Name => "kurtosis_penalty";

        protected override Tensor Forward(Tensor[] inputs)
        {
            _w = [.. inputs.Select(t => t.ToDoubleArray())];
            _k = [.. _w.Select(w => Kurtosis(w))];
            double[] d = [.. _k.Select(k => (k - r.Target) * (k - r.Target))];
            _argMax = Array.IndexOf(d, d.Max());
            double value = r.Reduction switch
            {
                KurtosisReduction.Average => d.Average(),
                KurtosisReduction.Sum => d.Sum(),
                _ => d[_argMax],
            };
            return Tensor.Scalar(r.Weight * value, inputs[0].DType);
        }

        protected override Tensor?[] Backward(Tensor gradOutput)
        {
            double g = gradOutput.Item();
            var result = new Tensor?[_w.Length];
            for (int l = 0; l < _w.Length; l++)
            {
                if (!NeedsGrad(l)) continue;
                double dk = r.Reduction switch
                {
                    KurtosisReduction.Average => 2 * r.Weight / _w.Length * (_k[l] - r.Target),
                    KurtosisReduction.Sum => 2 * r.Weight * (_k[l] - r.Target),
                    _ => l == _argMax ? 2 * r.Weight * (_k[l] - r.Target) : 0,
                };
                double[] w = _w[l];
                int n = w.Length;
                double m = w.Average();
                double sd = Math.Sqrt(w.Sum(v => (v - m) * (v - m)) / (n - 1));
                double[] z = [.. w.Select(v => (v - m) / sd)];
                double meanZ3 = z.Average(v => v * v * v);
                double[] dw = [.. z.Select(zi => g * dk * 4 / (n * sd) * (zi * zi * zi - meanZ3 - _k[l] * zi * n / (n - 1)))];
                result[l] = Tensor.FromValues(dw, Inputs[l].Shape, Inputs[l].DType);
            }
            return result;
        }
    }
}
