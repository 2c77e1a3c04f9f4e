#!/usr/bin/env bash
# The serial-scaling experiment (issues 14, 21): four sweeps (depth generalisation with test-time
# iterations and MCTS budgets, deep vs wide, regret vs horizon, the learned serial agent tested to
# D = 64), the L = 3 and prior-only ceilings, trained nets on twin pairs, figures with 95% bands and
# docs/results.md. Every sweep runs the constant, greedy and random policies as the bar.
#
#   bash scripts/reproduce_ssh.sh          # CPU size (configs/ssh_*.yaml), measured time in docs/results.md
#   bash scripts/reproduce_ssh.sh --gpu    # GPU size (configs/ssh_*_gpu.yaml): about 50x the steps, 5 seeds
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
stage() { echo "== [$1/8] $2 ($(( $(date +%s) - start )) s)"; }
i=0
for sweep in generalisation deep_wide horizon serial; do
  i=$((i + 1)); stage $i "sweep $sweep"
  "$DO1RL" sweep --config "configs/ssh_${sweep}${suffix}.yaml" --out "$runs/$sweep"
done
stage 5 "L = 3 message-passing and prior-only (L = 0) ceilings (exact over 20,000 count paths)"
[[ -f "$runs/ceiling.json" ]] || "$PYTHON" scripts/ceiling.py --depths 4 8 12 16 32 64 --blocks 0 3 --samples 50000 \
  --exact-paths 20000 --json "$runs/ceiling.json"
stage 6 "twins: the trained gnn (L = 3), the L = 9 control and the recurrent net"
twin_runs=()
for pattern in "$runs"/generalisation/runs/gnn-d3w* "$runs"/deep_wide/runs/gnn-d9w* "$runs"/generalisation/runs/recurrent-*; do
  [[ -d "$pattern" ]] && twin_runs+=("$pattern")
done
if (( ${#twin_runs[@]} )); then
  "$PYTHON" scripts/twins_trained.py "${twin_runs[@]}" --depth 8 --blocks 3 --pairs 40 --tries 400 --max-iterations 64 \
    --json "$runs/twins.json"
fi
stage 7 "figures"
"$DO1RL" plot "$runs"/{generalisation,deep_wide,horizon} --out "$figures" --ceiling "$runs/ceiling.json" --train-depths 4 8
"$DO1RL" plot "$runs"/serial --out "$figures/serial" --ceiling "$runs/ceiling.json" --train-depths 4 8
elapsed=$(( $(date +%s) - start ))
stage 8 "report"
"$PYTHON" scripts/ssh_report.py "$runs" --figures "$figures" --out "$report" --elapsed "$elapsed" --ceiling "$runs/ceiling.json" \
  --twins "$runs/twins.json" --command "bash scripts/reproduce_ssh.sh${1:+ $1}"
echo "== done in ${elapsed} s: $report, $figures/"
