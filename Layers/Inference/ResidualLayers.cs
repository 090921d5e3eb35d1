using System.Numerics.Tensors;

namespace BinaryGrad.Layers.Inference;

/// <summary><c>y = main(x) + shortcut(x)</c>, the inference form of <see cref="Residual"/>: two sub-lists of layers
/// run on the same input (an empty shortcut is the identity) and added in float32, the same single rounding per
/// element as the training evaluation's <c>Ops.Add</c>. Inside <see cref="Main"/> a binary convolution followed by its
/// batch norm runs fused, as at the top level (<see cref="InferenceModel.RunLayers"/>).</summary>
/// <remarks>Record: int32 main layer count, the main layers (kind byte + record each), int32 shortcut layer count,
/// the shortcut layers. Residuals nest at most <see cref="InferenceModel.MaxNesting"/> deep.</remarks>
public sealed class ResidualLayer : InferenceLayer
{
    public ResidualLayer(IReadOnlyList<InferenceLayer> main, IReadOnlyList<InferenceLayer> shortcut)
    {
        if (main.Count == 0) throw new FormatException("residual: the main branch has no layers.");
        (Main, Shortcut) = (main, shortcut);
    }

    public IReadOnlyList<InferenceLayer> Main { get; private set; }

    /// <summary>The shortcut's layers; empty for the identity.</summary>
    public IReadOnlyList<InferenceLayer> Shortcut { get; private set; }

    internal override InferenceLayer CopyForThread()
    {
        var copy = (ResidualLayer)base.CopyForThread();
        copy.Main = [.. Main.Select(layer => layer.CopyForThread())];
        copy.Shortcut = [.. Shortcut.Select(layer => layer.CopyForThread())];
        return copy;
    }

    public override InferenceLayerKind Kind => InferenceLayerKind.Residual;
    public override long ParameterBytes => Main.Sum(l => l.ParameterBytes) + Shortcut.Sum(l => l.ParameterBytes);

    public override int[] OutputShape(int[] input)
    {
        int[] main = Main.Aggregate(input, (shape, layer) => layer.OutputShape(shape));
        int[] shortcut = Shortcut.Aggregate(input, (shape, layer) => layer.OutputShape(shape));
        return main.SequenceEqual(shortcut) ? main
            : throw Mismatch(this, input, $"branches of one shape, but the main branch gives [{string.Join(",", main)}] and the shortcut [{string.Join(",", shortcut)}]");
    }

    public override Activation Run(Activation x) => Run(x, null);

    /// <summary>Runs both branches, adding each part's wall time to <paramref name="timing"/> when given.</summary>
    internal Activation Run(Activation x, InferenceTiming? timing)
    {
        Activation mainOutput = InferenceModel.RunLayers(Main, x, timing);
        float[] main = mainOutput.ToFloats();
        float[] shortcut = InferenceModel.RunLayers(Shortcut, x, timing).ToFloats();
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        float[] y = FloatOutput(main.Length);
        TensorPrimitives.Add(main, shortcut, y);
        timing?.Add(this, System.Diagnostics.Stopwatch.GetTimestamp() - start);
        return Result(y, null, mainOutput.Shape);
    }

    internal override void Write(BinaryWriter w)
    {
        foreach (IReadOnlyList<InferenceLayer> branch in new[] { Main, Shortcut })
        {
            w.Write(branch.Count);
            foreach (InferenceLayer layer in branch)
            {
                w.Write((byte)layer.Kind);
                layer.Write(w);
            }
        }
    }

    internal static ResidualLayer Read(BgmReader r, int depth)
    {
        if (depth >= InferenceModel.MaxNesting) throw new FormatException($"residual layers nested more than {InferenceModel.MaxNesting} deep.");
        return new ResidualLayer(ReadBranch(r, depth, "main branch"), ReadBranch(r, depth, "shortcut"));
    }

    private static List<InferenceLayer> ReadBranch(BgmReader r, int depth, string what)
    {
        int count = r.Count($"residual {what} layer count");
        var layers = new List<InferenceLayer>(Math.Min(count, 64));
        for (int i = 0; i < count; i++) layers.Add(InferenceModel.ReadLayer(r, $"residual {what} layer {i}", depth + 1));
        return layers;
    }

