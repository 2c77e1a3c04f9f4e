#!/usr/bin/env bash
# Serial-scaling experiments (issue 5): four sweeps, the figures and docs/results.md.
#
#   bash scripts/reproduce_ssh.sh          # CPU size: ~20 min on 2 cores (configs/sweep_*.yaml)
#   bash scripts/reproduce_ssh.sh --gpu    # GPU size (configs/sweep_*_gpu.yaml), an hour or more on one GPU
#
# Sweeps are resumable: rerun after a crash or Ctrl-C and finished cells are kept
# (runs/ssh[-gpu]/<sweep>/cells/). Figures go to docs/figures/ (CPU) or docs/figures/gpu/,
# the report to docs/results.md (CPU) or docs/results-gpu.md. DO1RL=... picks the do1rl binary.
set -euo pipefail
cd "$(dirname "$0")/.."
suffix="" runs="runs/ssh" figures="docs/figures" report="docs/results.md"
if [[ "${1:-}" == "--gpu" ]]; then
  suffix="_gpu" runs="runs/ssh-gpu" figures="docs/figures/gpu" report="docs/results-gpu.md"
elif [[ -n "${1:-}" ]]; then
  echo "usage: $0 [--gpu]" >&2; exit 2
fi
if [[ -z "${DO1RL:-}" ]]; then
  if [[ -x .venv/bin/do1rl ]]; then DO1RL=.venv/bin/do1rl; else DO1RL=do1rl; fi
fi
PYTHON="$(dirname "$(command -v "$DO1RL")")/python"
[[ -x "$PYTHON" ]] || PYTHON=python3
start=$(date +%s)
for sweep in families deep_wide mcts horizon; do
  echo "== sweep $sweep ($(( $(date +%s) - start )) s)"
  "$DO1RL" sweep --config "configs/sweep_${sweep}${suffix}.yaml" --out "$runs/$sweep" --no-progress
done
echo "== figures ($(( $(date +%s) - start )) s)"
"$DO1RL" plot "$runs"/{families,deep_wide,mcts,horizon} --out "$figures"
elapsed=$(( $(date +%s) - start ))
"$PYTHON" scripts/ssh_report.py "$runs" --figures "$figures" --out "$report" --elapsed "$elapsed" \
  --command "bash scripts/reproduce_ssh.sh${1:+ $1}"
echo "== done in ${elapsed} s: $report, $figures/"
