#!/usr/bin/env python3
"""PyTorch float32 peer for 'binarygrad bench kernels': the float layer of each binary-kernel shape.

Usage: torch_binary_shapes.py THREADS [SHAPE_INDEX ...] (default: all shapes). Prints one JSON object per line:
{"name": "<shape>", "ms": ..., "gflops": ...} (median after two warm-up calls; FLOPs = 2 x MACs).
Shapes (same order and names as BenchKernelsCommand):
  gemm_1024x1024_k4096   a[1024,4096] @ b[1024,4096]^T
  conv3x3_128_16x16      conv2d, batch 64, 128->128, 16x16, padding 1, no bias
  conv3x3_256_8x8        conv2d, batch 64, 256->256, 8x8, padding 1, no bias
  mlp_2048x2048_b256     x[256,2048] @ w[2048,2048]^T
"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = [  # name, kind, dims
    ("gemm_1024x1024_k4096", "gemm", (1024, 1024, 4096)),
    ("conv3x3_128_16x16", "conv", (64, 128, 128, 16)),
    ("conv3x3_256_8x8", "conv", (64, 256, 256, 8)),
    ("mlp_2048x2048_b256", "gemm", (256, 2048, 2048)),
]


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
    chosen = [SHAPES[int(i)] for i in sys.argv[2:]] or SHAPES
    with torch.no_grad():
        for name, kind, dims in chosen:
            if kind == "gemm":
                m, n, k = dims
                a, b = torch.randn(m, k), torch.randn(n, k)
                macs = m * n * k
                body = lambda: torch.matmul(a, b.t())
            else:
                batch, cin, cout, size = dims
                x, w = torch.randn(batch, cin, size, size), torch.randn(cout, cin, 3, 3)
                macs = batch * cout * size * size * cin * 9
                body = lambda: F.conv2d(x, w, None, padding=1)
            t = median_seconds(body, 2.0 * macs)
            print(json.dumps({"name": name, "ms": t * 1e3, "gflops": 2.0 * macs / t / 1e9}), flush=True)


if __name__ == "__main__":
    main()
