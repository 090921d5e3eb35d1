#!/usr/bin/env python3
"""Training peer for BenchTrain: PyTorch CPU training steps of the MLP 784-512-512-10 and the small CNN at batch 128.

Usage: torch_train.py THREADS. Prints one JSON object per model per line:
{"name": ..., "images_per_s": ..., "ms_per_step": ..., "steps": ...} (median of RUNS timed runs after warm-up).
A step is what BenchTrain times: forward, cross-entropy, loss.item(), zero_grad, backward, Adam step (lr 1e-3),
on seeded random MNIST-shaped data (inputs N(0, 1) [128, 1, 28, 28], labels uniform in 0..9).
Runs with torch.set_num_threads(THREADS); the caller sets OPENBLAS_NUM_THREADS=1 (PyTorch's best configuration:
OpenBLAS threads otherwise compete with PyTorch's OpenMP threads for the cores) and unsets OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE. The names must match BenchTrain.MlpName / CnnName.
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
TARGET_RUN_SECONDS = 0.5


def mlp():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 512), nn.BatchNorm1d(512), nn.ReLU(),
        nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(),
        nn.Linear(512, 10))


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10))


MODELS = [("mlp 784-512-512-10 batch 128", mlp), ("cnn conv32-conv64 batch 128", small_cnn)]


def measure(name, build):
    torch.manual_seed(42)
    model = build()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(BATCH, 1, 28, 28)
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
    steps = max(3, min(200, int(TARGET_RUN_SECONDS / max(warm, 1e-6))))
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
    for name, build in MODELS:
        measure(name, build)


if __name__ == "__main__":
    main()
