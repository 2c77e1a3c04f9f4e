#!/usr/bin/env bash
# The serial-scaling experiment (issues 14, 21). The default is the core of issue 21, sized for 30 minutes
# on 2 CPU cores: depth generalisation (mlp, gnn, recurrent, MCTS budgets, test-time iterations) and the
# learned serial agent tested to D = 64 against fixed-depth controls, the L = 3 and prior-only ceilings,
# trained nets on twin pairs, figures with 95% bands and docs/results.md. Every sweep runs the constant,
# greedy and random policies as the bar. --all adds deep vs wide and regret vs horizon (issue 14 (e, f)).
#
#   bash scripts/reproduce_ssh.sh              # core, CPU size (configs/ssh_*.yaml); measured time in docs/results.md
#   bash scripts/reproduce_ssh.sh --all        # also deep vs wide and regret vs horizon (reuses finished core cells)
#   bash scripts/reproduce_ssh.sh --gpu [--all]  # GPU size (configs/ssh_*_gpu.yaml): about 50x the steps, 5 seeds
#
# Sweeps are resumable: rerun after a crash or Ctrl-C and finished cells are kept
# (runs/ssh[-gpu]/<sweep>/cells/). Figures go to docs/figures/ (CPU) or docs/figures/gpu/,
# the report to docs/results.md (CPU) or docs/results-gpu.md. DO1RL=... picks the do1rl binary.
set -euo pipefail
cd "$(dirname "$0")/.."
suffix="" runs="runs/ssh" figures="docs/figures" report="docs/results.md" sweeps=(generalisation serial) flags=()
for arg in "$@"; do
  case "$arg" in
    --gpu) suffix="_gpu" runs="runs/ssh-gpu" figures="docs/figures/gpu" report="docs/results-gpu.md"; flags+=("$arg") ;;
    --all) sweeps=(generalisation serial deep_wide horizon); flags+=("$arg") ;;
    *) echo "usage: $0 [--gpu] [--all]" >&2; exit 2 ;;
  esac
done
source scripts/_find_do1rl.sh
start=$(date +%s)
stages=$(( ${#sweeps[@]} + 4 ))
i=0
stage() { i=$((i + 1)); echo "== [$i/$stages] $1 ($(( $(date +%s) - start )) s)"; }
for sweep in "${sweeps[@]}"; do
  stage "sweep $sweep"
  "$DO1RL" sweep --config "configs/ssh_${sweep}${suffix}.yaml" --out "$runs/$sweep"
done
stage "L = 3 message-passing and prior-only (L = 0) ceilings (exact over 20,000 count paths)"
[[ -f "$runs/ceiling.json" ]] || "$PYTHON" scripts/ceiling.py --depths 4 8 12 16 32 64 --blocks 0 3 --samples 50000 \
  --exact-paths 20000 --json "$runs/ceiling.json"
stage "twins: the trained gnn (L = 3), the L = 9 control (with --all) and the recurrent net"
twin_runs=()
for pattern in "$runs"/generalisation/runs/gnn-d3w* "$runs"/deep_wide/runs/gnn-d9w* "$runs"/generalisation/runs/recurrent-*; do
  [[ -d "$pattern" && ( "$pattern" != *deep_wide* || " ${sweeps[*]} " == *" deep_wide "* ) ]] && twin_runs+=("$pattern")
done
if (( ${#twin_runs[@]} )); then
  "$PYTHON" scripts/twins_trained.py "${twin_runs[@]}" --depth 8 --blocks 3 --pairs 24 --tries 400 --max-iterations 64 \
    --json "$runs/twins.json"
fi
stage "figures"
plotted=()
for sweep in generalisation deep_wide horizon; do
  [[ " ${sweeps[*]} " == *" $sweep "* ]] && plotted+=("$runs/$sweep")
done
"$DO1RL" plot "${plotted[@]}" --out "$figures" --ceiling "$runs/ceiling.json" --train-depths 4 8
"$DO1RL" plot "$runs"/serial --out "$figures/serial" --ceiling "$runs/ceiling.json" --train-depths 4 8
elapsed=$(( $(date +%s) - start ))
stage "report"
"$PYTHON" scripts/ssh_report.py "$runs" --figures "$figures" --out "$report" --elapsed "$elapsed" --ceiling "$runs/ceiling.json" \
  --twins "$runs/twins.json" --sweeps "${sweeps[@]}" --command "bash scripts/reproduce_ssh.sh${flags[*]:+ ${flags[*]}}"
echo "== done in ${elapsed} s: $report, $figures/"
