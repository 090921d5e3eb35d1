#!/usr/bin/env python3
"""Inference peer for BenchInfer: PyTorch CPU evaluation forwards of the float models with the architectures BinaryGrad
exports to .bgm.

Usage: torch_infer.py THREADS MODEL BATCH
  MODEL in mlp, cnn, vgg-small, resnet20, resnet18, resnet20-basic, resnet18-basic (the last five also with a -prelu
  suffix, SiMaN's PReLU units): the architecture that
  `binarygrad train --model MODEL --scheme bnn` builds (torch_train.build), with every binary layer replaced by the
  plain float layer of the same shape (nn.Conv2d / nn.Linear, no sign): the float model a user would deploy instead.
  MNIST shapes [N, 1, 28, 28] for mlp and cnn, CIFAR-10 shapes [N, 3, 32, 32] for the others.
Prints two JSON lines, {"name": ..., "images_per_s": ..., "ms_per_batch": ..., "batch": ...}: one at BATCH and one at
batch 1 (named "... batch 1"), each the median of RUNS timed runs after warm-up, in eval mode under
torch.inference_mode() on seeded N(0, 1) inputs. The caller sets the thread/BLAS environment (BenchInfer tries
several and keeps the fastest) and must use the same names.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn

import torch_train

RUNS = 7
WARMUP_SECONDS = 1.0
TARGET_RUN_SECONDS = 0.5


def float_model(model):
    """torch_train's 1W/1A model with its binary layers turned into the float layers they subclass."""
    net = torch_train.build(model, "bnn")
    for module in net.modules():
        if isinstance(module, torch_train.BinaryConv2d):
            module.__class__ = nn.Conv2d
        elif isinstance(module, torch_train.BinaryLinear):
            module.__class__ = nn.Linear
    return net


def measure(name, net, shape):
    x = torch.randn(*shape)
    with torch.inference_mode():
        start = time.perf_counter()
        warm = 0.0
        while time.perf_counter() - start < WARMUP_SECONDS or warm == 0.0:
            t = time.perf_counter()
            net(x)
            warm = time.perf_counter() - t
        calls = max(1, min(10000, int(TARGET_RUN_SECONDS / max(warm, 1e-6))))
        times = []
        for _ in range(RUNS):
            t = time.perf_counter()
            for _ in range(calls):
                net(x)
            times.append((time.perf_counter() - t) / calls)
    seconds = statistics.median(times)
    print(json.dumps({"name": name, "images_per_s": shape[0] / seconds, "ms_per_batch": seconds * 1e3, "batch": shape[0]}),
          flush=True)


def main():
    torch.set_num_threads(int(sys.argv[1]))
    model, batch = sys.argv[2], int(sys.argv[3])
    torch.manual_seed(42)
    net = float_model(model)
    net.eval()
    image = (1, 28, 28) if model in ("mlp", "cnn") else (3, 32, 32)
    measure(f"{model} batch {batch}", net, (batch,) + image)
    measure(f"{model} batch 1", net, (1,) + image)


if __name__ == "__main__":
    main()
