namespace BinaryGrad.Autograd;

/// <summary>The gradient checks of every op in <see cref="Ops"/>, on shapes that exercise broadcasting,
/// non-contiguous views (transposes, strided slices) and size-1 axes.</summary>
public static class OpGradChecks
{
    private static GradCheckCase Case(string name, ulong seed, Func<Rng, GradCheckProblem> build) =>
        new(name, () => build(new Rng(seed)));

    private static GradCheckProblem P(Func<Tensor[], Tensor> f, params Tensor[] inputs) => new(f, inputs);

    private static Tensor L(Rng r, params int[] shape) => GradCheckInputs.Leaf(r, shape);
    private static Tensor Pos(Rng r, params int[] shape) => GradCheckInputs.Leaf(r, shape, 0.5, 2);
    private static Tensor Away(Rng r, params int[] shape) => GradCheckInputs.AwayFromZero(r, shape);

    /// <summary>All op cases, in a stable order.</summary>
    public static IReadOnlyList<GradCheckCase> All { get; } =
    [
        Case("add", 1, r => P(t => Ops.Add(t[0], t[1]), L(r, 3, 4), L(r, 3, 4))),
        Case("add/broadcast", 2, r => P(t => Ops.Add(t[0], t[1]), L(r, 2, 1, 4), L(r, 3, 1))),
        Case("add/scalar", 3, r => P(t => t[0] + 0.5, L(r, 5))),
        Case("sub/broadcast", 4, r => P(t => Ops.Sub(t[0], t[1]), L(r, 4), L(r, 3, 4))),
        Case("mul", 5, r => P(t => Ops.Mul(t[0], t[0]), L(r, 6))),
        Case("mul/transposed-view", 6, r => P(t => Ops.Mul(t[0].Transpose(0, 1), t[1]), L(r, 4, 3), L(r, 3, 1))),
        Case("mul/scalar", 7, r => P(t => t[0] * -2.5, L(r, 2, 3))),
        Case("div/broadcast", 8, r => P(t => Ops.Div(t[0], t[1]), L(r, 3, 4), Pos(r, 1, 4))),
        Case("neg", 9, r => P(t => Ops.Neg(t[0]), L(r, 3, 2))),
        Case("pow", 10, r => P(t => Ops.Pow(t[0], 2.5), Pos(r, 3, 3))),
        Case("pow/square", 11, r => P(t => Ops.Pow(t[0], 2), L(r, 4))),
        Case("exp", 12, r => P(t => Ops.Exp(t[0].Slice(1, 0, 2, 2)), L(r, 3, 4))),
        Case("log", 13, r => P(t => Ops.Log(t[0]), Pos(r, 2, 5))),
        Case("sqrt", 14, r => P(t => Ops.Sqrt(t[0]), Pos(r, 7))),
        Case("abs", 15, r => P(t => Ops.Abs(t[0]), Away(r, 2, 4))),
        Case("sign", 16, r => P(t => Ops.Add(Ops.Sign(t[0]), t[0]), Away(r, 6))),
        Case("clamp", 17, r => P(t => Ops.Clamp(t[0], -0.5, 0.5), Away(r, 4, 3))),
        Case("minimum", 18, r => P(t => Ops.Minimum(t[0], t[1]), L(r, 3, 4), L(r, 4))),
        Case("maximum", 19, r => P(t => Ops.Maximum(t[0], t[1]), L(r, 1, 5), L(r, 3, 1))),
        Case("relu", 20, r => P(t => Ops.Relu(t[0]), Away(r, 3, 5))),
        Case("leaky_relu", 21, r => P(t => Ops.LeakyRelu(t[0], 0.2), Away(r, 3, 5))),
        Case("hardtanh", 22, r => P(t => Ops.HardTanh(t[0] * 2), Away(r, 12))),
        Case("tanh", 23, r => P(t => Ops.Tanh(t[0]), L(r, 2, 3, 2))),
        Case("sigmoid", 24, r => P(t => Ops.Sigmoid(t[0].Transpose()), L(r, 3, 4))),
        Case("softplus", 25, r => P(t => Ops.Softplus(t[0] * 3, beta: 2), L(r, 8))),
        Case("where", 26, r =>
        {
            Tensor condition = Tensor.FromValues([1, 0, 0, 1, 1, 0], [2, 3], DType.Float64);
            return P(t => Ops.Where(condition, t[0], t[1]), L(r, 2, 3), L(r, 1, 3));
        }),
        Case("sum", 27, r => P(t => Ops.Sum(t[0]), L(r, 3, 4))),
        Case("sum/axes-keepdim", 28, r => P(t => Ops.Sum(t[0], [0, 2], keepDim: true), L(r, 2, 3, 4))),
        Case("sum/view", 29, r => P(t => Ops.Sum(t[0].Permute(2, 0, 1), [1]), L(r, 2, 1, 3))),
        Case("mean", 30, r => P(t => Ops.Mean(t[0], [1]), L(r, 4, 5))),
        Case("max", 31, r => P(t => Ops.Max(t[0], [-1]), GradCheckInputs.Distinct(r, [3, 5]))),
        Case("max/all", 32, r => P(t => Ops.Max(t[0]), GradCheckInputs.Distinct(r, [4, 2]))),
        Case("var", 33, r => P(t => Ops.Var(t[0], [0]), L(r, 5, 3))),
        Case("var/population-keepdim", 34, r => P(t => Ops.Var(t[0], [1, 2], keepDim: true, correction: 0), L(r, 2, 3, 2))),
        Case("matmul", 35, r => P(t => Ops.MatMul(t[0], t[1]), L(r, 3, 4), L(r, 4, 5))),
        Case("matmul/transposed", 36, r => P(t => Ops.MatMul(t[0].Transpose(), t[1]), L(r, 4, 3), L(r, 4, 2))),
        Case("matmul/batched", 37, r => P(t => Ops.MatMul(t[0], t[1]), L(r, 2, 3, 4), L(r, 2, 4, 2))),
        Case("matmul/batched-broadcast", 38, r => P(t => Ops.MatMul(t[0], t[1]), L(r, 2, 1, 3, 4), L(r, 3, 4, 2))),
        Case("matmul/batched-by-matrix", 39, r => P(t => Ops.MatMul(t[0], t[1]), L(r, 2, 3, 4), L(r, 4, 2))),
        Case("reshape", 40, r => P(t => Ops.Exp(t[0].Reshape(3, -1)), L(r, 2, 3, 2))),
        Case("reshape/of-view", 41, r => P(t => Ops.Exp(t[0].Transpose().Reshape(-1)), L(r, 2, 3))),
        Case("permute", 42, r => P(t => Ops.Mul(t[0].Permute(2, 0, 1), t[1]), L(r, 2, 3, 4), L(r, 4, 2, 3))),
        Case("transpose", 43, r => P(t => Ops.MatMul(t[0].Transpose(), t[0]), L(r, 3, 2))),
        Case("slice", 44, r => P(t => Ops.Tanh(t[0].Slice(0, 1, 2)), L(r, 4, 3))),
        Case("slice/strided", 45, r => P(t => Ops.Mul(t[0].Slice(1, 0, 3, 2), t[0].Slice(1, 1, 3, 2)), L(r, 2, 6))),
        Case("index_select", 46, r => P(t => Ops.Tanh(Ops.IndexSelect(t[0], 1, [2, 0, 2])), L(r, 2, 3))),
        Case("gather", 47, r => P(t => Ops.Tanh(Ops.Gather(t[0], 1, [0, 2, 2, 1, 0, 0], [3, 2])), L(r, 3, 3))),
        Case("concat", 48, r => P(t => Ops.Tanh(Ops.Concat([t[0], t[1].Transpose()], 1)), L(r, 2, 3), L(r, 1, 2))),
        Case("stack", 49, r => P(t => Ops.Tanh(Ops.Stack([t[0], t[1]], 1)), L(r, 2, 3), L(r, 2, 3))),
        Case("pad", 50, r => P(t => Ops.Tanh(Ops.Pad(t[0], [0, 0, 1, 2, 2, 1], value: 0.5)), L(r, 1, 2, 3))),
        Case("softmax", 51, r => P(t => Ops.Softmax(t[0]), L(r, 3, 5))),
        Case("softmax/axis0", 52, r => P(t => Ops.Softmax(t[0] * 3, 0), L(r, 4, 2))),
        Case("log_softmax", 53, r => P(t => Ops.LogSoftmax(t[0] * 4), L(r, 2, 6))),
        Case("cross_entropy", 54, r => P(t => Ops.CrossEntropy(t[0] * 3, [2, 0, 4, 4]), L(r, 4, 5))),
        Case("cross_entropy/label-smoothing", 55, r => P(t => Ops.CrossEntropy(t[0] * 3, [1, 0, 2], labelSmoothing: 0.1), L(r, 3, 4))),
        Case("nll", 56, r => P(t => Ops.Nll(Ops.LogSoftmax(t[0]), [1, 3, 0]), L(r, 3, 4))),
        Case("mse", 57, r => P(t => Ops.Mse(t[0], t[1]), L(r, 3, 4), L(r, 4))),
        Case("copy", 58, r => P(t => Ops.Exp(t[0].Transpose().Contiguous()), L(r, 2, 3))),
        Case("expand", 59, r => P(t => Ops.Exp(t[0].Expand(3, 2, 4)), L(r, 2, 1))),
        Case("subsample_pad", 60, r => P(t => Ops.SubsamplePad(t[0], 2, 1, 2), L(r, 2, 3, 5, 4))),
        Case("subsample_pad/view-stride3", 61, r => P(t => Ops.SubsamplePad(t[0].Transpose(2, 3), 3, 0, 1), L(r, 1, 2, 4, 7))),
        // the clamp window widened to ±1.5 so that most a = BN(x) + s fall inside it (random a sit on no bound)
        Case("batch_norm_add_clamp", 62, r => P(t => Ops.BatchNormAddClamp(t[0], t[1], t[2], null, null, t[3], training: true, min: -1.5, max: 1.5),
            L(r, 3, 2, 2, 3), Pos(r, 2), L(r, 2), L(r, 3, 2, 2, 3))),
        Case("batch_norm_add_prelu", 63, r => P(t => Ops.BatchNormAddPRelu(t[0], t[1], t[2], null, null, t[3], t[4], training: true),
            L(r, 3, 2, 2, 3), Pos(r, 2), L(r, 2), L(r, 3, 2, 2, 3), L(r, 2))),
    ];
}
