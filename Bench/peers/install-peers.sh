#!/usr/bin/env bash
# Installs the peers that BenchGemmConv compares against: NumPy on OpenBLAS (both the OpenMP and the
# pthread builds, because `apt-get install python3-numpy` alone pulls in only the slow reference BLAS)
# and PyTorch CPU. Idempotent: installs only what is missing. Run as root.
set -euo pipefail
# The Debian packages install into the system interpreter, which may not be the first python3 on PATH.
PY=/usr/bin/python3
need=()
[ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
"$PY" -c 'import torch' 2>/dev/null || need+=(python3-torch)
dpkg -s libopenblas0-openmp >/dev/null 2>&1 || need+=(libopenblas0-openmp)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
"$PY" -c 'import threadpoolctl' 2>/dev/null || need+=(python3-threadpoolctl)
if [ ${#need[@]} -eq 0 ]; then
  echo "peers already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${need[@]}"
echo "OpenMP OpenBLAS folder: $(dirname "$(dpkg -L libopenblas0-openmp | grep -m1 'libopenblas.*\.so')")"
