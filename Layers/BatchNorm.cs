using BinaryGrad.Autograd;

namespace BinaryGrad.Layers;

/// <summary>Batch normalisation over the channel axis (<see cref="Ops.BatchNorm"/>), shared by
/// <see cref="BatchNorm1d"/> ([N,C]) and <see cref="BatchNorm2d"/> ([N,C,H,W]).</summary>
/// <remarks>
/// Parameters (when affine) <c>weight</c> γ = 1 and <c>bias</c> β = 0; buffers <c>running_mean</c> = 0,
/// <c>running_var</c> = 1 and <c>num_batches_tracked</c> (float64 counter, kept float64 under <see cref="Module.To"/>).
/// Training normalises with batch statistics and moves the running ones by <see cref="Momentum"/>
/// (<c>r ← (1 − m)·r + m·batch</c>, unbiased variance); evaluation normalises with the running ones.
/// </remarks>
public abstract class BatchNormBase : Module
{
    private readonly ModuleBuffer _runningMean, _runningVar, _batchesTracked;
    private readonly int _inputRank;

    private protected BatchNormBase(int features, int inputRank, double momentum, double eps, bool affine)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        (Features, Momentum, Eps, _inputRank) = (features, momentum, eps, inputRank);
        if (affine)
        {
            Weight = RegisterParameter("weight", Tensor.Ones([features]));
            Bias = RegisterParameter("bias", Tensor.Zeros([features]));
        }
        _runningMean = RegisterBuffer("running_mean", Tensor.Zeros([features]));
        _runningVar = RegisterBuffer("running_var", Tensor.Ones([features]));
        _batchesTracked = RegisterBuffer("num_batches_tracked", Tensor.Zeros([], DType.Float64), followsModuleDType: false);
    }

    public int Features { get; }
    public double Momentum { get; }
    public double Eps { get; }
    public Parameter? Weight { get; }
    public Parameter? Bias { get; }
    public Tensor RunningMean => _runningMean.Value;
    public Tensor RunningVar => _runningVar.Value;

    /// <summary>Training batches seen so far.</summary>
    public long BatchesTracked => (long)_batchesTracked.Value.Item();

    // During BatchNormRecalibration: the number of batches averaged so far, else null.
    private int? _recalibrated;
    private double _trackedBefore;

    /// <summary>Starts re-estimating the running statistics (<see cref="BatchNormRecalibration"/>): training mode for
    /// this layer alone, and each following batch moves the running statistics by momentum 1/(k + 1) for its
    /// 0-based index k, so after K batches they are the plain averages of the K batches' means and unbiased variances
    /// (PyTorch's <c>momentum=None</c>).</summary>
    internal void BeginRecalibration()
    {
        _recalibrated = 0;
        _trackedBefore = _batchesTracked.Value.AsSpan<double>()[0];
        Train(true);
    }

    /// <summary>Ends <see cref="BeginRecalibration"/>: evaluation mode, and the training-batch counter as it was.</summary>
    internal void EndRecalibration()
    {
        _recalibrated = null;
        _batchesTracked.Value.AsSpan<double>()[0] = _trackedBefore;
        Train(false);
    }

    // The momentum of the next training batch: the layer's own, or the running average's while recalibrating.
    private double NextMomentum()
    {
        if (!Training) return Momentum;
        _batchesTracked.Value.AsSpan<double>()[0] += 1;
        if (_recalibrated is not int k) return Momentum;
        _recalibrated = k + 1;
        return 1.0 / (k + 1);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        CheckInput(x);
        return Ops.BatchNorm(x, Weight?.Value, Bias?.Value, RunningMean, RunningVar, Training, NextMomentum(), Eps);
    }

    /// <summary><c>clamp(this(x) + shortcut, min, max)</c> as one op (<see cref="Ops.BatchNormAddClamp"/>): a Bi-Real
    /// unit's batch norm, residual add and Hardtanh, bit for bit the three applied one after the other.</summary>
    public Tensor ForwardAddClamp(Tensor x, Tensor shortcut, double min, double max)
    {
        CheckInput(x);
        return Ops.BatchNormAddClamp(x, Weight?.Value, Bias?.Value, RunningMean, RunningVar, shortcut, Training, NextMomentum(), Eps, min, max);
    }

    /// <summary><c>PReLU(this(x) + shortcut)</c> as one op (<see cref="Ops.BatchNormAddPRelu"/>): a SiMaN unit's batch
    /// norm, residual add and PReLU, bit for bit the three applied one after the other.</summary>
    public Tensor ForwardAddPRelu(Tensor x, Tensor shortcut, Tensor slopes)
    {
        CheckInput(x);
        return Ops.BatchNormAddPRelu(x, Weight?.Value, Bias?.Value, RunningMean, RunningVar, shortcut, slopes, Training, NextMomentum(), Eps);
    }

    private void CheckInput(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != _inputRank || x.Shape[1] != Features)
            throw new ArgumentException($"{GetType().Name}({Features}): input {Shapes.Format(x.Shape)} must be {(_inputRank == 2 ? "[N," + Features + "]" : "[N," + Features + ",H,W]")}.");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{GetType().Name}({Features}, momentum={Momentum}, eps={Eps}{(Weight is null ? ", affine=false" : "")})";
}

