using System.Numerics;
using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

/// <summary>In-place writes into a contiguous tensor of either dtype (latent-weight initialisation and clipping,
/// mirrors), written once through <see cref="DTypeDispatch"/>: each value is computed in float64 and rounded once to
/// the tensor's element type.</summary>
internal static class TensorElements
{
    /// <summary>t_i ← clip(t_i, lo, hi), with the bounds rounded to the element type (NaN stays NaN).</summary>
    public static void Clamp(Tensor t, double lo, double hi) => DTypeDispatch.Run(t.DType, new ClampAction(t, lo, hi));

    /// <summary>t_i ← draw(), i = 0, 1, … in order (so a random stream is consumed as by a plain loop).</summary>
    public static void Fill(Tensor t, Func<double> draw) => DTypeDispatch.Run(t.DType, new FillAction(t, draw));

    /// <summary>t_i ← values_i rounded once to the element type.</summary>
    public static void Write(Tensor t, double[] values) => DTypeDispatch.Run(t.DType, new WriteAction(t, values));

    /// <summary>target ← source, element by element (same dtype, same length).</summary>
    public static void Copy(Tensor source, Tensor target) => DTypeDispatch.Run(target.DType, new CopyAction(source, target));

    private readonly struct ClampAction(Tensor t, double lo, double hi) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            T min = Num.R<T>(lo), max = Num.R<T>(hi);
            foreach (ref T v in t.AsSpan<T>()) v = T.Clamp(v, min, max);
        }
    }

    private readonly struct FillAction(Tensor t, Func<double> draw) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            foreach (ref T v in t.AsSpan<T>()) v = Num.R<T>(draw());
        }
    }

    private readonly struct WriteAction(Tensor t, double[] values) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            Span<T> target = t.AsSpan<T>();
            for (int i = 0; i < values.Length; i++) target[i] = Num.R<T>(values[i]);
        }
    }

    private readonly struct CopyAction(Tensor source, Tensor target) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T> => source.AsSpan<T>().CopyTo(target.AsSpan<T>());
    }
}
