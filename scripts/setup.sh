#!/usr/bin/env bash
# Quickstart step 1: create .venv, install do1rl with its test extras, run the main job on its defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# The main job: evaluate the baselines on the default DO1 environment.
for agent in oracle greedy random; do
  .venv/bin/do1rl eval --env do1rl/DO1-v0 --agent "$agent" --episodes 1000 --seed 0 --out "runs/eval-$agent.json"
done
