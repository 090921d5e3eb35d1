#!/usr/bin/env python3
"""Training peer for BenchTrain: PyTorch CPU training steps at batch 128 of the same models BinaryGrad trains.

Usage: torch_train.py THREADS [MODEL SCHEME]
  without MODEL: the float MLP 784-512-512-10 and the float small CNN (MNIST-shaped data), as before;
  MODEL in mlp, cnn, vgg-small, resnet20, resnet18, resnet20-basic, resnet18-basic (the last five also with a -prelu
  suffix: SiMaN's per-channel PReLU units) and SCHEME in none, bnn,
  binaryconnect: the model BinaryGrad builds for that --model/--scheme (binary MLP/CNN on MNIST shapes, the others on
  CIFAR-10 shapes [128, 3, 32, 32]; SCHEME none: the float MLP/CNN, and VGG-Small and the ResNets with float weights
  and inputs in every convolution).
Prints one JSON object per model per line:
{"name": ..., "images_per_s": ..., "ms_per_step": ..., "steps": ...} (median of RUNS timed runs after warm-up).
A step is what BenchTrain times: forward, cross-entropy, loss.item(), zero_grad, backward, Adam step (lr 1e-3), on
seeded random data (inputs N(0, 1), labels uniform in 0..9).

Binarization as the reference PyTorch code of BNN/RBNN/Bi-Real does it: a custom autograd Function whose forward is
sign and whose backward is the straight-through estimator (identity for weights, 1[|x| <= 1] for activations), applied
to the latent weights and to the inputs of every binary layer; the convolution itself is PyTorch's float one (oneDNN).
The caller chooses the thread/BLAS environment (BenchTrain tries several and keeps the fastest). The names must match
BenchTrain's row names.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 128
RUNS = 5
WARMUP_STEPS = 3
TARGET_RUN_SECONDS = 1.0


class SignWeightSte(torch.autograd.Function):
    """w_b = sign(w), dw = dw_b (identity straight-through, BinaryConnect / BNN weights)."""

    @staticmethod
    def forward(ctx, w):
        return torch.sign(w)

    @staticmethod
    def backward(ctx, g):
        return g


class SignActivationSte(torch.autograd.Function):
    """a_b = sign(a), da = da_b * 1[|a| <= 1] (BNN's clipped straight-through estimator)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return torch.sign(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * (a.abs() <= 1).to(g.dtype)


class BinaryConv2d(nn.Conv2d):
    """binary_weights False (set by build for SCHEME none): the float baseline's plain convolution."""
    def __init__(self, cin, cout, k, binary_inputs, stride=1, padding=0):
        super().__init__(cin, cout, k, stride=stride, padding=padding, bias=False)
        self.binary_inputs = binary_inputs
        self.binary_weights = True

    def forward(self, x):
        if self.binary_inputs:
            x = SignActivationSte.apply(x)
        w = SignWeightSte.apply(self.weight) if self.binary_weights else self.weight
        return F.conv2d(x, w, None, self.stride, self.padding)


class BinaryLinear(nn.Linear):
    def __init__(self, cin, cout, binary_inputs):
        super().__init__(cin, cout, bias=False)
        self.binary_inputs = binary_inputs

    def forward(self, x):
        if self.binary_inputs:
            x = SignActivationSte.apply(x)
        return F.linear(x, SignWeightSte.apply(self.weight))


def act(binary_activations):
    """BinaryModels.Activation: Hardtanh when the scheme binarizes activations, else ReLU."""
    return nn.Hardtanh() if binary_activations else nn.ReLU()


def float_mlp():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 512), nn.BatchNorm1d(512), nn.ReLU(),
        nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(),
        nn.Linear(512, 10))


def float_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10))


def binary_mlp(ba):
    """BinaryModels.Mlp: Flatten, [BinaryLinear -> BN1d (-> ReLU for weights-only schemes)] x 3 hidden of 1024, then
    BinaryLinear -> BN1d(10); the first layer takes the real pixels."""
    layers = [nn.Flatten()]
    width = 784
    for layer in range(4):
        out = 10 if layer == 3 else 1024
        layers += [BinaryLinear(width, out, ba and layer > 0), nn.BatchNorm1d(out)]
        if layer < 3 and not ba:
            layers.append(nn.ReLU())
        width = out
    return nn.Sequential(*layers)


