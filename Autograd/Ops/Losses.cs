using BinaryGrad.Kernels;
using System.Numerics;

namespace BinaryGrad.Autograd;

public static partial class Ops
{
    /// <summary>Mean cross-entropy of <paramref name="logits"/> [N, C] against integer <paramref name="labels"/> (N of them):
    /// <c>L = −(1/N) Σᵢ Σ_c qᵢc · log softmax(logitsᵢ)_c</c> with target <c>q = (1 − ε)·onehot(label) + ε/C</c>
    /// (label smoothing ε = <paramref name="labelSmoothing"/>, 0 = plain cross-entropy). Computed through log-sum-exp,
    /// so large logits never overflow.</summary>
    /// <remarks>Backward: <c>dlogits = dy · (softmax(logits) − q) / N</c>.</remarks>
    /// <exception cref="ArgumentException">Logits not [N, C], a label count other than N, a label outside [0, C), or ε outside [0, 1].</exception>
    public static Tensor CrossEntropy(Tensor logits, ReadOnlySpan<int> labels, double labelSmoothing = 0)
    {
        CheckLabels("cross_entropy", logits, labels);
        if (labelSmoothing is < 0 or > 1) throw new ArgumentException($"cross_entropy: label smoothing {labelSmoothing} is outside [0, 1].");
        // The node's copy of the labels comes from the shared array pool and goes back when the node is released.
        int[] copy = ScratchPool<int>.ThisThread.Rent(labels.Length);
        labels.CopyTo(copy);
        return new CrossEntropyFunction(copy, labels.Length, labelSmoothing).Apply(logits);
    }

    /// <summary>Mean negative log-likelihood of log-probabilities [N, C]: <c>L = −(1/N) Σᵢ logProbsᵢ,labelᵢ</c>.</summary>
    /// <remarks>Backward: <c>dlogProbsᵢc = −dy/N</c> where c = labelᵢ, else 0.</remarks>
    public static Tensor Nll(Tensor logProbs, ReadOnlySpan<int> labels)
    {
        CheckLabels("nll", logProbs, labels);
        int n = labels.Length, c = logProbs.Shape[1];
        int[] flat = new int[n];
        for (int i = 0; i < n; i++) flat[i] = labels[i];
        Tensor picked = Gather(logProbs, 1, flat, [n, 1]);
        return Neg(Mean(picked));
    }

    /// <summary>Mean squared error <c>L = mean((a − b)²)</c> over all elements (broadcasting allowed).</summary>
    /// <remarks>Backward: <c>da = 2(a − b)·dy / count</c>, <c>db = −da</c>.</remarks>
    public static Tensor Mse(Tensor a, Tensor b)
    {
        Tensor diff = Sub(a, b);
        return Mean(Mul(diff, diff));
    }

    private static void CheckLabels(string op, Tensor scores, ReadOnlySpan<int> labels)
    {
        if (scores.Rank != 2) throw new ArgumentException($"{op}: expected scores of shape [N, C], got {Shapes.Format(scores.Shape)}.");
        if (labels.Length != scores.Shape[0])
            throw new ArgumentException($"{op}: {labels.Length} labels for {scores.Shape[0]} rows of {Shapes.Format(scores.Shape)}.");
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)scores.Shape[1])
                throw new ArgumentException($"{op}: label {labels[i]} at position {i} is outside [0, {scores.Shape[1]}).");
    }

    private sealed class CrossEntropyFunction(int[] labels, int rows, double smoothing) : Function
    {
        private Tensor? _probabilities;
        public override string Name => "cross_entropy";
        internal override bool DropsGradOutput => true;

        protected override Tensor Forward(Tensor[] inputs)
        {
            Tensor p = inputs[0].MaterializeRaw();
            double loss = p.DType == DType.Float32 ? Compute<float>(p.AsSpan<float>(), p.Shape[1]) : Compute<double>(p.AsSpan<double>(), p.Shape[1]);
            _probabilities = p;
            return Tensor.Scalar(loss, p.DType);
        }

        /// <summary>Turns the logits into probabilities in place and returns the mean loss (accumulated in double).</summary>
        private double Compute<T>(Span<T> data, int classes) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            double total = 0;
            for (int i = 0; i < rows; i++)
            {
                Span<T> row = data.Slice(i * classes, classes);
                T max = System.Numerics.Tensors.TensorPrimitives.Max<T>(row);
                double sum = 0;
                foreach (T v in row) sum += Math.Exp(double.CreateTruncating(v - max));
                double logSum = Math.Log(sum);
                for (int c = 0; c < classes; c++)
                {
                    double logP = double.CreateTruncating(row[c] - max) - logSum;
                    double q = (c == labels[i] ? 1 - smoothing : 0) + smoothing / classes;
                    total -= q * logP;
                    row[c] = T.CreateTruncating(Math.Exp(logP));
                }
            }
            return rows == 0 ? 0 : total / rows;
        }

        protected internal override Tensor?[] Backward(Tensor dy)
        {
            Tensor dx = _probabilities!.MaterializeRaw();
            double scale = dy.Item() / Math.Max(rows, 1);
            if (dx.DType == DType.Float32) Gradient<float>(dx.AsSpan<float>(), dx.Shape[1], scale);
            else Gradient<double>(dx.AsSpan<double>(), dx.Shape[1], scale);
            return [dx];
        }

        private void Gradient<T>(Span<T> p, int classes, double scale) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            for (int i = 0; i < rows; i++)
                for (int c = 0; c < classes; c++)
                {
                    double q = (c == labels[i] ? 1 - smoothing : 0) + smoothing / classes;
                    ref T v = ref p[i * classes + c];
                    v = T.CreateTruncating((double.CreateTruncating(v) - q) * scale);
                }
        }

        protected override void ReleaseSaved()
        {
            _probabilities = null;
            if (labels.Length > 0) ScratchPool<int>.ThisThread.Return(labels);
            labels = [];
        }
    }
}
