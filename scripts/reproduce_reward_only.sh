#!/usr/bin/env bash
# A serial agent from reward alone (issue 27): the bottleneck net trained by PPO on the reward with a depth
# curriculum and a random read-out step, 10 seeds vmapped, tested unchanged at D = 4 .. 64 (T = D + 1 and
# T = 4D) beside the trivial policies, the L = 3 ceiling, a gnn given the same curriculum and (when
# runs/ssh/serial exists) the hint-trained agent of issue 21. Measured time in docs/results/reward_only.md.
#
#   bash scripts/reproduce_reward_only.sh               # CPU size (configs/ssh_reward_only.yaml)
#   bash scripts/reproduce_reward_only.sh --ablation    # also the bottleneck at the full learning rate on the last
#                                                       # level, with the 0.1x cut at once (no decay), without
#                                                       # restarts, and with the earlier state init (sqrt 2):
#                                                       # docs/design/curriculum.md (about 35 min more)
#   bash scripts/reproduce_reward_only.sh --gpu         # GPU size (configs/ssh_reward_only_gpu.yaml)
#
# Resumable like every sweep: rerun after a crash or Ctrl-C and finished cells are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
suffix="" runs="runs/reward_only" results="docs/results" figure="docs/figures/reward_only_curves.png" ablation=0 flags=()
for arg in "$@"; do
  case "$arg" in
    --gpu) suffix="_gpu" runs="runs/reward_only-gpu" results="docs/results/gpu" figure="docs/figures/gpu/reward_only_curves.png"
           flags+=("$arg") ;;
    --ablation) ablation=1; flags+=("$arg") ;;
    *) echo "usage: $0 [--gpu] [--ablation]" >&2; exit 2 ;;
  esac
done
source scripts/_find_do1rl.sh
start=$(date +%s)
echo "== sweep reward_only${suffix}"
"$DO1RL" sweep --config "configs/ssh_reward_only${suffix}.yaml" --out "$runs/main" --no-progress
main_elapsed=$(( $(date +%s) - start ))
report=("$runs/main")
if (( ablation )); then
  echo "== ablation: the full learning rate on the last level"
  "$DO1RL" sweep --config "configs/ssh_reward_only${suffix}.yaml" --out "$runs/ablation_full_lr" --no-progress \
    'grid.agents=[bottleneck]' train.curriculum.last_level_lr_scale=1.0
  echo "== ablation: 0.1x the learning rate from the last level's first update (no decay)"
  "$DO1RL" sweep --config "configs/ssh_reward_only${suffix}.yaml" --out "$runs/ablation_lr_cut" --no-progress \
    'grid.agents=[bottleneck]' train.curriculum.last_level_lr_decay=0
  echo "== ablation: no restarts"
  "$DO1RL" sweep --config "configs/ssh_reward_only${suffix}.yaml" --out "$runs/ablation_no_restart" --no-progress \
    'grid.agents=[bottleneck]' train.curriculum.restart_after=0
  echo "== ablation: no restarts, the state logits initialised at scale sqrt(2) (the hint-trained agent's init)"
  "$DO1RL" sweep --config "configs/ssh_reward_only${suffix}.yaml" --out "$runs/ablation_init" --no-progress \
    'grid.agents=[bottleneck]' train.curriculum.restart_after=0 family_networks.bottleneck.state_init_scale=1.4142135623730951
  report+=(--ablation "$runs/ablation_full_lr" "full learning rate on the last level"
           --ablation "$runs/ablation_lr_cut" "0.1x learning rate at once on the last level (no decay)"
           --ablation "$runs/ablation_no_restart" "no restarts" --ablation "$runs/ablation_init" "no restarts, init sqrt(2)")
fi
elapsed=$(( $(date +%s) - start ))
hint="runs/ssh/serial"
[[ -n "$suffix" ]] && hint="runs/ssh-gpu/serial"
"$PYTHON" scripts/reward_only_report.py "${report[@]}" --hint "$hint" --json "$results/reward_only.json" \
  --out "$results/reward_only.md" --figure "$figure" --elapsed "$main_elapsed" --total-elapsed "$elapsed" \
  --command "bash scripts/reproduce_reward_only.sh${flags[*]:+ ${flags[*]}}"
echo "== done in ${elapsed} s: $results/reward_only.md"
