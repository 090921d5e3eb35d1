using BinaryGrad.Kernels;
using System.Runtime.CompilerServices;

namespace BinaryGrad.Autograd;

/// <summary>Zeroed temporary spans for one call of an op (e.g. per-channel sums), carved from a single array of the
/// calling thread's <see cref="ScratchPool{T}.ThisThread"/> and returned on <see cref="Dispose"/>, so a training step does not allocate them
/// anew each time (a <c>new T[c]</c> per temporary used to be most of what an MLP step still allocated).</summary>
/// <example><code>using var scratch = new Scratch&lt;float&gt;(c, c); Span&lt;float&gt; mean = scratch[0], variance = scratch[1];</code></example>
internal readonly ref struct Scratch<T> where T : unmanaged
{
    private const int MaxParts = 8;
    private readonly T[] _array;
    private readonly Offsets _offsets;

    /// <summary>One zeroed span per entry of <paramref name="lengths"/> (at most 8).</summary>
    public Scratch(params ReadOnlySpan<int> lengths)
    {
        if (lengths.Length > MaxParts) throw new ArgumentOutOfRangeException(nameof(lengths), $"Scratch holds at most {MaxParts} spans.");
        int total = 0;
        for (int i = 0; i < lengths.Length; i++)
        {
            _offsets[i] = total;
            total += lengths[i];
        }
        _offsets[lengths.Length] = total;
        _array = ScratchPool<T>.ThisThread.Rent(total);
        _array.AsSpan(0, total).Clear();
    }

    /// <summary>The zeroed span number <paramref name="part"/>, of the length given for it.</summary>
    public Span<T> this[int part] => _array.AsSpan(_offsets[part], _offsets[part + 1] - _offsets[part]);

    /// <summary>Returns the array to the pool; the spans must not be used afterwards.</summary>
    public void Dispose() => ScratchPool<T>.ThisThread.Return(_array);

    [InlineArray(MaxParts + 1)]
    private struct Offsets
    {
        private int _first;
    }
}
