"""`do1rl sweep` and `do1rl plot`: a tiny resumable sweep, bad configs, figures."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from do1rl.cli import main
from do1rl.experiments import sweep

TINY = textwrap.dedent(
    """\
    name: tiny
    grid:
      agents: [gnn, random]
      circuit_depths: [2]
    train:
      env: {id: do1rl/AlternatingCircuit-v0, args: {n_inputs: 2, depth: 2, width: 2, stop_action: true}}
      network: {family: gnn, depth: 1, width: 8}
      ppo: {total_timesteps: 128, num_envs: 8, num_steps: 16, update_epochs: 1, num_minibatches: 1}
      eval: {episodes: 16}
      log: {updates_per_chunk: 1}
    """
)


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    config = root / "tiny.yaml"
    config.write_text(TINY)
    out = root / "out"
    assert main(["sweep", "--config", str(config), "--out", str(out), "--no-progress"]) == 0
    return config, out


@pytest.mark.slow
def test_table_rows_and_columns(tiny_sweep):
    _, out = tiny_sweep
    rows = json.loads((out / "results.json").read_text())
    with (out / "results.csv").open(newline="") as f:
        csv_rows = list(csv.DictReader(f))
    assert len(rows) == len(csv_rows)
    assert {r["agent"] for r in rows} == {"gnn", "random"}
    for agent in ("gnn", "random"):
        groups = [r["depth_group"] for r in rows if r["agent"] == agent]
        assert groups[0] == "all" and "2" in groups  # an "all" row, then per circuit depth
    for key in sweep.ROW_KEYS:
        assert key in csv_rows[0]
    gnn = next(r for r in rows if r["agent"] == "gnn" and r["depth_group"] == "all")
    assert gnn["param_count"] > 0 and gnn["serial_depth"] == 1 + 2 * 1 + 1
    assert gnn["flops_per_decision"] is None or gnn["flops_per_decision"] > 0
    assert gnn["env_steps"] == 128 and gnn["wall_s"] > 0
    assert gnn["config.train.network.width"] == 8 and gnn["config.train.ppo.num_envs"] == 8
    assert 0.0 <= gnn["mean_ratio"] <= 1.0 and gnn["episodes"] == 16
    rnd = next(r for r in rows if r["agent"] == "random" and r["depth_group"] == "all")
    assert rnd["param_count"] == 0 and rnd["env_steps"] == 0
    assert len(list((out / "cells").glob("*.json"))) == 2


@pytest.mark.slow
def test_resume_recomputes_nothing(tiny_sweep, monkeypatch):
    config, out = tiny_sweep
    before = (out / "results.csv").read_text()

    def fail(*args, **kwargs):
        raise AssertionError("a finished cell was recomputed")

    monkeypatch.setattr("do1rl.experiments.sweep.run.run_cell", fail)
    assert main(["sweep", "--config", str(config), "--out", str(out), "--no-progress"]) == 0
    assert (out / "results.csv").read_text() == before


@pytest.mark.slow
def test_changed_config_is_a_new_cell(tiny_sweep, monkeypatch):
    config, out = tiny_sweep
    ran = []

    def fake(cell, cfg, out_dir):
        ran.append(cell.agent)
        return {
            "cell_id": cell.cell_id(cfg.mcts),
            "agent": cell.agent,
            "settings": cell.settings(),
            "info": {"horizon": 6, "wall_s": 0.0},
            "reports": [{"episodes": 1, "mean_ratio": 1.0, "mean_regret": 0.0, "by_depth": {}}],
        }

    monkeypatch.setattr("do1rl.experiments.sweep.run.run_cell", fake)
    args = ["sweep", "--config", str(config), "--out", str(out / "other"), "--no-progress", "train.eval.episodes=8"]
    assert main(args) == 0
    assert sorted(ran) == ["gnn", "random"]


@pytest.mark.parametrize(
    "text, needle",
    [
        ("grid: {agents: [gnn], bogus: 1}\n", "grid.bogus"),
        ("grid: {agents: [transformer]}\n", "transformer"),
        ("grid: {agents: [gnn], circuit_depths: [two]}\n", "circuit_depths"),
        ("grid: {agents: [mlp]}\nfamily_networks: {mlp: {depth: 3}}\n", "multiple of 4"),
        ("grid: {agents: [mlp]}\nfamily_env: {mpl: {pad_depth: 16}}\n", "family_env"),
        ("grid: {agents: [mlp]}\nfamily_env: {mlp: {pad_depth: 16}}\n", "chain_scale: circuit"),
        ("grid: {agents: [gnn]}\nfamily_shapes: {gnn: [[0, 8]]}\n", "family_shapes.gnn"),
        ("grid: {agents: [gnn]}\nfamily_shapes: {gnn: [[1, 8, 2]]}\n", "family_shapes.gnn"),
        ("grid: {agents: [gnn]}\nfamily_shapes: {gpt: [[1, 8]]}\n", "family_shapes: unknown family 'gpt'"),
        ("grid: {agents: [gnn]}\nfamily_train: {gnn: {sac: {lr: 1}}}\n", "family_train.gnn"),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path, capsys, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["sweep", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err
    assert not (tmp_path / "o").exists()


def _row(**kw):
    row = dict.fromkeys(sweep.ROW_KEYS)
    row.update(seed_index=0, prefix_chain=0, param_count=0, depth_group="all", episodes=10)
    row.update(kw)
    return row


def synthetic_rows():
    rows = []
    for d in (2, 4, 6):
        for agent, ratio in (("mlp", 1 - 0.1 * d), ("gnn", 1 - 0.05 * d), ("recurrent", 0.97), ("mcts", 1.0)):
            for group in ("all", str(d)):
                rows.append(
                    _row(
                        sweep="fam",
                        agent=agent,
                        circuit_depth=d,
                        depth_group=group,
                        mean_ratio=ratio,
                        mean_regret=1 - ratio,
                        simulations=64 if agent == "mcts" else None,
                        network_depth=3 if agent in ("mlp", "gnn") else None,
                        network_width=32,
                    )
                )
    for depth, width in ((1, 16), (2, 16), (4, 16), (2, 8), (2, 64)):
        rows.append(
            _row(
                sweep="dw",
                agent="gnn",
                circuit_depth=4,
                network_depth=depth,
                network_width=width,
                param_count=100 * depth * width,
                mean_ratio=0.5 + 0.1 * depth,
                mean_regret=0.1,
            )
        )
    for s in (1, 2, 4, 8):
        for d in (3, 6):
            rows.append(_row(sweep="mc", agent="mcts", circuit_depth=d, simulations=s, mean_ratio=s / 8, mean_regret=8 / s))
    for pc in (0, 2, 4):
        for agent in ("gnn", "mcts"):
            rows.append(
                _row(
                    sweep="hz",
                    agent=agent,
                    circuit_depth=3,
                    prefix_chain=pc,
                    horizon=9 + pc,
                    network_depth=2,
                    network_width=32,
                    mean_ratio=0.9,
                    mean_regret=0.1 * pc,
                )
            )
    return rows


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_plot_writes_pngs(tmp_path, capsys, suffix):
    rows = synthetic_rows()
    out = tmp_path / "data"
    out.mkdir()
    csv_path, json_path = sweep.write_table(rows, out)
    figures = tmp_path / "figs"
    assert main(["plot", str(json_path if suffix == ".json" else csv_path), "--out", str(figures)]) == 0
    names = sorted(p.name for p in figures.glob("*.png"))
    assert names == ["deep_vs_wide.png", "families_vs_depth.png", "horizon.png", "mcts_budget.png"]
    for p in figures.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_skips_missing_panels(tmp_path, capsys):
    rows = [r for r in synthetic_rows() if r["sweep"] == "mc"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(rows))
    assert main(["plot", str(path), "--out", str(tmp_path / "f")]) == 0
    out = capsys.readouterr().out
    assert "skipped families_vs_depth" in out and "skipped horizon" in out
    assert [p.name for p in (tmp_path / "f").glob("*.png")] == ["mcts_budget.png"]


def test_plot_bad_file_exits_2(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text("{not json")
    assert main(["plot", str(path), "--out", str(tmp_path / "f")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# ----- honest baselines and decisive cases (issue 21) ----------------------------------------------
ONE_SHOT_SWEEP = {
    "grid": {"agents": ["gnn", "always_chain", "always_circuit", "greedy", "random"], "network_depths": [1, 5], "test_depths": [3]},
    "train": {
        "env": {
            "id": "do1rl/DO1-v0",
            "args": {"family": "biregular", "width": 3, "k": 2, "depths": [2, 3], "pad_depth": 3, "max_selections": 1},
        },
        "network": {"family": "gnn", "depth": 1, "width": 8},
    },
}


def _config(data):
    from do1rl.experiments import config as config_lib

    return config_lib.from_dict(sweep.SweepConfig, data)


def test_grid_takes_baselines_and_decisive_blocks():
    cells = sweep.cells(_config(ONE_SHOT_SWEEP))
    assert [c.agent for c in cells] == ["gnn", "gnn", "always_chain", "always_circuit", "greedy", "random"]
    assert all(c.decisive_blocks == (0, 1, 3, 5) for c in cells)  # the default [0, 3] and every gnn's L
    assert cells[2].settings()["decisive_blocks"] == [0, 1, 3, 5]
    grid = dict(ONE_SHOT_SWEEP["grid"], decisive_blocks=[2])
    assert all(c.decisive_blocks == (1, 2, 5) for c in sweep.cells(_config(dict(ONE_SHOT_SWEEP, grid=grid))))
    grid = dict(ONE_SHOT_SWEEP["grid"], decisive_blocks=[])
    assert all(c.decisive_blocks == () for c in sweep.cells(_config(dict(ONE_SHOT_SWEEP, grid=grid))))
    import yaml

    plain = sweep.cells(_config(yaml.safe_load(TINY)))  # AlternatingCircuit: no decisive cases, ids as before
    assert all(c.decisive_blocks == () and "decisive_blocks" not in c.settings() for c in plain)


def test_family_shapes_and_family_train_of_another_algorithm():
    grid = {k: v for k, v in ONE_SHOT_SWEEP["grid"].items() if k != "network_depths"}
    data = dict(ONE_SHOT_SWEEP, grid=dict(grid, agents=["mlp", "gnn", "greedy"], network_shapes=[[4, 8]]))
    data["family_shapes"] = {"gnn": [[1, 16], [3, 8]]}
    data["family_train"] = {"gnn": {"expert_iteration": {"aux_coef": 0.5}}}
    cells = sweep.cells(_config(data))
    shapes = [(c.agent, c.train.network.depth, c.train.network.width) for c in cells if c.trains]
    assert shapes == [("mlp", 4, 8), ("gnn", 1, 16), ("gnn", 3, 8)]  # the grid's shapes unless the family has its own
    assert [c.train.expert_iteration.aux_coef for c in cells if c.trains] == [0.0, 0.5, 0.5]


def test_family_env_overrides_one_familys_training_env():
    data = dict(ONE_SHOT_SWEEP, grid=dict(ONE_SHOT_SWEEP["grid"], agents=["mlp", "gnn", "greedy"], network_depths=[4]))
    data["family_env"] = {"mlp": {"pad_depth": 9}}
    data["train"] = dict(data["train"], env=dict(data["train"]["env"], args=dict(data["train"]["env"]["args"], chain_scale="circuit")))
    cells = sweep.cells(_config(data))
    pads = {c.agent: c.train.env.args.get("pad_depth") for c in cells}
    base = ONE_SHOT_SWEEP["train"]["env"]["args"].get("pad_depth")
    assert pads == {"mlp": 9, "gnn": base, "greedy": base}
    assert cells[0].cell_id(sweep.SweepConfig().mcts) != sweep.cells(_config(dict(data, family_env={})))[0].cell_id(
        sweep.SweepConfig().mcts
    )


@pytest.mark.slow
def test_the_pad_changes_no_test_instance():
    """Cells at different pads (family_env) still play the same episodes when k follows the circuit's depth.

    With the default chain_scale "max", k ~ U{1..max depth} and the pad raises the max: not the same episodes.
    """
    import jax

    from do1rl.envs.make import make

    args = {"family": "biregular", "width": 3, "k": 2, "depth": 3, "stratify_d1": True, "max_selections": 1, "chain_scale": "circuit"}
    small, small_params = make("do1rl/DO1-v0", pad_depth=3, **args)
    large, large_params = make("do1rl/DO1-v0", pad_depth=6, **args)
    keys = jax.random.split(jax.random.key(0), 8)
    a = jax.vmap(small.reset, (0, None))(keys, small_params)[1]
    b = jax.vmap(large.reset, (0, None))(keys, large_params)[1]
    assert a.value.shape != b.value.shape
    for field in ("optimal_return", "cert_depth", "chain_length", "circuit_depth"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_rows_carry_decisive_accuracy_and_steps_to_plateau():
    interval = {"mean": 0.5, "low": 0.4, "high": 0.6}
    report = {
        "episodes": 4,
        "mean_return": 1.0,
        "mean_optimal": 2.0,
        "mean_regret": 1.0,
        "mean_ratio": 0.5,
        "by_depth": {},
        "decisive": {"3": {"episodes": 2, "accuracy": 0.5}, "0": {"episodes": 1, "accuracy": None}},
    }
    result = {
        "cell_id": "gnn-x",
        "agent": "gnn",
        "settings": {"agent": "gnn", "train": {"env": {"args": {}}, "network": {"family": "gnn", "depth": 3, "width": 8}}},
        "info": {"steps_to_plateau": [1000, 3000], "curve": [[], []]},
        "evaluations": [
            {
                "test_depth": 4,
                "iterations": None,
                "reports": [report, report],
                "intervals": {"mean_ratio": interval, "decisive_accuracy_L3": interval, "ceiling_ratio_L0": interval},
                "decisive_episodes": {"3": 2, "0": 1},
            }
        ],
    }
    rows = sweep.rows_of(result, "s")
    seeds = [r for r in rows if r["seed_index"] != "all"]
    assert [r["steps_to_plateau"] for r in seeds] == [1000, 3000]
    assert seeds[0]["decisive_accuracy_L3"] == 0.5 and seeds[0]["decisive_accuracy_L0"] is None
    assert seeds[0]["decisive_episodes_L0"] == 1
    pooled = next(r for r in rows if r["seed_index"] == "all")
    assert pooled["steps_to_plateau"] == 2000 and pooled["decisive_episodes_L3"] == 2
    assert (pooled["decisive_accuracy_L3"], pooled["decisive_accuracy_L3_low"]) == (0.5, 0.4)
    assert pooled["ceiling_ratio_L0_high"] == 0.6
    result["info"]["steps_to_plateau"] = [1000, None]  # one seed never plateaued
    assert next(r for r in sweep.rows_of(result, "s") if r["seed_index"] == "all")["steps_to_plateau"] is None


def _report_rows():
    def row(agent, d, ratio, **kw):
        r = _row(sweep="generalisation", agent=agent, seed_index="all", test_depth=d, **kw)
        for name, mean in (
            ("mean_ratio", ratio),
            ("first_choice_accuracy", 0.7),
            ("decisive_accuracy_L3", 0.2),
            ("decisive_accuracy_L1", 0.4),
            ("ceiling_ratio_L0", 0.75),
        ):
            r[name], r[f"{name}_low"], r[f"{name}_high"] = mean, mean - 0.02, mean + 0.02
        return r

    rows = []
    for d in (4, 8, 12):
        net = {"network_width": 16, "param_count": 10, "serial_depth": 4}
        rows.append(row("gnn", d, 0.5, network_depth=1, steps_to_plateau=2048, **net))
        rows.append(row("mlp", d, 0.95 - 0.01 * d, network_depth=8, **net))
        rows += [row(a, d, v) for a, v in (("always_chain", 0.79), ("always_circuit", 0.3), ("greedy", 0.1), ("random", 0.05))]
    return rows


@pytest.mark.slow
def test_report_gates_verdicts_on_the_best_trivial_policy(tmp_path):
    """A net whose ratio CI is not above the best trivial policy's at its training depths is "not learned"."""
    import subprocess
    import sys
    from pathlib import Path

    runs = tmp_path / "runs"
    (runs / "generalisation").mkdir(parents=True)
    sweep.write_table(_report_rows(), runs / "generalisation")
    (runs / "generalisation" / "sweep.yaml").write_text(
        "train: {num_seeds: 1, eval: {episodes: 4}, ppo: {total_timesteps: 8}, env: {args: {depths: [4, 5, 6, 7, 8]}}}\n"
    )
    out = tmp_path / "results.md"
    script = Path(__file__).resolve().parents[1] / "scripts" / "ssh_report.py"
    done = subprocess.run(
        [sys.executable, str(script), str(runs), "--out", str(out)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    assert "- Not learned (not evidence): gnn (L = 1, width 16)." in text  # 0.5 < always_chain's 0.79
    assert "- mlp (depth 8): degrades" in text and "learned (D = 4: above always the chain's top gate" in text
    for name in (
        "always the chain's top gate",
        "always C's deepest gate",
        "| greedy |",
        "| random |",
        "prior-only ceiling (L = 0), expected ratio | 0.750 [0.730, 0.770]",
    ):
        assert name in text
    assert "| gnn (L = 1, width 16) | 0.500 [0.480, 0.520] | 0.200 [0.180, 0.220] | L = 1: 0.400 [0.380, 0.420] | 2,048 |" in text
    assert "| mlp (depth 8) | 0.910 [0.890, 0.930] | 0.200 [0.180, 0.220] | — | — |" in text


def test_cell_ids_do_not_drift_when_fields_are_added():
    """Pinned ids of shipped sweeps: a new config field at its default must not rename finished cells.

    (log.keep_checkpoints once renamed every trained cell; `train_config.ADDED_FIELDS` lists such fields.)
    """
    from do1rl.experiments.sweep import cells, load_config

    config = load_config(Path(__file__).parent.parent / "configs" / "ssh_serial.yaml")
    ids = [cell.cell_id(config.mcts) for cell in cells(config)][:3]
    assert ids == ["bottleneck-w32-1605e452", "gnn-d3w16-aa9c4f5d", "recurrent-w16-f84aa248"]
