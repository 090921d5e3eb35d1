#!/usr/bin/env python3
"""SGEMM peer for BenchGemmConv: times numpy.matmul (OpenBLAS) on square float32 matrices.

Usage: numpy_gemm.py N [N ...]. Prints one JSON object per line: {"name": "sgemm n=N", "gflops": ..., "ms": ...}
(median of several runs after warm-up, 2·n³ flops), preceded by one {"blas": ...} line naming the BLAS and its
thread count as threadpoolctl sees them (null when threadpoolctl is missing). The caller sets
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS and LD_LIBRARY_PATH (OpenMP OpenBLAS folder).
"""
import json
import statistics
import sys
import time

import numpy as np


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: i.get(k) for k in ("internal_api", "num_threads", "threading_layer", "architecture", "filepath")}
            for i in threadpool_info() if i.get("user_api") == "blas"]


def time_gemm(n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    flops = 2.0 * n ** 3
    repeats = max(3, min(50, int(2e10 / flops)))
    for _ in range(2):
        np.matmul(a, b, out=c)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - start)
    t = statistics.median(times)
    return {"name": f"sgemm n={n}", "gflops": flops / t / 1e9, "ms": t * 1e3}


def main():
    print(json.dumps({"blas": blas_info()}), flush=True)
    for n in (int(x) for x in sys.argv[1:]):
        print(json.dumps(time_gemm(n)), flush=True)


if __name__ == "__main__":
    main()
