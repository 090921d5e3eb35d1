using System.Numerics;

namespace BinaryGrad.Autograd;

/// <summary>Work written once for every element type: <see cref="DTypeDispatch.Run{TAction}(DType, ref TAction)"/>
/// calls <see cref="Run{T}"/> with <c>T</c> = float or double.</summary>
/// <remarks>Implement it on a <c>struct</c> holding the tensors and scalars the work needs: the dispatcher is generic
/// over the struct, so the JIT compiles one specialised copy per (action, T) — no delegate, no boxing, no virtual call
/// per element, and the per-element code is the same machine code a hand-written <c>float</c> loop would give.</remarks>
public interface IDTypeAction
{
    /// <summary>The work for element type <typeparamref name="T"/>.</summary>
    void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>;
}

/// <summary>Dispatch by <see cref="DType"/> in one place: instead of
/// <c>if (x.DType == DType.Float32) Work&lt;float&gt;(…) else Work&lt;double&gt;(…)</c> in every op, an op writes its
/// work as an <see cref="IDTypeAction"/> and calls <see cref="Run{TAction}(DType, ref TAction)"/>.</summary>
public static class DTypeDispatch
{
    /// <summary>Runs <paramref name="action"/> for the element type of <paramref name="dtype"/> (by reference, so an
    /// action may return results in its fields).</summary>
    /// <exception cref="NotSupportedException"><paramref name="dtype"/> is not a defined <see cref="DType"/>.</exception>
    public static void Run<TAction>(DType dtype, ref TAction action) where TAction : struct, IDTypeAction
    {
        switch (dtype)
        {
            case DType.Float32: action.Run<float>(); break;
            case DType.Float64: action.Run<double>(); break;
            default: throw new NotSupportedException($"Element type {(int)dtype} is not a DType this build knows; expected float32 or float64.");
        }
    }

    /// <summary>Runs <paramref name="action"/> (passed by value) for the element type of <paramref name="dtype"/>.</summary>
    public static void Run<TAction>(DType dtype, TAction action) where TAction : struct, IDTypeAction => Run(dtype, ref action);
}
