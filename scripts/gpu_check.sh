#!/usr/bin/env bash
# GPU check: devices, the quick tests, the full benchmark and a short GPU training, into one folder.
#
#     scripts/gpu_check.sh [OUT_DIR]        # default gpu-check/
#
# Needs a prepared environment (no network on the GPU machine): a venv with
# `pip install -e ".[test]"` and jax[cuda12], at $VENV (default .venv), or any
# Python that imports do1rl and a CUDA jax, named by $PYTHON. Each
# part has a time limit (seconds, overridable) so the whole check stays under
# 8 minutes; a part that fails or runs out of time is recorded and the check
# goes on. OUT_DIR gets devices.txt, tests.txt, bench.txt + bench/ (the
# report as JSON and Markdown), train.txt + run/, and summary.txt.
set -u
cd "$(dirname "$0")/.."
OUT="${1:-gpu-check}"
VENV="${VENV:-.venv}"
PY="${PYTHON:-$VENV/bin/python}"
TESTS_S="${TESTS_S:-100}"
BENCH_S="${BENCH_S:-160}"
TRAIN_S="${TRAIN_S:-200}"
# 2 PPO iterations of one seed at the GPU config's 2048 envs x 64 steps, logged one at a time: the
# first line includes compilation, the second is the training throughput (70 s an iteration on an
# H200; the config's 4 seeds take over 150 s to compile and run one, docs/benchmarks-gpu.md).
TRAIN_STEPS="${TRAIN_STEPS:-262144}"
QUICK_TESTS=(tests/test_layers.py tests/test_envs.py tests/test_solver.py tests/test_networks.py
             tests/test_search.py tests/test_autoreset.py)

# Test workers share one GPU: allocate on demand instead of JAX's 75% per process.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
mkdir -p "$OUT"
if ! command -v "$PY" > /dev/null; then
    echo "no Python at $PY: prepare a venv with jax[cuda12] and pip install -e '.[test]' (set VENV=...)" >&2
    exit 2
fi
: > "$OUT/summary.txt"

part() {  # part NAME LIMIT_S COMMAND...: runs it with a time limit, output to NAME.txt, status to summary.txt
    local name="$1" limit="$2"
    shift 2
    local start=$SECONDS
    timeout --signal=INT --kill-after=15 "$limit" "$@" > "$OUT/$name.txt" 2>&1
    local rc=$?
    local status="ok"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status="timed out after ${limit}s"; elif [ "$rc" -ne 0 ]; then status="failed (exit $rc)"; fi
    echo "$name: $status, $((SECONDS - start))s" | tee -a "$OUT/summary.txt"
}

part devices 20 "$PY" -c "import jax; print(jax.__version__, jax.default_backend()); print(jax.devices())"
part tests "$TESTS_S" "$PY" -m pytest -q -x -n 4 "${QUICK_TESTS[@]}"
part bench "$BENCH_S" "$PY" scripts/bench.py --out "$OUT/bench"
rm -rf "$OUT/run"
part train "$TRAIN_S" "$PY" -m do1rl train --config configs/ppo_do1_gpu.yaml --out "$OUT/run" --no-progress \
    num_seeds=1 "ppo.total_timesteps=$TRAIN_STEPS" log.updates_per_chunk=1 eval.episodes=1000
echo "total: ${SECONDS}s" | tee -a "$OUT/summary.txt"
grep -q -v ": ok," <(grep -v "^total" "$OUT/summary.txt") && exit 1
exit 0
