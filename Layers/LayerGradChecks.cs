using BinaryGrad.Autograd;

namespace BinaryGrad.Layers;

/// <summary>The float64 gradient checks of the layer ops (<see cref="Ops.Linear"/>, <see cref="Ops.Conv2D"/>, pooling,
/// <see cref="Ops.BatchNorm"/>, <see cref="Ops.Dropout"/>, <see cref="Ops.PRelu"/>) and of whole layers: each layer case
/// converts a freshly built module with <see cref="Module.To"/>(Float64) and checks its input and every parameter.</summary>
public static class LayerGradChecks
{
    private static GradCheckCase Case(string name, ulong seed, Func<Rng, GradCheckProblem> build) =>
        new(name, () => build(new Rng(seed)));

    private static GradCheckProblem P(Func<Tensor[], Tensor> f, params Tensor[] inputs) => new(f, inputs);
    private static Tensor L(Rng r, params int[] shape) => GradCheckInputs.Leaf(r, shape);

    /// <summary>A layer case: inputs are x followed by the module's parameters (the same tensor objects, so the finite
    /// differences perturb the parameters the module reads).</summary>
    private static GradCheckCase LayerCase(string name, ulong seed, Func<Rng, Module> build, Func<Rng, Tensor> input) =>
        Case(name, seed, r =>
        {
            Module module = build(r).To(DType.Float64);
            Tensor x = input(r);
            return P(t => module.Forward(t[0]), [x, .. module.Parameters().Select(p => p.Value)]);
        });

