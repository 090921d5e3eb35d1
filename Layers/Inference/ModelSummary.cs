using System.Globalization;
using System.Text;
using BinaryGrad.Autograd;

namespace BinaryGrad.Layers.Inference;

/// <summary>One row of a <see cref="ModelSummary"/>: a leaf layer with its costs per image.</summary>
/// <param name="Layer">The layer's description.</param>
/// <param name="OutputShape">Output shape for one image (batch axis dropped).</param>
/// <param name="Parameters">Trainable scalars.</param>
/// <param name="BinaryParameters">Of those, the ones stored as 1 bit (<see cref="Parameter.Precision"/> = 1: latent weights
/// deployed as ±1).</param>
/// <param name="Macs">Multiply-accumulates per image with at least one real operand (32-bit MACs).</param>
/// <param name="BinaryMacs">Multiply-accumulates per image with both operands ±1 (XNOR-popcount ops: weights binary
/// and the input quantized).</param>
/// <param name="ActivationElements">Output elements per image.</param>
public sealed record SummaryRow(string Layer, int[] OutputShape, long Parameters, long BinaryParameters, long Macs, long BinaryMacs, long ActivationElements)
{
    /// <summary>Bits per weight: 1 for a binary layer, 32 for a real one, "-" without parameters.</summary>
    public string BitsPerWeight => Parameters == 0 ? "-" : BinaryParameters == 0 ? "32" : BinaryParameters == Parameters ? "1" : "1/32";

    /// <summary>Bytes of the parameters as float32: <c>4·Parameters</c>.</summary>
    public long Float32Bytes => 4 * Parameters;

    /// <summary>Bytes deployed: binary parameters at 1 bit (<c>⌈n/8⌉</c>), the rest float32.</summary>
    public double PackedBytes => BinaryParameters / 8.0 + 4.0 * (Parameters - BinaryParameters);

    /// <summary>Bytes of the output as float32 per image.</summary>
    public long ActivationBytes => 4 * ActivationElements;
}

/// <summary>Per-layer parameter, memory, compute and activation accounting of a network for one input image, like
/// Larq's <c>summary()</c> (32-bit vs 1-bit parameters and MACs, memory float32 vs bit-packed) plus activation
/// memory.</summary>
/// <remarks>
/// <para>Conventions. MACs per image: dense <c>in·out</c>; convolution <c>C_out·H_out·W_out·C_in·k²</c> (zero-padded
/// taps included, as Larq counts); a MAC is binary when the weights are 1-bit and the layer quantizes its input,
/// otherwise 32-bit (e.g. a binary-weight layer on real pixels). Batch norm, pooling and activations count no MACs.
/// Memory counts trainable parameters only: batch-norm running statistics fold into the same per-channel scale and
/// shift at deployment, so γ, β stand for them. Activation memory is each layer's float32 output per image; the
/// totals give its sum and its peak (largest input + output pair), the working set of a layer-by-layer forward.</para>
/// <para>Compression ratio = float32 parameter bytes / deployed bytes.</para>
/// </remarks>
public sealed class ModelSummary
{
    private ModelSummary(IReadOnlyList<SummaryRow> rows, long inputElements) => (Rows, InputElements) = (rows, inputElements);

    public IReadOnlyList<SummaryRow> Rows { get; }
    public long InputElements { get; }
    public long Parameters => Rows.Sum(r => r.Parameters);
    public long BinaryParameters => Rows.Sum(r => r.BinaryParameters);
    public long Float32Bytes => Rows.Sum(r => r.Float32Bytes);
    public double PackedBytes => Rows.Sum(r => r.PackedBytes);
    public double CompressionRatio => PackedBytes == 0 ? 1 : Float32Bytes / PackedBytes;
    public long Macs => Rows.Sum(r => r.Macs);
    public long BinaryMacs => Rows.Sum(r => r.BinaryMacs);
    public long ActivationBytes => Rows.Sum(r => r.ActivationBytes);

    /// <summary>Largest float32 input + output of one layer, per image.</summary>
    public long PeakActivationBytes
    {
        get
        {
            long peak = 0, previous = InputElements;
            foreach (SummaryRow r in Rows)
            {
                peak = Math.Max(peak, 4 * (previous + r.ActivationElements));
                previous = r.ActivationElements;
            }
            return peak;
        }
    }