/// <summary>Batch normalisation of features, input [N,C]; see <see cref="BatchNormBase"/>.</summary>
public sealed class BatchNorm1d(int features, double momentum = 0.1, double eps = 1e-5, bool affine = true)
    : BatchNormBase(features, 2, momentum, eps, affine);

/// <summary>Batch normalisation of image channels, input [N,C,H,W] (statistics over N, H, W); see <see cref="BatchNormBase"/>.</summary>
public sealed class BatchNorm2d(int channels, double momentum = 0.1, double eps = 1e-5, bool affine = true)
    : BatchNormBase(channels, 4, momentum, eps, affine);

/// <summary>Re-estimates every batch norm's running statistics of a trained network from a stream of (training)
/// batches, the rest of the network in evaluation mode: the standard step before evaluating or exporting a binary
/// network whose running averages lag its weights (at a high learning rate a quarter of the binary weights flip per
/// epoch, and momentum 0.1 averages over about the last ten steps of a moving network; docs/cifar10.md).</summary>
/// <remarks>Each batch norm's running mean and variance become the plain averages, over the batches, of the batch
/// means and unbiased batch variances it sees (its input computed by the layers before it with their re-estimated
/// statistics, in one pass). The layers' training-batch counters are left as they were; no gradient is recorded.</remarks>
public static class BatchNormRecalibration
{
    /// <summary>Runs <paramref name="model"/> on every batch of <paramref name="batches"/> and returns how many there
    /// were; afterwards the model is in evaluation mode.</summary>
    /// <exception cref="ArgumentException">The model has no batch norm.</exception>
    public static int Run(Module model, IEnumerable<Tensor> batches)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        List<BatchNormBase> norms = [.. Descendants(model).OfType<BatchNormBase>()];
        if (norms.Count == 0) throw new ArgumentException($"{model.GetType().Name} has no batch norm whose statistics could be re-estimated.", nameof(model));
        model.Eval();
        int count = 0;
        try
        {
            foreach (BatchNormBase norm in norms) norm.BeginRecalibration();
            using (GradMode.NoGrad())
                foreach (Tensor batch in batches)
                {
                    model.Forward(batch);
                    count++;
                }
        }
        finally
        {
            foreach (BatchNormBase norm in norms) norm.EndRecalibration();
        }
        return count;
    }

    private static IEnumerable<Module> Descendants(Module module)
    {
        yield return module;
        foreach ((_, Module child) in module.NamedChildren())
            foreach (Module inner in Descendants(child)) yield return inner;
    }
}
