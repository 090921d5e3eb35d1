using System.Globalization;
using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Cli.Training;
using BinaryGrad.Datasets;
using BinaryGrad.Layers;

namespace BinaryGrad.Cli.Explain;

/// <summary>The float64 finite-difference check of one leaf (<see cref="GradCheck"/>).</summary>
/// <param name="Node">The leaf's node id.</param>
/// <param name="MaxRelError">max |analytic − numeric| / max(|numeric|, 1e-2) over the leaf's elements.</param>
/// <param name="MaxAbsError">max |analytic − numeric| over the leaf's elements.</param>
/// <param name="Passed">Within GradCheck's tolerance 1e-6.</param>
public sealed record LeafCheck(int Node, double MaxRelError, double MaxAbsError, bool Passed);

/// <summary>Everything the explain page shows: the recorded run, what was run, the finite-difference checks and,
/// when a scheme is in play, its estimator.</summary>
public sealed record ExplainSubject(string Title, string Description, BackwardRecording Recording, IReadOnlyList<LeafCheck> Checks,
    string? CheckNote, SchemeInfo? Scheme)
{
    /// <summary>Inputs drawn from U(−1, 1) in float64 with <paramref name="seed"/>; a non-scalar result is summed
    /// (the page then explains d sum(f) / d input).</summary>
    public static ExplainSubject FromExpression(string text, IReadOnlyDictionary<string, int[]> shapes, ulong seed, SchemeInfo? scheme)
    {
        Expression expression = Expression.Parse(text);
        string[] names = [.. expression.Names()];
        if (names.Length == 0) throw new UsageException($"--expr \"{text}\" uses no input; name at least one, e.g. x, and give its --shape x=2x3.");
        foreach (string name in names)
            if (!shapes.ContainsKey(name))
                throw new UsageException($"--expr uses the input '{name}' but no --shape gives its shape; add e.g. --shape {name}=2x3.");
        foreach (string name in shapes.Keys)
            if (!names.Contains(name))
                throw new UsageException($"--shape {name}: '{name}' does not appear in --expr \"{text}\" (inputs used: {string.Join(", ", names)}).");
        Func<Tensor, Tensor> sign = scheme is null ? Ops.Sign : x => SignQuantizer(scheme).Apply(x);

        var rng = new Rng(seed);
        var inputs = new Dictionary<string, Tensor>();
        foreach (string name in names)
        {
            Tensor x = Tensor.Uniform(shapes[name], rng, -1, 1, DType.Float64, requiresGrad: true);
            x.Name = name;
            inputs[name] = x;
        }
        Tensor Loss(IReadOnlyDictionary<string, Tensor> values)
        {
            Tensor y = Evaluate(expression, values, sign, text);
            return y.Length == 1 && y.Shape.Length == 0 ? y : Ops.Sum(y);
        }
        Tensor loss = Loss(inputs);
        BackwardRecording recording = BackwardRecording.Run(loss);
        Tensor[] leaves = [.. names.Select(n => inputs[n])];
        GradCheckResult check = GradCheck.Check(ts => Loss(names.Zip(ts).ToDictionary(p => p.First, p => p.Second)), leaves);
        List<LeafCheck> checks = CheckLeaves(recording, leaves, check);
        string shapeText = string.Join(", ", names.Select(n => $"{n}: {Shapes.Format(shapes[n])}"));
        return new ExplainSubject($"explain: {text}",
            $"L = {(loss.GradFn?.Name == "sum" && !text.TrimStart().StartsWith("sum(", StringComparison.Ordinal) ? $"sum({text})" : text)}, inputs {shapeText}, drawn from U(−1, 1) in float64 with seed {seed}" +
            (scheme is null ? "; sign is the exact sign (derivative 0)." : $"; sign is scheme {scheme.Name}'s activation quantizer."),
            recording, checks, null, scheme);
    }

    /// <summary>One training step (forward, cross-entropy, backward) of <paramref name="options"/>' model on the first
    /// <paramref name="batchSize"/> training images of its data set, run in float64 (<see cref="Module.To"/>) so the
    /// finite-difference check of every parameter is meaningful.</summary>
    public static ExplainSubject FromModel(TrainOptions options, int batchSize)
    {
        ImageDataset data;
        try { data = new DatasetStore(options.DataDirectory).Load(options.Dataset, DatasetSplit.Train); }
        catch (Exception e) when (e is DatasetException or ArgumentException) { throw new UsageException(e.Message); }
        var rng = new Rng(options.Seed);
        Module model = ModelFactory.Create(options, data, rng).To(DType.Float64);
        model.Train();
        var parameters = model.NamedParameters().ToList();
        foreach (var (name, p) in parameters) p.Value.Name = name;
        Batch batch = DataLoader.ForEvaluation(data, Math.Min(batchSize, data.Count), Normalization.For(options.Dataset)).Epoch().First();
        Tensor images = Trainer.BatchTensor(batch).To(DType.Float64);
        images.Name = "images";
        int[] labels = batch.LabelSpan.ToArray();
        Tensor Loss() => Ops.CrossEntropy(model.Forward(images), labels);
        Tensor loss = Loss();
        BackwardRecording recording = BackwardRecording.Run(loss);

        Tensor[] leaves = [.. parameters.Select(p => p.Value.Value)];
        long parameterCount = leaves.Sum(l => (long)l.Length);
        if (parameterCount > MaxCheckedParameters)
            return new ExplainSubject(StepTitle(options), Describe(options, batch, labels), recording, [],
                $"Not run: the model has {parameterCount} parameters, and the check costs two forward passes per parameter; it runs for models of at most {MaxCheckedParameters} (e.g. --model mlp --width 16).",
                options.Scheme);
        GradCheckResult check = GradCheck.Check(_ => Loss(), leaves);
        List<LeafCheck> checks = CheckLeaves(recording, leaves, check);
        string note = options.Scheme is null ? "" :
            $" Scheme {options.SchemeName} binarizes with straight-through estimators: their backward is by design not the derivative of the forward, so the check of every parameter upstream of one is expected to fail; that gap is what the estimator is.";
        return new ExplainSubject(StepTitle(options), Describe(options, batch, labels), recording, checks, "Central differences of the loss in float64, step 1e-6, per parameter tensor." + note, options.Scheme);
    }

    /// <summary>Models with more parameters than this skip the finite-difference check (two forwards per parameter).</summary>
    public const long MaxCheckedParameters = 20_000;

    private static string StepTitle(TrainOptions options) => $"explain: {options.Model} / {options.SchemeName} on {options.Dataset}";

    private static string Describe(TrainOptions options, Batch batch, int[] labels) =>
        $"One training step of --model {options.Model} --scheme {options.SchemeName} --width {options.Width} (seed {options.Seed}) on the first {batch.Count} training images of {options.Dataset} " +
        $"(labels {string.Join(" ", labels)}): forward, cross-entropy loss, backward, in float64.";

    private static Tensor Evaluate(Expression expression, IReadOnlyDictionary<string, Tensor> inputs, Func<Tensor, Tensor> sign, string text)
    {
        try { return expression.Evaluate(inputs, sign); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new UsageException($"--expr \"{text}\" cannot be evaluated with the given shapes: {e.Message}");
        }
    }

    /// <summary>The check of each leaf that is a node of the recorded graph (a parameter the loss does not use is left out).</summary>
    private static List<LeafCheck> CheckLeaves(BackwardRecording recording, Tensor[] leaves, GradCheckResult check) =>
        [.. check.Inputs.Select(r => (Report: r, Node: recording.Nodes.FirstOrDefault(n => ReferenceEquals(n.Tensor, leaves[r.Input]))))
            .Where(p => p.Node is not null)
            .Select(p => new LeafCheck(p.Node!.Id, p.Report.MaxRelError, p.Report.MaxAbsError, p.Report.MaxRelError <= check.Tolerance))];

    /// <summary>The quantizer that plays <c>sign</c> in an expression: the scheme's activation quantizer, else its weight one.</summary>
    private static Quantizer SignQuantizer(SchemeInfo scheme)
    {
        SchemeInstance instance = scheme.Create(new Dictionary<string, double>(), DType.Float64);
        return instance.Activations ?? instance.Weights
            ?? throw new UsageException($"--scheme {scheme.Name} has no quantizer to use as sign.");
    }

    /// <summary>Invariant-culture number for the page.</summary>
    public static string Format(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
