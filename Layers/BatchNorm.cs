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

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        CheckInput(x);
        if (Training) _batchesTracked.Value.AsSpan<double>()[0] += 1;
        return Ops.BatchNorm(x, Weight?.Value, Bias?.Value, RunningMean, RunningVar, Training, Momentum, Eps);
    }

    /// <summary><c>clamp(this(x) + shortcut, min, max)</c> as one op (<see cref="Ops.BatchNormAddClamp"/>): a Bi-Real
    /// unit's batch norm, residual add and Hardtanh, bit for bit the three applied one after the other.</summary>
    public Tensor ForwardAddClamp(Tensor x, Tensor shortcut, double min, double max)
    {
        CheckInput(x);
        if (Training) _batchesTracked.Value.AsSpan<double>()[0] += 1;
        return Ops.BatchNormAddClamp(x, Weight?.Value, Bias?.Value, RunningMean, RunningVar, shortcut, Training, Momentum, Eps, min, max);
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