def binary_cnn(ba):
    """BinaryModels.Cnn on 28x28: real conv 1->32, BN, act; binary conv 32->64, MP2, BN, act; binary conv 64->128, MP2,
    BN, act; Flatten, binary FC 6272->10, BN1d."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), act(ba),
        BinaryConv2d(32, 64, 3, ba, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(64), act(ba),
        BinaryConv2d(64, 128, 3, ba, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(128), act(ba),
        nn.Flatten(), BinaryLinear(128 * 7 * 7, 10, ba), nn.BatchNorm1d(10))


def vgg_small(ba, prelu=False):
    """BinaryModels.VggSmall: real C128-BN-Hardtanh, binary C128-MP2-BN-Hardtanh, C256-BN-Hardtanh,
    C256-MP2-BN-Hardtanh, C512-BN-Hardtanh, C512-MP2-BN-Hardtanh, real FC 8192->10 with bias; with prelu (vgg-small-prelu,
    SiMaN's vgg_small_1w1a) a per-channel PReLU in place of every Hardtanh."""
    def nonlinearity(channels):
        return nn.PReLU(channels) if prelu else nn.Hardtanh()
    layers = [nn.Conv2d(3, 128, 3, padding=1, bias=False), nn.BatchNorm2d(128), nonlinearity(128)]
    width = 128
    for out, pool in [(128, True), (256, False), (256, True), (512, False), (512, True)]:
        layers.append(BinaryConv2d(width, out, 3, ba, padding=1))
        if pool:
            layers.append(nn.MaxPool2d(2))
        layers += [nn.BatchNorm2d(out), nonlinearity(out)]
        width = out
    layers += [nn.Flatten(), nn.Linear(512 * 4 * 4, 10)]
    return nn.Sequential(*layers)


class ZeroPadShortcut(nn.Module):
    """Option A: x[:, :, ::s, ::s] with (out - in) zero channels split around it."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride, self.before, self.after = stride, (cout - cin) // 2, cout - cin - (cout - cin) // 2

    def forward(self, x):
        return F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.before, self.after))


class BiRealUnit(nn.Module):
    """y = act(BN(binconv(x)) + shortcut(x)) (BinaryResNets, ResNetBlock.BiReal); act a per-channel PReLU with prelu."""

    def __init__(self, cin, cout, stride, ba, prelu=False):
        super().__init__()
        self.conv = BinaryConv2d(cin, cout, 3, ba, stride=stride, padding=1)
        self.bn = nn.BatchNorm2d(cout)
        self.shortcut = ZeroPadShortcut(cin, cout, stride) if stride != 1 or cin != cout else nn.Identity()
        self.act = nn.PReLU(cout) if prelu else act(ba)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)) + self.shortcut(x))


class BasicBlock(nn.Module):
    """y = act(BN(binconv2(act(BN(binconv1(x))))) + shortcut(x)) (ResNetBlock.Basic)."""

    def __init__(self, cin, cout, stride, ba, prelu=False):
        super().__init__()
        self.main = nn.Sequential(BinaryConv2d(cin, cout, 3, ba, stride=stride, padding=1), nn.BatchNorm2d(cout),
                                  nn.PReLU(cout) if prelu else act(ba),
                                  BinaryConv2d(cout, cout, 3, ba, padding=1), nn.BatchNorm2d(cout))
        self.shortcut = ZeroPadShortcut(cin, cout, stride) if stride != 1 or cin != cout else nn.Identity()
        self.act = nn.PReLU(cout) if prelu else act(ba)

    def forward(self, x):
        return self.act(self.main(x) + self.shortcut(x))


def resnet(blocks, widths, ba, basic, prelu=False):
    """BinaryResNets.Build; with prelu (the -prelu models, SiMaN's resnet20_1w1a) ReLU after the stem and a per-channel
    PReLU after every unit."""
    layers = [nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU() if prelu else act(ba)]
    width = widths[0]
    for stage, (count, out) in enumerate(zip(blocks, widths)):
        for b in range(count):
            stride = 2 if stage > 0 and b == 0 else 1
            if basic:
                layers.append(BasicBlock(width, out, stride, ba, prelu))
            else:
                layers += [BiRealUnit(width, out, stride, ba, prelu), BiRealUnit(out, out, 1, ba, prelu)]
            width = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.BatchNorm1d(width), nn.Linear(width, 10)]
    return nn.Sequential(*layers)


MODELS = [("mlp 784-512-512-10 batch 128", float_mlp), ("cnn conv32-conv64 batch 128", float_cnn)]


def build(model, scheme):
    ba = scheme == "bnn"
    if scheme == "none" and model in ("mlp", "cnn"):
        return {"mlp": float_mlp, "cnn": float_cnn}[model]()
    prelu = model.endswith("-prelu")
    base = model[:-len("-prelu")] if prelu else model
    net = {
        "mlp": lambda: binary_mlp(ba),
        "cnn": lambda: binary_cnn(ba),
        "vgg-small": lambda: vgg_small(ba, prelu),
        "resnet20": lambda: resnet([3, 3, 3], [16, 32, 64], ba, False, prelu),
        "resnet18": lambda: resnet([2, 2, 2, 2], [64, 128, 256, 512], ba, False, prelu),
        "resnet20-basic": lambda: resnet([3, 3, 3], [16, 32, 64], ba, True, prelu),
        "resnet18-basic": lambda: resnet([2, 2, 2, 2], [64, 128, 256, 512], ba, True, prelu),
    }[base]()
    if scheme == "none":  # VGG-Small and the ResNets at full precision: the same network, no sign anywhere
        for m in net.modules():
            if isinstance(m, BinaryConv2d):
                m.binary_weights = False
    return net


def input_shape(model):
    return (BATCH, 1, 28, 28) if model in ("mlp", "cnn") else (BATCH, 3, 32, 32)


def measure(name, build_model, shape):
    torch.manual_seed(42)
    model = build_model()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(*shape)
    labels = torch.randint(0, 10, (BATCH,))

    def step():
        loss = F.cross_entropy(model(x), labels)
        loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    warm = 0.0
    for _ in range(WARMUP_STEPS):
        start = time.perf_counter()
        step()
        warm = time.perf_counter() - start
    steps = max(2, min(200, int(TARGET_RUN_SECONDS / max(warm, 1e-6))))
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        times.append(time.perf_counter() - start)
    t = statistics.median(times)
    print(json.dumps({"name": name, "images_per_s": steps * BATCH / t, "ms_per_step": t / steps * 1e3, "steps": steps}),
          flush=True)


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    if len(sys.argv) > 3:
        model, scheme = sys.argv[2], sys.argv[3]
        # the float MLP and CNN keep the names of the default run (BenchTrain.MlpName / CnnName)
        name = {("mlp", "none"): MODELS[0][0], ("cnn", "none"): MODELS[1][0]}.get((model, scheme), f"{model} {scheme} batch {BATCH}")
        measure(name, lambda: build(model, scheme), input_shape(model))
        return
    for name, build_model in MODELS:
        measure(name, build_model, (BATCH, 1, 28, 28))


if __name__ == "__main__":
    main()