    /// <summary>Summarizes <paramref name="model"/> for one input of shape <paramref name="inputShape"/> (no batch axis),
    /// running one evaluation forward on zeros to obtain every layer's output shape.</summary>
    public static ModelSummary Of(Module model, int[] inputShape)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputShape);
        var rows = new List<SummaryRow>();
        model.Eval();
        using (GradMode.NoGrad()) Walk(model, Tensor.Zeros([1, .. inputShape]), rows);
        model.Train();
        return new ModelSummary(rows, inputShape.Aggregate(1L, (a, b) => a * b));
    }

    /// <summary>Runs <paramref name="m"/> on <paramref name="x"/> layer by layer, adding a row per leaf layer: containers
    /// are expanded in order; a <see cref="Residual"/> lists its main branch, then its shortcut (both from the block's
    /// input), then a "residual add" row.</summary>
    private static Tensor Walk(Module m, Tensor x, List<SummaryRow> rows)
    {
        if (m is Sequential or FeatureClassifier or BinaryClassifier)
        {
            foreach ((_, Module child) in m.NamedChildren()) x = Walk(child, x, rows);
            return x;
        }
        if (m is Residual residual)
        {
            Tensor main = Walk(residual.Main, x, rows);
            Tensor shortcut = residual.Shortcut is null ? x : Walk(residual.Shortcut, x, rows);
            Tensor sum = Ops.Add(main, shortcut);
            int[] shape = sum.Shape[1..].ToArray();
            long elements = shape.Aggregate(1L, (a, b) => a * b);
            rows.Add(new SummaryRow(residual.Shortcut is null ? "residual add (identity shortcut)" : "residual add", shape, 0, 0, 0, 0, elements));
            return sum;
        }
        Module layer = m;
        int[] inShape = x.Shape.ToArray();
        x = layer.Forward(x);
        int[] outShape = x.Shape[1..].ToArray();
        long outElements = outShape.Aggregate(1L, (a, b) => a * b);
        long parameters = layer.ParameterCount;
        long binary = layer.Parameters().Where(p => p.Precision == 1).Sum(p => (long)p.Length);
        (long macs, bool binaryMacs) = layer switch
        {
            BinaryLinear b => ((long)b.InFeatures * b.OutFeatures, b.WeightQuantizer is not null && b.InputQuantizer is not null),
            BinaryConv2d c => (outElements * c.InChannels * c.KernelSize * c.KernelSize, c.WeightQuantizer is not null && c.InputQuantizer is not null),
            Linear l => ((long)l.InFeatures * l.OutFeatures * (inShape.Length == 2 ? 1 : inShape[1..^1].Aggregate(1L, (a, v) => a * v)), false),
            Conv2d c => (outElements * c.InChannels * c.KernelSize * c.KernelSize, false),
            _ => (0L, false),
        };
        rows.Add(new SummaryRow(layer.ToString(), outShape, parameters, binary, binaryMacs ? 0 : macs, binaryMacs ? macs : 0, outElements));
        return x;
    }

    /// <summary>The table and totals as text.</summary>
    public string Format()
    {
        var sb = new StringBuilder();
        CultureInfo inv = CultureInfo.InvariantCulture;
        string header = string.Format(inv, "{0,-72} {1,-14} {2,12} {3,5} {4,14} {5,14} {6,15} {7,15} {8,12}",
            "Layer", "Output", "Params", "Bits", "Mem f32 (B)", "Mem packed (B)", "32-bit MACs", "Binary MACs", "Act f32 (B)");
        sb.AppendLine(header).AppendLine(new string('-', header.Length));
        foreach (SummaryRow r in Rows)
            sb.AppendLine(string.Format(inv, "{0,-72} {1,-14} {2,12:N0} {3,5} {4,14:N0} {5,14:N0} {6,15:N0} {7,15:N0} {8,12:N0}",
                r.Layer.Length > 72 ? r.Layer[..69] + "..." : r.Layer, "[" + string.Join(",", r.OutputShape) + "]", r.Parameters, r.BitsPerWeight,
                r.Float32Bytes, Math.Ceiling(r.PackedBytes), r.Macs, r.BinaryMacs, r.ActivationBytes));
        sb.AppendLine(new string('-', header.Length));
        sb.AppendLine(string.Format(inv, "Total parameters: {0:N0} ({1:N0} binary, {2:N0} real)", Parameters, BinaryParameters, Parameters - BinaryParameters));
        sb.AppendLine(string.Format(inv, "Memory: {0:N0} B as float32 ({1:F2} MiB), {2:N0} B bit-packed ({3:F2} MiB); compression ratio {4:F2}×",
            Float32Bytes, Float32Bytes / 1048576.0, Math.Ceiling(PackedBytes), PackedBytes / 1048576.0, CompressionRatio));
        sb.AppendLine(string.Format(inv, "MACs per image: {0:N0} 32-bit, {1:N0} binary", Macs, BinaryMacs));
        sb.Append(string.Format(inv, "Activation memory per image (float32): {0:N0} B summed over layers, peak {1:N0} B (one layer's input + output)",
            ActivationBytes, PeakActivationBytes));
        return sb.ToString();
    }
}
