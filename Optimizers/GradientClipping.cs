using System.Numerics.Tensors;
using BinaryGrad.Autograd;
using Tensor = BinaryGrad.Autograd.Tensor;

namespace BinaryGrad.Optimizers;

/// <summary>Gradient clipping.</summary>
public static class GradientClipping
{
    /// <summary>Scales every gradient by <c>maxNorm / (‖g‖ + 1e-6)</c> when the total norm <c>‖g‖ = √(Σ_p Σ_i g²)</c>
    /// over all parameters exceeds <paramref name="maxNorm"/> (PyTorch's <c>clip_grad_norm_</c>); returns ‖g‖ before
    /// clipping. Parameters without a gradient are skipped. The norm is accumulated in double.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not positive.</exception>
    public static double ClipByNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "ClipByNorm: maxNorm must be positive.");
        List<Parameter> withGrad = [.. parameters.Where(p => p.Grad is not null)];
        double sumSquares = 0;
        foreach (Parameter p in withGrad)
        {
            if (!p.Grad!.IsContiguous) p.Value.Grad = p.Grad.Contiguous();
            sumSquares += p.Grad!.DType == DType.Float32
                ? SumSquares(p.Grad.AsSpan<float>())
                : TensorPrimitives.SumOfSquares<double>(p.Grad.AsSpan<double>());
        }
        double norm = Math.Sqrt(sumSquares), scale = maxNorm / (norm + 1e-6);
        if (scale < 1)
            foreach (Parameter p in withGrad)
            {
                if (p.Grad!.DType == DType.Float32) TensorPrimitives.Multiply(p.Grad.AsSpan<float>(), (float)scale, p.Grad.AsSpan<float>());
                else TensorPrimitives.Multiply(p.Grad.AsSpan<double>(), scale, p.Grad.AsSpan<double>());
            }
        return norm;
    }

    private static double SumSquares(ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (float v in values) sum += (double)v * v;
        return sum;
    }
}
