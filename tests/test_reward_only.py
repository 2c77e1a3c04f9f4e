"""The reward-only experiment end to end at toy size: a curriculum sweep, curriculum.json, the report's JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from do1rl.cli import main

pytestmark = pytest.mark.slow  # the slow lane (docs/testing.md): a training sweep

TOY = textwrap.dedent(
    """\
    name: reward_only_toy
    grid:
      agents: [bottleneck, always_chain]
      test_depths: [4, 16]
      test_args: {stratify_d1: true}
      test_max_iterations: 64
      decisive_blocks: [3]
    train:
      num_seeds: 2
      env:
        id: do1rl/DO1-v0
        args: {family: biregular, width: 3, k: 2, p_one: 0.6, stratify_d1: false, depths: [2, 3, 4], pad_depth: 4,
               max_selections: 1, chain_scale: circuit}
      network: {family: bottleneck, width: 8, max_iterations: 9, loop_iterations: 9, state_init_scale: 0.01}
      ppo: {total_timesteps: 320, num_envs: 8, num_steps: 1, update_epochs: 1, num_minibatches: 1,
            random_iterations: true}
      curriculum: {levels: [[2], [2, 3], [3, 4]], gate: schedule, min_updates: 10}
      eval: {episodes: 12}
      log: {updates_per_chunk: 10}
      plateau: {enabled: true, eval_every: 10, episodes: 16, patience: 1}
    """
)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("reward_only")
    config = root / "toy.yaml"
    config.write_text(TOY)
    out = root / "out"
    assert main(["sweep", "--config", str(config), "--out", str(out), "--no-progress"]) == 0
    return out


def test_curriculum_is_recorded(toy):
    (run,) = (toy / "runs").glob("bottleneck-*")
    report = json.loads((run / "curriculum.json").read_text())
    assert report["level"] == [2, 2] and report["restarts"] == [0, 0]  # a schedule: the last level from update 20
    curve = json.loads((run / "curve.json").read_text())["seeds"][0]
    assert [e["level"] for e in curve] == [min(e["update"] // 10, 2) for e in curve]  # a step every 10 updates
    plateau = json.loads((run / "plateau.json").read_text())
    assert all(u is None or u >= 30 for u in plateau["plateau_update"])  # only last-level evaluations count
    (cell,) = (toy / "cells").glob("bottleneck-*.json")
    info = json.loads(cell.read_text())["info"]
    assert info["curriculum_level"] == [2, 2] and info["restarts"] == [0, 0]


def test_report_writes_the_issue_document(toy, tmp_path):
    script = Path(__file__).resolve().parents[1] / "scripts" / "reward_only_report.py"
    out, doc = tmp_path / "reward_only.md", tmp_path / "reward_only.json"
    done = subprocess.run(
        [sys.executable, str(script), str(toy), "--json", str(doc), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seeds = json.loads(doc.read_text())["seeds"]
    assert [s["seed"] for s in seeds] == [0, 1] and all(s["restarts"] == 0 for s in seeds)
    for s in seeds:
        assert set(s["ratio"]) == {"16"} and 0.0 <= s["ratio"]["16"] <= 1.0  # the test depths among 16, 32, 64
        assert set(s["decisive"]) == {"16"}
    text = out.read_text()
    assert "always the chain's top gate" in text and "L = 3 ceiling (same episodes)" in text
    assert "The issue's bar" in text
