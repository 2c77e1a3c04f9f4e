"""SIGKILL at random moments of real `do1rl train` processes: resume is byte-identical and no metric is lost or repeated.

Each trial kills the run after a random number of logged chunks plus a random
fraction of a chunk (seeded, so the trials are the same every time), resumes
it, kills the resume too in some trials, and resumes to the end. The run
folder must then hold the uninterrupted run's checkpoints and eval.json byte
for byte, and every TensorBoard (tag, step) pair exactly once with the
uninterrupted run's value (docs/reliability.md, promise 6).
"""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from do1rl.experiments.event_log import read_scalars

pytestmark = pytest.mark.slow  # real processes, each compiling (the slow lane, docs/testing.md)

TRIALS = 5
CONFIG = textwrap.dedent(
    """
    seed: 3
    env:
      id: do1rl/AlternatingCircuit-v0
      args: {n_inputs: 3, depth: 2, width: 2, stop_action: true}
    network: {family: mlp, depth: 4, width: 16}
    ppo: {total_timesteps: 3072, num_envs: 16, num_steps: 16, num_minibatches: 2, update_epochs: 2}
    eval: {episodes: 32, seed: 99}
    log: {updates_per_chunk: 1, keep_checkpoints: 2}
    """
)


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "do1rl", "train", "--no-progress", *args]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    """A shared persistent compilation cache: every launch after the first skips most compiling (same executables)."""
    cache = tmp_path_factory.mktemp("jax_cache")
    return {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(cache), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def reference(config, env, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "uninterrupted"
    out = subprocess.run(_command("--config", str(config), "--out", str(run)), env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return run


def _kill_after(cmd: list[str], env: dict, chunks: int, fraction: float) -> int:
    """Runs `cmd`, SIGKILLs it `fraction` of a chunk after its `chunks`-th logged iteration; its exit status."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen, last = 0, None
    for line in proc.stdout:
        if line.startswith("iteration "):
            now = time.perf_counter()
            chunk_s = now - last if last is not None else 0.05
            last, seen = now, seen + 1
            if seen >= chunks:
                time.sleep(fraction * chunk_s)
                proc.send_signal(signal.SIGKILL)
                break
    proc.stdout.close()
    return proc.wait(timeout=600)


def _files(run: Path) -> dict[str, bytes]:
    """The run's checkpoints and eval.json, by name."""
    names = ["eval.json", *(p.relative_to(run).as_posix() for p in (run / "checkpoints").glob("*.msgpack"))]
    return {name: (run / name).read_bytes() for name in names}


@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigkill_at_a_random_moment_then_resume_is_exact(trial, config, env, reference, tmp_path):
    rng = random.Random(1000 + trial)
    run = tmp_path / "killed"
    kills = 2 if trial % 2 else 1  # odd trials kill the resume too
    first = _kill_after(_command("--config", str(config), "--out", str(run)), env, rng.randint(1, 8), rng.random())
    for _ in range(kills - 1):
        if first == 0:
            break
        first = _kill_after(_command("--resume", str(run)), env, rng.randint(1, 4), rng.random())
    for _ in range(3):
        if (run / "eval.json").exists():
            break
        # `--resume` also starts again a run killed before its first checkpoint (from its config.yaml); a kill
        # before config.yaml was written leaves nothing of the run, and the first command starts it.
        started = (run / "config.yaml").exists()
        cmd = _command("--resume", str(run)) if started else _command("--config", str(config), "--out", str(run))
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
    assert not list(run.glob("**/*.tmp-*")), "a temporary file outlived the next save"
    assert _files(run) == _files(reference)

    pairs = collections.Counter((tag, step) for tag, step, _ in read_scalars(run))
    assert max(pairs.values()) == 1, [p for p, n in pairs.items() if n > 1][:5]
    learning = lambda r: {(t, s): v for t, s, v in read_scalars(r) if not t.startswith("perf/")}
    assert learning(run) == learning(reference)  # every pair of the uninterrupted run, none lost, same value


EXPERT_ITERATION = textwrap.dedent(
    """
    seed: 1
    algo: expert_iteration
    env:
      id: do1rl/AlternatingCircuit-v0
      args: {n_inputs: 3, depth: 2, width: 2, stop_action: true}
    network: {family: gnn, depth: 2, width: 16}
    expert_iteration: {total_timesteps: 1024, num_envs: 16, num_steps: 8, simulations: 8, learning_rate: 0.003}
    eval: {episodes: 32, seed: 99}
    log: {updates_per_chunk: 1}
    """
)


def test_expert_iteration_killed_and_resumed_is_exact(env, tmp_path):
    """Issue 23: the second algorithm resumes like PPO (SIGKILL mid-run, --resume, byte-identical files and scalars)."""
    config = tmp_path / "exit.yaml"
    config.write_text(EXPERT_ITERATION)
    full, run = tmp_path / "full", tmp_path / "killed"
    out = subprocess.run(_command("--config", str(config), "--out", str(full)), env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    _kill_after(_command("--config", str(config), "--out", str(run)), env, 3, 0.5)
    out = subprocess.run(_command("--resume", str(run)), env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert _files(run) == _files(full)
    learning = lambda r: {(t, s): v for t, s, v in read_scalars(r) if not t.startswith("perf/")}
    assert learning(run) == learning(full) and "train/kl_to_search" in {t for t, _ in learning(full)}
