#!/usr/bin/env bash
# Serial search, then compress (issue 23): expert-iteration students (mlp, gnn L = 3, recurrent) on the
# generalisation instances, the trivial bar, the compression table and the compute-frontier figure.
# About 8 minutes on 2 CPU cores (measured: docs/results-compression.md). Resumable: finished cells are kept.
#
#   bash scripts/reproduce_compression.sh   # runs/ssh/compression, docs/figures/compression/, docs/results-compression.md
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_find_do1rl.sh
start=$(date +%s)
"$DO1RL" sweep --config configs/ssh_compression.yaml --out runs/ssh/compression
"$DO1RL" plot runs/ssh/compression --out docs/figures/compression
"$PYTHON" scripts/compression_report.py runs/ssh/compression --out docs/results-compression.md \
  --elapsed "$(( $(date +%s) - start ))"
cat docs/results-compression.md