    public override string ToString() => $"Residual(main: {string.Join(" → ", Main)}; shortcut: {(Shortcut.Count == 0 ? "identity" : string.Join(" → ", Shortcut))})";
}

/// <summary>The inference form of <see cref="ZeroPadShortcut"/>: <c>y[n, c + before, i, j] = x[n, c, s·i, s·j]</c>, zero
/// in the other channels, <c>before = ⌊(out − in)/2⌋</c>, output side <c>⌈side/s⌉</c>. Pure data movement, exact.</summary>
public sealed class ZeroPadShortcutLayer : InferenceLayer
{
    public ZeroPadShortcutLayer(int inChannels, int outChannels, int stride)
    {
        if (inChannels < 1 || outChannels < inChannels || outChannels > 1 << 20 || stride < 1 || stride > 1 << 10)
            throw new FormatException($"zero-pad shortcut {inChannels}→{outChannels}, stride {stride} is out of range (1 ≤ in ≤ out ≤ 2²⁰, 1 ≤ stride ≤ 1024).");
        (InChannels, OutChannels, Stride) = (inChannels, outChannels, stride);
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int Stride { get; }
    public override InferenceLayerKind Kind => InferenceLayerKind.ZeroPadShortcut;
    public override long ParameterBytes => 0;

    public override int[] OutputShape(int[] input) =>
        input is [int n, int c, int h, int w] && c == InChannels ? [n, OutChannels, (h + Stride - 1) / Stride, (w + Stride - 1) / Stride]
        : throw Mismatch(this, input, $"[N,{InChannels},H,W]");

    public override Activation Run(Activation x)
    {
        float[] v = x.ToFloats();
        int batch = x.Shape[0], h = x.Shape[2], w = x.Shape[3], oh = (h + Stride - 1) / Stride, ow = (w + Stride - 1) / Stride;
        int before = (OutChannels - InChannels) / 2;
        float[] y = FloatOutput((long)batch * OutChannels * oh * ow);
        Array.Clear(y); // the padded channels are zero
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < InChannels; c++)
                for (int i = 0; i < oh; i++)
                {
                    int source = ((n * InChannels + c) * h + i * Stride) * w, target = ((n * OutChannels + c + before) * oh + i) * ow;
                    for (int j = 0; j < ow; j++) y[target + j] = v[source + j * Stride];
                }
        return Result(y, null, [batch, OutChannels, oh, ow]);
    }

    internal override void Write(BinaryWriter w) { w.Write(InChannels); w.Write(OutChannels); w.Write(Stride); }

    internal static ZeroPadShortcutLayer Read(BgmReader r) => new(r.Size("shortcut in channels"), r.Size("shortcut out channels"), r.Size("shortcut stride"));

    public override string ToString() => $"ZeroPadShortcut({InChannels}→{OutChannels}, stride={Stride})";
}

/// <summary>Global average pooling [N,C,H,W] → [N,C]: <c>y = Σ_plane x / (H·W)</c> with the same
/// <c>TensorPrimitives.Sum</c> over each channel's plane as the training op, then one division.</summary>
public sealed class GlobalAvgPoolLayer : InferenceLayer
{
    public override InferenceLayerKind Kind => InferenceLayerKind.GlobalAvgPool;
    public override long ParameterBytes => 0;

    public override int[] OutputShape(int[] input) =>
        input is [int n, int c, _, _] ? [n, c] : throw Mismatch(this, input, "[N,C,H,W]");

    public override Activation Run(Activation x)
    {
        float[] v = x.ToFloats();
        int plane = x.Shape[2] * x.Shape[3];
        float[] y = FloatOutput(x.Shape[0] * x.Shape[1]);
        for (int i = 0; i < y.Length; i++) y[i] = TensorPrimitives.Sum(v.AsSpan(i * plane, plane)) / plane;
        return Result(y, null, [x.Shape[0], x.Shape[1]]);
    }

    internal override void Write(BinaryWriter w) { }

    public override string ToString() => "GlobalAvgPool";
}