    /// <summary>Every case, in a stable order.</summary>
    public static IReadOnlyList<GradCheckCase> All { get; } =
    [
        Case("linear", 101, r => P(t => Ops.Linear(t[0], t[1], t[2]), L(r, 4, 3), L(r, 5, 3), L(r, 5))),
        Case("linear/no-bias", 102, r => P(t => Ops.Linear(t[0], t[1]), L(r, 2, 6), L(r, 3, 6))),
        Case("conv2d", 103, r => P(t => Ops.Conv2D(t[0], t[1], t[2]), L(r, 2, 3, 5, 5), L(r, 4, 3, 3, 3), L(r, 4))),
        Case("conv2d/stride2-pad1-dilation2", 104, r => P(t => Ops.Conv2D(t[0], t[1], t[2], stride: 2, padding: 1, dilation: 2),
            L(r, 2, 2, 7, 6), L(r, 3, 2, 3, 2), L(r, 3))),
        Case("conv2d/pointwise-no-bias", 105, r => P(t => Ops.Conv2D(t[0], t[1]), L(r, 2, 3, 3, 4), L(r, 2, 3, 1, 1))),
        Case("maxpool2d", 106, r => P(t => Ops.MaxPool2D(t[0], 2), GradCheckInputs.Distinct(r, [2, 3, 4, 6]))),
        Case("maxpool2d/overlap-pad", 107, r => P(t => Ops.MaxPool2D(t[0], 3, stride: 2, padding: 1), GradCheckInputs.Distinct(r, [1, 2, 5, 5]))),
        Case("avgpool2d", 108, r => P(t => Ops.AvgPool2D(t[0], 2), L(r, 2, 2, 4, 4))),
        Case("avgpool2d/overlap-pad", 109, r => P(t => Ops.AvgPool2D(t[0], 3, stride: 2, padding: 1), L(r, 1, 2, 5, 6))),
        Case("global_avg_pool2d", 110, r => P(t => Ops.GlobalAvgPool2D(t[0]), L(r, 2, 3, 3, 2))),
        Case("batchnorm1d/training", 111, r => BatchNormProblem(r, [6, 4], training: true)),
        Case("batchnorm1d/eval", 112, r => BatchNormProblem(r, [5, 3], training: false)),
        Case("batchnorm2d/training", 113, r => BatchNormProblem(r, [3, 2, 3, 4], training: true)),
        Case("batchnorm2d/eval", 114, r => BatchNormProblem(r, [2, 3, 2, 2], training: false)),
        Case("batchnorm2d/no-affine", 115, r =>
        {
            Tensor rm = Tensor.Zeros([2], DType.Float64), rv = Tensor.Ones([2], DType.Float64);
            return P(t => Ops.BatchNorm(t[0], null, null, rm, rv, training: true), L(r, 2, 2, 3, 3));
        }),
        Case("dropout", 116, r =>
        {
            ulong maskSeed = r.NextUInt64(); // the same mask on every evaluation, as finite differences need
            return P(t => Ops.Dropout(t[0], 0.4, new Rng(maskSeed), training: true), L(r, 4, 5));
        }),
        Case("prelu/per-channel", 117, r => P(t => Ops.PRelu(t[0], t[1]), GradCheckInputs.AwayFromZero(r, [2, 3, 2, 2]), L(r, 3))),
        Case("prelu/shared", 118, r => P(t => Ops.PRelu(t[0], t[1]), GradCheckInputs.AwayFromZero(r, [4, 5]), L(r, 1))),
        LayerCase("layer/linear", 201, r => new Linear(5, 3, r), r => L(r, 4, 5)),
        LayerCase("layer/conv2d", 202, r => new Conv2d(2, 3, 3, r, stride: 2, padding: 1), r => L(r, 2, 2, 5, 5)),
        LayerCase("layer/batchnorm1d", 203, r => new BatchNorm1d(3), r => L(r, 5, 3)),
        LayerCase("layer/batchnorm2d", 204, r => new BatchNorm2d(2), r => L(r, 2, 2, 3, 3)),
        LayerCase("layer/prelu", 205, r => new PReLU(2), r => GradCheckInputs.AwayFromZero(r, [3, 2, 2, 2])),
        LayerCase("layer/residual-block", 206, r => new ResidualBlock(2, 2, r), r => L(r, 2, 2, 4, 4)),
        LayerCase("layer/residual-block-projection", 207, r => new ResidualBlock(2, 3, r, stride: 2), r => L(r, 2, 2, 4, 4)),
        LayerCase("layer/mlp", 208, r => Models.Mlp(r, 6, [5], 3), r => L(r, 4, 1, 2, 3)),
        // Binary ResNets with a smooth scheme (self-binarizing: tanh(v·x) on weights and activations, exact gradient),
        // so finite differences see the same function the backward differentiates: two stages [2→4 channels] on 4×4.
        LayerCase("layer/binary-resnet/bi-real-zero-pad", 209, r => TinyResNet(r, ResNetBlock.BiReal, ResNetDownsample.ZeroPad), r => L(r, 3, 1, 4, 4)),
        LayerCase("layer/binary-resnet/basic-avgpool-conv", 210, r => TinyResNet(r, ResNetBlock.Basic, ResNetDownsample.AvgPoolConv), r => L(r, 3, 1, 4, 4)),
        LayerCase("layer/binary-resnet/bi-real-prelu", 211, r => TinyResNet(r, ResNetBlock.BiReal, ResNetDownsample.ZeroPad, BlockNonlinearity.PReLU), r => L(r, 3, 1, 4, 4)),
        // the same builder at full precision (the float baseline scheme: no quantizer, ReLU units), as `train --model
        // resnet20-basic` builds it without a scheme
        LayerCase("layer/binary-resnet/float-basic", 212, r => TinyResNet(r, ResNetBlock.Basic, ResNetDownsample.ZeroPad, scheme: Binarization.SchemeRegistry.FloatBaselineName), r => L(r, 3, 1, 4, 4)),
    ];

    private static Module TinyResNet(Rng r, ResNetBlock block, ResNetDownsample downsample, BlockNonlinearity nonlinearity = BlockNonlinearity.Scheme,
                                     string scheme = "self-binarizing") =>
        BinaryResNets.Build("tiny resnet", r, () => Binarization.SchemeRegistry.Create(scheme), [1, 1], [2, 4], 1, 3, 4, block, downsample, nonlinearity);

    private static GradCheckProblem BatchNormProblem(Rng r, int[] shape, bool training)
    {
        int c = shape[1];
        Tensor x = L(r, shape), gamma = GradCheckInputs.Leaf(r, [c], 0.5, 1.5), beta = L(r, c);
        Tensor rm = GradCheckInputs.Leaf(r, [c], -0.5, 0.5), rv = GradCheckInputs.Leaf(r, [c], 0.5, 2);
        rm.RequiresGrad = false;
        rv.RequiresGrad = false;
        // Running statistics are not inputs: the check perturbs only x, gamma and beta.
        return P(t => Ops.BatchNorm(t[0], t[1], t[2], rm, rv, training), x, gamma, beta);
    }
}
