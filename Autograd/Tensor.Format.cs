using System.Globalization;
using System.Text;

namespace BinaryGrad.Autograd;

public sealed partial class Tensor
{
    /// <summary>NumPy-style text: the values as nested brackets (large tensors show their first and last three
    /// entries per axis around "..."), then shape, dtype and gradient information.</summary>
    public override string ToString()
    {
        const int edge = 3, threshold = 1000;
        double[] values = ToDoubleArray();
        bool summarize = Length > threshold;
        var sb = new StringBuilder("tensor(");
        int[] strides = Shapes.ContiguousStrides(_shape);
        Append(sb, values, strides, 0, 0, summarize, edge, indent: 7);
        sb.Append($", shape={Shapes.Format(_shape)}, dtype={DType.Name()}");
        if (GradFn is not null) sb.Append($", grad_fn={GradFn.Name}");
        else if (RequiresGrad) sb.Append(", requires_grad=true");
        return sb.Append(')').ToString();
    }

    private void Append(StringBuilder sb, double[] values, int[] strides, int axis, int offset, bool summarize, int edge, int indent)
    {
        if (axis == Rank)
        {
            sb.Append(FormatValue(values[offset]));
            return;
        }
        sb.Append('[');
        int n = _shape[axis];
        for (int i = 0; i < n; i++)
        {
            if (summarize && n > 2 * edge && i == edge)
            {
                sb.Append(axis == Rank - 1 ? "..., " : "...," + Environment.NewLine + new string(' ', indent + axis + 1));
                i = n - edge;
            }
            Append(sb, values, strides, axis + 1, offset + i * strides[axis], summarize, edge, indent);
            if (i < n - 1)
                sb.Append(axis == Rank - 1 ? ", " : "," + Environment.NewLine + new string(' ', indent + axis + 1));
        }
        sb.Append(']');
    }

    private string FormatValue(double v) =>
        DType == DType.Float32 ? ((float)v).ToString("G6", CultureInfo.InvariantCulture) : v.ToString("G10", CultureInfo.InvariantCulture);
}
