using System.Numerics;

namespace BinaryGrad.Autograd;

/// <summary>The per-element math of a unary op, for both element types. Implemented by small readonly structs so
/// that the JIT specialises each op's loops (no delegate calls per element).</summary>
internal interface IUnaryKernel
{
    string Name { get; }

    /// <summary>y = f(x).</summary>
    void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>;

    /// <summary>dx = dy ⊙ f'(x) (assigned, not accumulated); y = f(x) is given for ops whose derivative uses it.</summary>
    void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IBinaryFloatingPointIeee754<T>;
}

/// <summary>The per-element math of a binary op on operands of one shape (broadcasting happens before).</summary>
internal interface IBinaryKernel
{
    string Name { get; }

    /// <summary>y = f(a, b).</summary>
    void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IBinaryFloatingPointIeee754<T>;

    /// <summary>da = dy ⊙ ∂f/∂a (assigned).</summary>
    void BackwardA<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> da) where T : unmanaged, IBinaryFloatingPointIeee754<T>;

    /// <summary>db = dy ⊙ ∂f/∂b (assigned).</summary>
    void BackwardB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> db) where T : unmanaged, IBinaryFloatingPointIeee754<T>;
}

internal sealed class UnaryFunction<TKernel>(TKernel kernel) : Function where TKernel : struct, IUnaryKernel
{
    private Tensor? _x, _y;
    public override string Name => kernel.Name;
    internal override bool DropsGradOutput => true;

    protected override Tensor Forward(Tensor[] inputs)
    {
        Tensor x = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
        Tensor y = Tensor.Uninitialized(x.Shape, x.DType); // kernels assign every element
        TKernel k = kernel;
        // Element i of y depends on x[i] only, so chunks on separate threads give the serial loop's exact values.
        Chunks(x.Length, (start, length) => DTypeDispatch.Run(x.DType, new UnaryChunk(k, x, y, null, null, start, length)));
        (_x, _y) = (x, y);
        return y;
    }

    protected internal override Tensor?[] Backward(Tensor dy)
    {
        Tensor x = _x!, y = _y!, dx = Tensor.RentGradient(x.Shape, x.DType, clear: false), g = dy.IsContiguous ? dy : dy.MaterializeRaw();
        TKernel k = kernel;
        Chunks(x.Length, (start, length) => DTypeDispatch.Run(x.DType, new UnaryChunk(k, x, y, g, dx, start, length)));
        return [dx];
    }

    /// <summary>Elements [start, start + length) of the forward (y = f(x), when dy is null) or of the backward
    /// (dx = dy ⊙ f'(x)), in the tensors' element type.</summary>
    private readonly struct UnaryChunk(TKernel k, Tensor x, Tensor y, Tensor? dy, Tensor? dx, int start, int length) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            if (dy is null) k.Forward<T>(x.AsSpan<T>().Slice(start, length), y.AsSpan<T>().Slice(start, length));
            else k.Backward<T>(x.AsSpan<T>().Slice(start, length), y.AsSpan<T>().Slice(start, length),
                dy.AsSpan<T>().Slice(start, length), dx!.AsSpan<T>().Slice(start, length));
        }
    }

    /// <summary>Runs <paramref name="body"/>(start, length) over [0, <paramref name="count"/>): inline below 256 K
    /// elements (a thread hop costs more than the pass), else in <see cref="BinaryGrad.Kernels.KernelThreads"/> chunks
    /// that are multiples of 64 elements, so every chunk's vector loop covers the same elements as the serial one.</summary>
    private static void Chunks(int count, Action<int, int> body)
    {
        if (count < 256 * 1024) body(0, count);
        else BinaryGrad.Kernels.KernelThreads.For(count, 64, (start, end) => body(start, end - start));
    }

    protected override void ReleaseSaved() => (_x, _y) = (null, null);
}

internal sealed class BinaryFunction<TKernel>(TKernel kernel) : Function where TKernel : struct, IBinaryKernel
{
    private Tensor? _a, _b, _y;
    public override string Name => kernel.Name;
    internal override bool DropsGradOutput => true;

