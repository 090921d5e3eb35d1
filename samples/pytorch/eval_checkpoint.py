#!/usr/bin/env python3
"""Rebuild a BinaryGrad 1W/1A network (scheme bnn) in PyTorch, load a BinaryGrad checkpoint into it and evaluate it.

BinaryGrad checkpoints are safetensors files (docs/pytorch.md lists the names and layouts). This script reads them
with a small reader of the format (an 8-byte little-endian header length, a JSON header of
{name: {dtype, shape, data_offsets}}, then the raw little-endian tensor bytes) so that it needs only PyTorch and NumPy;
with the `safetensors` package installed, `safetensors.torch.load_file(path)` gives the same tensors.

    python3 samples/pytorch/eval_checkpoint.py CHECKPOINT --data-dir DIR

It prints the test accuracy, which must match `binarygrad eval --checkpoint CHECKPOINT` to within 0.05 points. From
here a user can keep training the same weights in PyTorch (e.g. with DistributedDataParallel over many GPUs).
Models: mlp (MNIST or Fashion-MNIST), vgg-small and resnet20 (CIFAR-10); scheme bnn (sign of the weights, sign of the inputs of
every binary layer but the first, sign(0) = +1, no scaling factors).
"""
import argparse, json, os, struct, sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F64": np.float64}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors, metadata


def sign(x):
    """BinaryGrad's sign: +1 for x >= 0 (zero included), -1 otherwise."""
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


class BinaryLinear(nn.Linear):
    def __init__(self, i, o, sign_input):
        super().__init__(i, o, bias=False)
        self.sign_input = sign_input

    def forward(self, x):
        return F.linear(sign(x) if self.sign_input else x, sign(self.weight))


class BinaryConv2d(nn.Conv2d):
    def __init__(self, i, o, stride=1):
        super().__init__(i, o, 3, stride=stride, padding=1, bias=False)

    def forward(self, x):
        return F.conv2d(sign(x), sign(self.weight), stride=self.stride, padding=1)


class Residual(nn.Module):
    """y = main(x) + shortcut(x), the shortcut the identity when absent (BinaryGrad's Residual)."""

    def __init__(self, main, shortcut=None):
        super().__init__()
        self.main, self.shortcut = main, shortcut

    def forward(self, x):
        return self.main(x) + (x if self.shortcut is None else self.shortcut(x))


class ZeroPadShortcut(nn.Module):
    """He et al.'s option A: x[:, :, ::s, ::s] with zero channels before and after (no parameters)."""

    def __init__(self, i, o, stride):
        super().__init__()
        self.stride, self.before, self.after = stride, (o - i) // 2, o - i - (o - i) // 2

    def forward(self, x):
        return F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.before, self.after))


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def mlp(inputs, hidden, hidden_layers, classes):
    layers, width = [nn.Flatten()], inputs
    for layer in range(hidden_layers + 1):
        out = classes if layer == hidden_layers else hidden
        layers += [BinaryLinear(width, out, sign_input=layer > 0), nn.BatchNorm1d(out)]
        width = out
    return nn.Sequential(*layers)


def vgg_small(classes):
    layers = [nn.Conv2d(3, 128, 3, padding=1, bias=False), nn.BatchNorm2d(128), nn.Hardtanh()]
    width = 128
    for out, pool in [(128, True), (256, False), (256, True), (512, False), (512, True)]:
        layers.append(BinaryConv2d(width, out))
        if pool:
            layers.append(nn.MaxPool2d(2))
        layers += [nn.BatchNorm2d(out), nn.Hardtanh()]
        width = out
    layers += [nn.Flatten(), nn.Linear(width * 4 * 4, classes)]
    return nn.Sequential(*layers)


def resnet20(classes):
    """Bi-Real units (a real shortcut around every binary 3x3 convolution), zero-padded downsampling shortcuts."""
    layers = [nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.Hardtanh()]
    width = 16
    for stage, out in enumerate([16, 32, 64]):
        for block in range(3):
            stride = 2 if stage > 0 and block == 0 else 1
            shortcut = ZeroPadShortcut(width, out, stride) if stride > 1 or width != out else None
            layers += [Residual(nn.Sequential(BinaryConv2d(width, out, stride), nn.BatchNorm2d(out)), shortcut), nn.Hardtanh()]
            layers += [Residual(nn.Sequential(BinaryConv2d(out, out), nn.BatchNorm2d(out))), nn.Hardtanh()]
            width = out
    layers += [GlobalAvgPool(), nn.BatchNorm1d(width), nn.Linear(width, classes)]
    return nn.Sequential(*layers)


def load_idx(path):
    with open(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = [struct.unpack(">I", f.read(4))[0] for _ in range(magic & 0xFF)]
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


NORMALIZATION = {"mnist": ([0.1307], [0.3081]), "fashion-mnist": ([0.2860], [0.3530]),
                 "cifar10": ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616])}


def test_set(dataset, data_dir):
    if dataset in ("mnist", "fashion-mnist"):
        folder = os.path.join(data_dir, dataset)
        images = load_idx(os.path.join(folder, "t10k-images-idx3-ubyte"))[:, None]
        labels = load_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"))
    elif dataset == "cifar10":
        raw = np.fromfile(os.path.join(data_dir, "cifar10", "test_batch.bin"), dtype=np.uint8).reshape(-1, 3073)
        labels, images = raw[:, 0], raw[:, 1:].reshape(-1, 3, 32, 32)
    else:
        sys.exit(f"eval_checkpoint.py: dataset '{dataset}' is not one this script reads")
    mean, std = NORMALIZATION[dataset]
    # (byte / 255 - mean) / std in float32, as BinaryGrad's Normalization computes it
    x = (images.astype(np.float32) / np.float32(255) - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(labels.astype(np.int64))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data-dir", default=os.environ.get("BINARYGRAD_DATA", os.path.expanduser("~/.cache/binarygrad")))
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    tensors, meta = load_safetensors(args.checkpoint)
    model_name, scheme, dataset = meta.get("model"), meta.get("scheme"), meta.get("dataset")
    if scheme != "bnn":
        sys.exit(f"eval_checkpoint.py: scheme '{scheme}' is not supported here (bnn is)")
    x, y = test_set(dataset, args.data_dir)
    classes = 10
    if model_name == "mlp":
        net = mlp(x[0].numel(), int(meta.get("width", 1024)), 3, classes)
    elif model_name == "vgg-small":
        net = vgg_small(classes)
    elif model_name == "resnet20":
        net = resnet20(classes)
    else:
        sys.exit(f"eval_checkpoint.py: model '{model_name}' is not supported here (mlp, vgg-small, resnet20 are)")
    state = {k[len("model.layers."):]: v for k, v in tensors.items() if k.startswith("model.layers.")}
    state = {k: (v.to(torch.int64) if k.endswith("num_batches_tracked") else v) for k, v in state.items()}
    net.load_state_dict(state, strict=True)
    net.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(y), args.batch):
            correct += (net(x[i:i + args.batch]).argmax(1) == y[i:i + args.batch]).sum().item()
    print(f"{model_name} ({scheme}, {dataset}) in PyTorch {torch.__version__}: test accuracy {100 * correct / len(y):.2f} % ({len(y)} images)")


if __name__ == "__main__":
    main()
