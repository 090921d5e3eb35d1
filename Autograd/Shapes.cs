using System.Text;

namespace BinaryGrad.Autograd;

/// <summary>Shape arithmetic shared by the ops: element counts, strides, axis normalisation, broadcasting.</summary>
public static class Shapes
{
    /// <summary>Formats a shape as <c>[3,4]</c>, the form every error message uses.</summary>
    public static string Format(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(shape[i]);
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Product of the dimensions (1 for a scalar's empty shape).</summary>
    /// <exception cref="ArgumentException">A dimension is negative or the product overflows an int.</exception>
    public static int ElementCount(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"Shape {Format(shape)} has a negative dimension.");
            count *= d;
            if (count > Array.MaxLength) throw new ArgumentException($"Shape {Format(shape)} has more than {Array.MaxLength} elements.");
        }
        return (int)count;
    }

    /// <summary>Row-major (C order) strides of a contiguous tensor of this shape.</summary>
    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= Math.Max(shape[i], 1);
        }
        return strides;
    }

    /// <summary>Maps a possibly negative axis (−1 = last) into [0, rank).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The axis is outside [−rank, rank).</exception>
    public static int NormalizeAxis(int axis, int rank, string op)
    {
        int normalized = axis < 0 ? axis + rank : axis;
        if (normalized < 0 || normalized >= rank)
            throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: axis {axis} is out of range for a tensor of rank {rank}.");
        return normalized;
    }

    /// <summary>Normalises a set of axes (null or empty = all axes), sorted and without duplicates.</summary>
    public static int[] NormalizeAxes(ReadOnlySpan<int> axes, int rank, string op, bool emptyMeansAll = true)
    {
        if (axes.Length == 0 && emptyMeansAll)
        {
            var all = new int[rank];
            for (int i = 0; i < rank; i++) all[i] = i;
            return all;
        }
        var set = new SortedSet<int>();
        foreach (int a in axes)
            if (!set.Add(NormalizeAxis(a, rank, op)))
                throw new ArgumentException($"{op}: axis {a} is given twice.");
        return [.. set];
    }

    /// <summary>The NumPy broadcast of two shapes: align trailing dimensions; each pair must be equal or one of them 1.</summary>
    /// <exception cref="ArgumentException">Names the op and both shapes.</exception>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException(
                    $"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast: dimension {i} is {da} vs {db} (each pair must be equal or 1).");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>True when both shapes have the same rank and dimensions.</summary>
    public static bool Equal(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);
}
