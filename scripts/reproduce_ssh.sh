#!/usr/bin/env bash
# The serial-scaling experiment (issue 14): sweeps, figures with 95% bands, docs/results.md.
#
#   bash scripts/reproduce_ssh.sh          # CPU size (configs/ssh_*.yaml), measured time in docs/results.md
#   bash scripts/reproduce_ssh.sh --gpu    # GPU size (configs/ssh_*_gpu.yaml): 32x the steps, 5 seeds
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
for sweep in generalisation deep_wide; do
  echo "== sweep $sweep ($(( $(date +%s) - start )) s)"
  "$DO1RL" sweep --config "configs/ssh_${sweep}${suffix}.yaml" --out "$runs/$sweep" --no-progress
done
echo "== L = 3 message-passing ceiling ($(( $(date +%s) - start )) s)"
"$PYTHON" scripts/ceiling.py --depths 4 8 12 16 --blocks 3 --samples 100000 --json "$runs/ceiling.json"
echo "== figures ($(( $(date +%s) - start )) s)"
"$DO1RL" plot "$runs"/{generalisation,deep_wide} --out "$figures" --ceiling "$runs/ceiling.json" --train-depths 4 8
elapsed=$(( $(date +%s) - start ))
"$PYTHON" scripts/ssh_report.py "$runs" --figures "$figures" --out "$report" --elapsed "$elapsed" --ceiling "$runs/ceiling.json" \
  --command "bash scripts/reproduce_ssh.sh${1:+ $1}"
echo "== done in ${elapsed} s: $report, $figures/"
