#!/usr/bin/env bash
# Serial search, then compress (issue 23): expert-iteration students (mlp and gnn at several sizes, the wide
# recurrent net, the bottleneck net with hints) on the generalisation instances, MCTS at several budgets, the
# trivial bar, the compression table and the compute-frontier figures. Resumable: finished cells are kept.
# Measured time on 2 CPU cores: the header of docs/results-compression.md.
#
#   bash scripts/reproduce_compression.sh         # runs/ssh/compression, docs/figures/compression/,
#                                                 # docs/results-compression.md and its section of docs/results.md
#   bash scripts/reproduce_compression.sh --gpu   # GPU size (configs/ssh_compression_gpu.yaml): runs/ssh-gpu/compression,
#                                                 # docs/figures/gpu/compression/, docs/results-compression-gpu.md
set -euo pipefail
cd "$(dirname "$0")/.."
config="configs/ssh_compression.yaml" runs="runs/ssh/compression" figures="docs/figures/compression"
report="docs/results-compression.md" results_md=(--results-md docs/results.md) command="bash scripts/reproduce_compression.sh"
for arg in "$@"; do
  case "$arg" in
    --gpu) config="configs/ssh_compression_gpu.yaml" runs="runs/ssh-gpu/compression" figures="docs/figures/gpu/compression"
           report="docs/results-compression-gpu.md" results_md=() command="$command --gpu" ;;
    *) echo "usage: $0 [--gpu]" >&2; exit 2 ;;
  esac
done
source scripts/_find_do1rl.sh
start=$(date +%s)
"$DO1RL" sweep --config "$config" --out "$runs"
"$DO1RL" plot "$runs" --out "$figures" --train-depths 4 8
"$PYTHON" scripts/compression_report.py "$runs" --out "$report" "${results_md[@]}" \
  --figures "$(realpath --relative-to="$(dirname "$report")" "$figures")" --command "$command" \
  --elapsed "$(( $(date +%s) - start ))"
cat "$report"
