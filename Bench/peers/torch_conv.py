#!/usr/bin/env python3
"""Convolution peer for BenchGemmConv: PyTorch CPU conv2d forward and forward+backward on the three reference layers.

Usage: torch_conv.py THREADS [LAYER_INDEX ...] (default: all three layers). Prints one JSON object per line: {"name": "<layer> fwd|fwd+bwd", "gflops": ..., "ms": ...}
(median after warm-up). FLOPs: forward 2·N·C_out·H_out·W_out·C_in·kH·kW, forward+backward three times that.
Runs with torch.set_num_threads(THREADS); the caller sets OPENBLAS_NUM_THREADS=1 (PyTorch's best configuration:
OpenBLAS threads otherwise compete with PyTorch's OpenMP threads for the cores).
"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

LAYERS = [  # name, C_in, C_out, H = W, kernel, padding; batch 64, stride 1
    ("conv3x3 128->128 16x16", 128, 128, 16, 3, 1),
    ("conv3x3 64->64 32x32", 64, 64, 32, 3, 1),
    ("conv5x5 1->32 28x28", 1, 32, 28, 5, 2),
]
BATCH = 64


def median_seconds(body, flops):
    body()
    body()
    repeats = max(3, min(30, int(2e10 / flops)))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    torch.manual_seed(0)
    chosen = [LAYERS[int(i)] for i in sys.argv[2:]] or LAYERS
    for name, cin, cout, size, k, pad in chosen:
        x = torch.randn(BATCH, cin, size, size)
        w = torch.randn(cout, cin, k, k, requires_grad=True)
        b = torch.randn(cout, requires_grad=True)
        xg = x.clone().requires_grad_(True)
        dy = torch.randn(BATCH, cout, size, size)
        flops = 2.0 * BATCH * cout * size * size * cin * k * k

        def forward():
            with torch.no_grad():
                F.conv2d(x, w, b, padding=pad)

        def forward_backward():
            xg.grad = w.grad = b.grad = None
            F.conv2d(xg, w, b, padding=pad).backward(dy)

        t = median_seconds(forward, flops)
        print(json.dumps({"name": f"{name} fwd", "gflops": flops / t / 1e9, "ms": t * 1e3}), flush=True)
        t = median_seconds(forward_backward, 3 * flops)
        print(json.dumps({"name": f"{name} fwd+bwd", "gflops": 3 * flops / t / 1e9, "ms": t * 1e3}), flush=True)


if __name__ == "__main__":
    main()
