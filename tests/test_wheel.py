"""The wheel is enough (issue 26): built offline, installed alone, it lists, trains from a shipped config and evaluates."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # builds the wheel, then a short training run in a fresh process


def _run(argv, cwd, env, timeout=600):
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv}: {done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_alone_lists_trains_and_evaluates(tmp_path):
    dist, site, empty = tmp_path / "dist", tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)], tmp_path, os.environ)
    (wheel,) = dist.glob("do1rl-*.whl")
    with zipfile.ZipFile(wheel) as built:
        assert "do1rl/py.typed" in built.namelist()  # PEP 561: the annotations are the package's
    _run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], tmp_path, os.environ)
    # Only the wheel's do1rl: its install folder first on the path, run from a folder that is not the repo.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DO1RL_", "SLURM_"))} | {"PYTHONPATH": str(site)}
    do1rl = [sys.executable, "-m", "do1rl"]
    where = _run([sys.executable, "-c", "import do1rl; print(do1rl.__file__)"], empty, env)
    assert Path(where.strip()).is_relative_to(site), where
    listing = _run([*do1rl, "config", "list"], empty, env)
    assert "ppo_alternating_small" in listing and "ssh_reward_only" in listing
    _run(
        [
            *do1rl,
            "train",
            "--config",
            "ppo_alternating_small",
            "--out",
            "r",
            "--no-progress",
            "ppo.total_timesteps=2048",
            "ppo.num_envs=16",
            "ppo.num_steps=16",
            "eval.episodes=16",
        ],
        empty,
        env,
    )
    assert (empty / "r" / "eval.json").exists()
    scored = _run([*do1rl, "eval", "--agent", "ppo:r", "--episodes", "8", "--no-progress"], empty, env)
    assert "ratio" in scored
    circuits = _run([sys.executable, "-c", "from do1rl.experiments.shipped import example_circuits as e; print(len(e()))"], empty, env)
    assert int(circuits) == len(list((ROOT / "examples").glob("*.json")))
