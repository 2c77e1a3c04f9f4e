#!/usr/bin/env bash
# Quickstart step 1: create .venv, install do1rl with its test extras, run the main job on its defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# The main job: train PPO on the default small config (a few minutes on 2 CPU cores) ...
run="runs/quickstart-$(date +%Y%m%d-%H%M%S)"
.venv/bin/do1rl train --config configs/ppo_alternating_small.yaml --out "$run"
# ... and score the baselines on the same environment for comparison.
for agent in oracle greedy random; do
  .venv/bin/do1rl eval --env do1rl/AlternatingCircuit-v0 --agent "$agent" --episodes 1000 --seed 10000 \
    --env-arg n_inputs=3 --env-arg depth=3 --env-arg width=3 --env-arg stop_action=true \
    --no-progress --out "$run/baseline-$agent.json"
done
echo "trained agent: $run/eval.json; baselines: $run/baseline-*.json"
