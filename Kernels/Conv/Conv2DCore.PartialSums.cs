using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace BinaryGrad.Kernels;

internal static unsafe partial class Conv2DCore<T> where T : unmanaged, INumber<T>
{
    /// <summary>The per-chunk buffers of <see cref="BackwardWeight"/>: one per chunk of images (at most
    /// <see cref="KernelThreads.Count"/> chunks), handed out to the chunks as they start, and listed afterwards in the
    /// order of each chunk's first image.</summary>
    private sealed class PartialSums
    {
        private T[][] _buffers = [];
        private int[] _firstImage = [];
        private int _taken;

        /// <summary>Makes room for <paramref name="chunks"/> buffers of at least <paramref name="length"/> elements.</summary>
        public void Prepare(int chunks, int length)
        {
            if (_buffers.Length < chunks)
            {
                Array.Resize(ref _buffers, chunks);
                _firstImage = new int[chunks];
            }
            for (int i = 0; i < chunks; i++)
                if (_buffers[i] is null || _buffers[i].Length < length) _buffers[i] = GC.AllocateUninitializedArray<T>(length);
            _taken = 0;
        }

        /// <summary>A free buffer for the chunk starting at image <paramref name="firstImage"/> (thread-safe).</summary>
        public T[] Take(int firstImage)
        {
            int slot = Interlocked.Increment(ref _taken) - 1;
            if (slot >= _buffers.Length)
                throw new InvalidOperationException($"Conv2D backward: more image chunks than the {_buffers.Length} prepared (KernelThreads.Count changed during the call?).");
            _firstImage[slot] = firstImage;
            return _buffers[slot];
        }

        /// <summary>Orders the buffers taken since <see cref="Prepare"/> by ascending first image (read them with the
        /// indexer); returns how many there are.</summary>
        public int SortByImage()
        {
            int count = Math.Min(_taken, _buffers.Length);
            Array.Sort(_firstImage, _buffers, 0, count);
            return count;
        }

        /// <summary>Buffer <paramref name="index"/> in the order of <see cref="SortByImage"/>.</summary>
        public T[] this[int index] => _buffers[index];
    }
}