    protected override Tensor Forward(Tensor[] inputs)
    {
        Tensor a = inputs[0].IsContiguous ? inputs[0] : inputs[0].MaterializeRaw();
        Tensor b = inputs[1].IsContiguous ? inputs[1] : inputs[1].MaterializeRaw();
        Tensor y = Tensor.Uninitialized(a.Shape, a.DType); // kernels assign every element
        DTypeDispatch.Run(a.DType, new BinaryPass(kernel, a, b, y, null, null, null));
        (_a, _b, _y) = (a, b, y);
        return y;
    }

    protected internal override Tensor?[] Backward(Tensor dy)
    {
        Tensor a = _a!, b = _b!, y = _y!;
        // y = a + b: both gradients are dy itself, handed on without a copy (the engine unpools a buffer given to two
        // inputs and copies only if it must write into it)
        if (typeof(TKernel) == typeof(Ops.AddKernel)) return [NeedsGrad(0) ? dy : null, NeedsGrad(1) ? dy : null];
        Tensor? da = NeedsGrad(0) ? Tensor.RentGradient(a.Shape, a.DType, clear: false) : null, db = NeedsGrad(1) ? Tensor.RentGradient(b.Shape, b.DType, clear: false) : null;
        DTypeDispatch.Run(a.DType, new BinaryPass(kernel, a, b, y, dy, da, db));
        return [da, db];
    }

    /// <summary>The forward (y = f(a, b), when dy is null) or the backward (da, db where not null), in the tensors'
    /// element type.</summary>
    private readonly struct BinaryPass(TKernel kernel, Tensor a, Tensor b, Tensor y, Tensor? dy, Tensor? da, Tensor? db) : IDTypeAction
    {
        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            if (dy is null)
            {
                kernel.Forward<T>(a.AsSpan<T>(), b.AsSpan<T>(), y.AsSpan<T>());
                return;
            }
            ReadOnlySpan<T> g = dy.AsContiguousSpan<T>();
            if (da is not null) kernel.BackwardA<T>(a.AsSpan<T>(), b.AsSpan<T>(), y.AsSpan<T>(), g, da.AsSpan<T>());
            if (db is not null) kernel.BackwardB<T>(a.AsSpan<T>(), b.AsSpan<T>(), y.AsSpan<T>(), g, db.AsSpan<T>());
        }
    }

    protected override void ReleaseSaved() => (_a, _b, _y) = (null, null, null);
}

public static partial class Ops
{
    internal static Tensor Unary<TKernel>(Tensor x, TKernel kernel) where TKernel : struct, IUnaryKernel
    {
        ArgumentNullException.ThrowIfNull(x);
        return new UnaryFunction<TKernel>(kernel).Apply(x);
    }

    /// <summary>Broadcasts <paramref name="a"/> and <paramref name="b"/> to a common shape (differentiably: the
    /// expanded operand's gradient is summed back to its own shape) and applies the kernel element by element.</summary>
    internal static Tensor Binary<TKernel>(Tensor a, Tensor b, TKernel kernel) where TKernel : struct, IBinaryKernel
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        CheckSameDType(a, b, kernel.Name);
        int[] shape = Shapes.Broadcast(a.Shape, b.Shape, kernel.Name);
        if (!Shapes.Equal(a.Shape, shape)) a = Expand(a, shape);
        if (!Shapes.Equal(b.Shape, shape)) b = Expand(b, shape);
        return new BinaryFunction<TKernel>(kernel).Apply(a, b);
    }

    internal static void CheckSameDType(Tensor a, Tensor b, string op)
    {
        if (a.DType != b.DType)
            throw new ArgumentException($"{op}: cannot combine {a.DType.Name()} {Shapes.Format(a.Shape)} with {b.DType.Name()} {Shapes.Format(b.Shape)}; convert one with To(DType).");
    }
}

public sealed partial class Tensor
{
    /// <summary>The elements as a span, copying first if this is a non-contiguous view (used by backward code
    /// that only reads).</summary>
    internal ReadOnlySpan<T> AsContiguousSpan<T>() where T : unmanaged => (IsContiguous ? this : MaterializeRaw()).AsSpan<T>();
}
