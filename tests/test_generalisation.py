"""Depth generalisation: padded depth mixtures, test depths, test-time iterations, pooled rows with intervals."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from do1rl.cli import main
from do1rl.envs import make
from do1rl.envs.make import EnvArgumentError

pytestmark = pytest.mark.slow  # the slow lane (docs/testing.md)

BASE = {"family": "biregular", "width": 3, "k": 2, "max_selections": 1, "chain_scale": "circuit"}

TINY = textwrap.dedent(
    """\
    name: tiny_generalisation
    grid:
      agents: [recurrent, greedy]
      test_depths: [2, 4, 6]  # 6: beyond the pad, at its own size (retargeted)
      test_iterations: [1, 3, 5]
      test_iterations_per_depth: [1.16]  # ceil(1.16 D) = D + 1 at D = 2, 4, 6: the trained rule
      test_max_iterations: 7
    train:
      num_seeds: 2
      env: {id: do1rl/DO1-v0, args: {family: biregular, width: 3, k: 2, depths: [2, 3], pad_depth: 4,
                                     max_selections: 1, chain_scale: circuit}}
      network: {family: recurrent, width: 8, max_iterations: 4}
      ppo: {total_timesteps: 64, num_envs: 8, num_steps: 4, update_epochs: 1, num_minibatches: 1}
      eval: {episodes: 24, seed: 3}
      log: {updates_per_chunk: 2}
    """
)


def test_padded_mixture_and_test_envs_share_one_shape():
    train, params = make("DO1", **BASE, depths=[2, 3], pad_depth=5)
    test, _ = make("DO1", **BASE, depth=5, pad_depth=5)
    assert train.observation_shapes() == test.observation_shapes() and train.max_depth == test.max_depth == 5
    _, state = jax.jit(jax.vmap(train.reset, in_axes=(0, None)))(jax.random.split(jax.random.key(0), 64), params)
    depths, ks = np.asarray(state.circuit_depth), np.asarray(state.chain_length)
    assert set(depths) == {2, 3} and (ks >= 1).all() and (ks <= depths).all()  # chain_scale: k up to d(C)


@pytest.mark.parametrize(
    "args, needle",
    [
        ({"depths": [], "pad_depth": 4}, "depths must be a non-empty list"),
        ({"depths": [2, 6], "pad_depth": 4}, "pad_depth must be an integer >= the deepest"),
        ({"depths": [2], "depth": 3}, "not both"),
        ({"chain_scale": "huge"}, "chain_scale must be max or circuit"),
    ],
)
def test_bad_mixture_arguments_are_one_line(args, needle):
    with pytest.raises(EnvArgumentError, match=needle):
        make("DO1", **{**BASE, **args})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("generalisation")
    config = root / "tiny.yaml"
    config.write_text(TINY)
    out = root / "out"
    assert main(["sweep", "--config", str(config), "--out", str(out), "--no-progress"]) == 0
    return out, json.loads((out / "results.json").read_text())


def test_every_cell_is_evaluated_at_every_test_depth_with_intervals(tiny):
    _, rows = tiny
    pooled = [r for r in rows if r["seed_index"] == "all"]
    got = sorted((r["agent"], r["test_depth"], r["iterations"] or 0, r["iterations_per_depth"] or 0) for r in pooled)
    want = sorted(
        [("greedy", d, 0, 0) for d in (2, 4, 6)]
        + [("recurrent", d, t, 0) for d in (2, 4, 6) for t in (0, 1, 3, 5)]
        + [("recurrent", d, 0, 1.16) for d in (2, 4, 6)]
    )
    assert got == want
    for r in pooled:
        assert r["mean_ratio_low"] <= r["mean_ratio"] <= r["mean_ratio_high"]
        assert r["first_choice_accuracy_low"] <= r["first_choice_accuracy"] <= r["first_choice_accuracy_high"]
        seeds = [
            s
            for s in rows
            if s["cell_id"] == r["cell_id"]
            and s["test_depth"] == r["test_depth"]
            and s["iterations"] == r["iterations"]
            and s["iterations_per_depth"] == r["iterations_per_depth"]
            and s["seed_index"] != "all"
            and s["depth_group"] == "all"
        ]
        assert r["episodes"] == sum(s["episodes"] for s in seeds)
        assert r["mean_ratio"] == pytest.approx(np.mean([s["mean_ratio"] for s in seeds]))
    recurrent = [r for r in pooled if r["agent"] == "recurrent"]
    assert len({r["episodes"] for r in recurrent}) == 1 and recurrent[0]["episodes"] == 2 * 24  # two seeds


def test_forced_iterations_equal_to_the_trained_rule_give_the_trained_numbers(tiny):
    _, rows = tiny
    at = {
        (r["test_depth"], r["iterations"]): r
        for r in rows
        if r["agent"] == "recurrent" and r["seed_index"] == "all" and r["iterations_per_depth"] is None
    }
    # T = D + 1 at D = 2 is 3: forcing T = 3 must reproduce the unforced evaluation exactly.
    assert at[(2, 3)]["mean_ratio"] == at[(2, None)]["mean_ratio"]
    assert at[(2, 3)]["first_choice_accuracy"] == at[(2, None)]["first_choice_accuracy"]
    # At D = 4, T = 5 exceeds the training cap (4); test_max_iterations lifts it, so the rule's T = 5 runs.
    assert at[(4, 5)]["mean_ratio"] == at[(4, None)]["mean_ratio"]
    assert at[(4, 5)]["first_choice_accuracy"] == at[(4, None)]["first_choice_accuracy"]


def test_compute_columns_follow_each_test_env_and_t(tiny):
    """Serial depth and FLOPs per decision are those of the network as evaluated: T = D + 1 grows with the test
    depth, a forced T fixes it, and a graph net's FLOPs grow with the test circuit's size."""
    from do1rl.agents.networks import LAYERS_PER_BLOCK

    _, rows = tiny
    pooled = {
        (r["test_depth"], r["iterations"]): r
        for r in rows
        if r["agent"] == "recurrent" and r["seed_index"] == "all" and r["iterations_per_depth"] is None
    }
    per_t = (pooled[(2, 3)]["serial_depth"] - pooled[(2, 1)]["serial_depth"]) // 2  # serial layers per iteration
    assert per_t == LAYERS_PER_BLOCK
    for depth in (2, 4, 6):
        assert pooled[(depth, None)]["serial_depth"] == pooled[(2, 1)]["serial_depth"] + depth * per_t  # T = D + 1
        assert pooled[(depth, 3)]["serial_depth"] == pooled[(2, 3)]["serial_depth"]  # forced T = 3 at every depth
    flops = [pooled[(d, 3)]["flops_per_decision"] for d in (2, 4, 6)]
    assert flops[0] == flops[1] < flops[2]  # D = 2 and 4 play at the pad's size (4); D = 6 at its own, larger
    greedy = [r for r in rows if r["agent"] == "greedy" and r["seed_index"] == "all"]
    assert all(r["flops_per_decision"] is None and r["serial_depth"] is None for r in greedy)


def test_iterations_per_depth_rebuilt_nets_give_the_trained_numbers(tiny):
    """T = ceil(1.16 D) = D + 1 is the trained rule: the rebuilt (retargeted) nets must give the trained nets' numbers,
    inside the pad (same shapes) and beyond it (D = 6, its own size, where both are retargeted)."""
    _, rows = tiny
    pooled = [r for r in rows if r["agent"] == "recurrent" and r["seed_index"] == "all" and r["iterations"] is None]
    rule = {r["test_depth"]: r for r in pooled if r["iterations_per_depth"] is None}
    longer = {r["test_depth"]: r for r in pooled if r["iterations_per_depth"] == 1.16}
    for depth in (2, 4, 6):
        assert longer[depth]["mean_ratio"] == pytest.approx(rule[depth]["mean_ratio"], abs=1e-12)
        assert longer[depth]["first_choice_accuracy"] == pytest.approx(rule[depth]["first_choice_accuracy"], abs=1e-12)


def test_an_mlp_skips_test_depths_of_other_shapes():
    """An mlp reads a fixed-size input: a test env beyond its pad gets no players (the cell lists it as skipped)."""
    from types import SimpleNamespace

    from do1rl.agents.networks import NetworkConfig
    from do1rl.experiments.sweep.cells import _TrainedPlayers
    from do1rl.experiments.sweep.grid import Cell
    from do1rl.experiments.train_config import TrainConfig

    env, _ = make("DO1", **BASE, depths=[2, 3], pad_depth=4)
    deeper, deeper_params = make("DO1", **BASE, depth=6)
    config = TrainConfig(network=NetworkConfig(family="mlp", depth=4, width=8))
    run = SimpleNamespace(config=config, env=env)
    players = _TrainedPlayers(run, Cell("mlp", config, test_depths=(4, 6)))
    assert players(deeper, deeper_params, 6) is None
    cell = Cell(
        "mlp",
        dataclasses.replace(
            config, env=dataclasses.replace(config.env, id="do1rl/DO1-v0", args={**BASE, "depths": [2, 3], "pad_depth": 4})
        ),
        test_depths=(4, 6),
    )
    assert [a.get("pad_depth") for _, a in cell.test_envs()] == [4, None]  # beyond the pad: its own size


def test_plot_and_report_read_the_pooled_rows(tiny, tmp_path):
    out, _ = tiny
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "generalisation").symlink_to(out)
    assert main(["plot", str(out), "--out", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig" / "generalisation.png").exists() and (tmp_path / "fig" / "iterations.png").exists()
    report = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, "scripts/ssh_report.py", str(runs), "--out", str(report), "--elapsed", "60"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = report.read_text()
    assert "| recurrent (width 8, T = D + 1) |" in text and "[" in text and "## Verdicts" in text
