"""Train to plateau (issue 21): the stopping rule, curve.json / plateau.json, exact resume, sweep info, figure."""

from __future__ import annotations

import json
import os
import signal
import textwrap
from pathlib import Path

import chex
import jax
import numpy as np
import pytest
import yaml

from do1rl.agents.baselines import BASELINES, TRIVIAL
from do1rl.core.solver import approximation_ratio
from do1rl.evaluation import play
from do1rl.experiments import checkpoint, training
from do1rl.experiments import config as config_lib
from do1rl.experiments.event_log import read_scalars
from do1rl.experiments.global_checkpoint import CHECKPOINT
from do1rl.experiments.plateau import CURVE_FILE, PLATEAU_FILE, plateau_point
from do1rl.experiments.runs import load_config
from do1rl.experiments.train_config import TrainConfig
from do1rl.experiments.trainer import Trainer, seed_keys

pytestmark = pytest.mark.slow  # the slow lane (docs/testing.md)

TINY = textwrap.dedent(
    """
    seed: 3
    num_seeds: 2
    env:
      id: do1rl/AlternatingCircuit-v0
      args: {n_inputs: 3, depth: 3, width: 3, stop_action: true}
    network: {family: mlp, depth: 4, width: 16}
    ppo: {total_timesteps: 2048, num_envs: 16, num_steps: 16, num_minibatches: 2, update_epochs: 2,
          learning_rate: 1.0e-6}
    eval: {episodes: 32, seed: 99}
    log: {updates_per_chunk: 2}
    """
)
# A flat objective: a learning rate of 1e-6 changes the weights (bit for bit) but not the greedy
# choices within 8 iterations of 256 steps. Every run shares this PPO config, so one compiled Trainer.
PLATEAU = ["plateau.enabled=true", "plateau.eval_every=2", "plateau.episodes=48"]
NEVER = [*PLATEAU, "plateau.patience=100"]  # evaluations after iterations 0, 2, 4, 6, 8; never plateaus
FLAT = [*PLATEAU, "plateau.patience=2"]  # plateaus at iteration 4


def _entry(update, mean, half=0.05):
    return {"update": update, "env_steps": 100 * update, "mean_ratio": mean, "lo": mean - half, "hi": mean + half}


def _curve(means, every=1, half=0.05):
    return [_entry(i * every, m, half) for i, m in enumerate(means)]


def test_rule_plateaus_after_exactly_patience_evaluations():
    for patience in (1, 2, 3, 5):
        flat = _curve([0.5] * 10)
        assert plateau_point(flat, patience) == (patience, 0)
        assert plateau_point(flat[:patience], patience) is None


def test_rule_improvement_beyond_interval_resets_the_counter():
    # 0.5 +- 0.05: 0.56 beats it (new best at index 2, half-width 0.05: next bar 0.61).
    curve = _curve([0.5, 0.52, 0.56, 0.60, 0.58, 0.61, 0.59])
    assert plateau_point(curve, 3) == (5, 2)
    assert plateau_point(curve[:5], 3) is None
    # Gains inside the best's half-width never reset it: a slow creep still plateaus.
    creep = _curve([0.5, 0.53, 0.545, 0.549])
    assert plateau_point(creep, 3) == (3, 0)
    # A wide interval needs a larger gain.
    wide = _curve([0.5, 0.65, 0.7], half=0.25)
    assert plateau_point(wide, 2) == (2, 0)


def test_rule_never_before_min_updates():
    flat = _curve([0.5] * 10, every=10)  # updates 0, 10, ..., 90
    assert plateau_point(flat, 2) == (2, 0)
    assert plateau_point(flat, 2, min_updates=55) == (6, 0)  # the first evaluation at or past iteration 55
    assert plateau_point(flat, 2, min_updates=1000) is None
    with pytest.raises(ValueError):
        plateau_point(flat, 0)


def test_config_keys_and_checks():
    cfg = TrainConfig()
    assert not cfg.plateau.enabled and cfg.plateau_seed == cfg.eval.seed + 1
    assert "plateau.patience" in config_lib.valid_keys(TrainConfig)
    with pytest.raises(config_lib.ConfigError, match=r"multiple of log\.updates_per_chunk"):
        config_lib.load(TrainConfig, None, ["plateau.enabled=true", "plateau.eval_every=15"])
    with pytest.raises(config_lib.ConfigError, match="patience must be >= 1"):
        config_lib.load(TrainConfig, None, ["plateau.patience=0"])
    assert config_lib.load(TrainConfig, None, ["plateau.seed=5"]).plateau_seed == 5


def _config(overrides=()) -> TrainConfig:
    data = config_lib.merge(yaml.safe_load(TINY), config_lib.parse_overrides(list(overrides)))
    return config_lib.from_dict(TrainConfig, data)


def _quiet(*_args, **_kwargs):
    pass


def _train(config: TrainConfig, out: Path, trainer: Trainer, resume: bool = False) -> int:
    return training.train_run(config, out, resume=resume, progress=False, log=_quiet, trainer=trainer)


@pytest.fixture(scope="session")
def trainer() -> Trainer:
    """One Trainer (compiled once) for every run: they differ only in `plateau`."""
    return Trainer(_config())


@pytest.fixture(scope="session")
def runs(trainer, tmp_path_factory) -> dict[str, Path]:
    """Two uninterrupted runs of the tiny config: plateau enabled but never met, and met at iteration 4."""
    root = tmp_path_factory.mktemp("plateau_runs")
    out = {"never": root / "never", "flat": root / "flat"}
    assert _train(_config(NEVER), out["never"], trainer) == training.OK
    assert _train(_config(FLAT), out["flat"], trainer) == training.OK
    return out


def _state(run: Path, trainer: Trainer):
    return checkpoint.restore(run / CHECKPOINT, trainer.state_shape)


def _raw(x):
    return jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x


def test_enabled_trains_bitwise_like_disabled(runs, trainer):
    """The evaluations use none of the training keys: at the cap, the state of plain chunks, bit for bit.

    A disabled run is the loop of before (no evaluation, metadata {update,
    env_steps}, no plateau files: tests/test_train_cli.py checks those runs);
    here the reference is the Trainer's own chunks.
    """
    config = _config()
    assert not config.plateau.enabled
    off = trainer.init(seed_keys(config))
    for _ in range(4):
        off, _ = trainer.run_chunk(off, 2)
    never, never_meta = _state(runs["never"], trainer)
    chex.assert_trees_all_equal(jax.tree.map(_raw, jax.device_get(off)), jax.tree.map(_raw, never))
    assert never_meta["update"] == 8
    report = json.loads((runs["never"] / PLATEAU_FILE).read_text())
    assert report["stopped_early"] is False and report["steps_to_plateau"] == [None, None]
    assert report["env_steps"] == report["cap_env_steps"] == 2048
    curve = json.loads((runs["never"] / CURVE_FILE).read_text())
    assert [[e["update"] for e in seed] for seed in curve["seeds"]] == [[0, 2, 4, 6, 8]] * 2
    for seed in curve["seeds"]:
        for e in seed:
            assert e["env_steps"] == 256 * e["update"] and e["lo"] <= e["mean_ratio"] <= e["hi"]


def test_flat_objective_stops_before_the_cap(runs, trainer):
    report = json.loads((runs["flat"] / PLATEAU_FILE).read_text())
    # Evaluations at 0, 2, 4: none beats the first (the policies do not move), patience 2 -> stop at 4.
    assert report["stopped_early"] is True and report["updates"] == 4 and report["env_steps"] == 1024
    assert report["steps_to_plateau"] == [0, 0] and report["plateau_update"] == [4, 4]
    _, meta = _state(runs["flat"], trainer)
    assert meta["update"] == 4
    curve = json.loads((runs["flat"] / CURVE_FILE).read_text())
    assert curve["episodes"] == 48 and curve["episode_seed"] == 100
    assert [[e["update"] for e in seed] for seed in curve["seeds"]] == [[0, 2, 4]] * 2
    assert (runs["flat"] / "eval.json").exists()
    tags = _event_tags(runs["flat"])
    assert {"eval/ratio", "eval/ratio/seed_0", "eval/ratio/seed_1", "eval/plateaued_seeds"} <= tags
    assert {"episode/approx_ratio/seed_0", "episode/approx_ratio/seed_1", "episode/return/seed_1"} <= tags  # per seed


def test_eval_scalars_carry_the_trivial_baselines_on_the_same_episodes(runs, trainer):
    """`eval/baseline/<name>` at every evaluation: the ratio `play` gives that baseline on the held-out episodes."""
    scalars = read_scalars(runs["flat"])
    steps = sorted({step for tag, step, _ in scalars if tag == "eval/ratio"})
    config = _config(FLAT)
    for name in TRIVIAL:
        logged = [(step, value) for tag, step, value in scalars if tag == f"eval/baseline/{name}"]
        assert [step for step, _ in logged] == steps
        out = play(trainer.env, trainer.env_params, BASELINES[name], episodes=48, seed=config.plateau_seed)
        want = float(np.mean(approximation_ratio(np.asarray(out.returns, np.float64), np.asarray(out.optimal, np.float64))))
        assert all(value == pytest.approx(want, abs=1e-6) for _, value in logged), name
    best = [value for tag, _, value in scalars if tag == "eval/best_trivial"]
    assert best and best[0] == max(value for tag, step, value in scalars if tag.startswith("eval/baseline/") and step == 0)


def _event_tags(run: Path) -> set[str]:
    """Scalar tags in the run's TensorBoard files."""
    return {tag for tag, _, _ in read_scalars(run)}


def test_kill_and_resume_keeps_the_curve_exactly(runs, trainer, tmp_path, monkeypatch):
    run = tmp_path / "interrupted"
    real_save = checkpoint.save
    calls = []

    def save_then_signal(*args, **kwargs):
        real_save(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:  # after the checkpoint of iteration 2 (and its evaluation)
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(checkpoint, "save", save_then_signal)
    assert _train(_config(NEVER), run, trainer) == training.INTERRUPTED
    monkeypatch.setattr(checkpoint, "save", real_save)
    half = json.loads((run / CURVE_FILE).read_text())
    assert [e["update"] for e in half["seeds"][0]] == [0, 2] and not (run / PLATEAU_FILE).exists()
    # A curve.json newer than the checkpoint (a kill between the two writes) is rebuilt from the checkpoint.
    (run / CURVE_FILE).write_text(json.dumps(half | {"seeds": [s + s[-1:] for s in half["seeds"]]}))
    assert _train(load_config(run), run, trainer, resume=True) == training.OK
    for name in (CURVE_FILE, PLATEAU_FILE):
        assert json.loads((run / name).read_text()) == json.loads((runs["never"] / name).read_text()), name
    resumed, _ = _state(run, trainer)
    full, _ = _state(runs["never"], trainer)
    chex.assert_trees_all_equal(jax.tree.map(_raw, resumed), jax.tree.map(_raw, full))
    # Resuming a run that stopped at its plateau trains no further.
    assert _train(load_config(runs["flat"]), runs["flat"], trainer, resume=True) == training.OK
    assert _state(runs["flat"], trainer)[1]["update"] == 4
    # A trainer for another PPO config is refused.
    with pytest.raises(ValueError, match="another"):
        _train(_config(["ppo.learning_rate=0.1"]), tmp_path / "mismatch", trainer)


def test_a_kill_between_scalars_and_checkpoint_loses_and_repeats_no_metric(runs, trainer, tmp_path, monkeypatch):
    """Killed twice after a chunk's scalars are on disk, before its checkpoint: every (tag, step) once."""
    from collections import Counter

    run = tmp_path / "killed"
    real_save = checkpoint.save
    saves = []

    def killed_at_the_third(*args, **kwargs):
        saves.append(1)
        if len(saves) == 3:
            raise KeyboardInterrupt  # stands for SIGKILL: the checkpoint is never written
        real_save(*args, **kwargs)

    for launch in range(2):  # killed before the checkpoints of iterations 4 and 8 (the last)
        saves.clear()
        monkeypatch.setattr(checkpoint, "save", killed_at_the_third)
        with pytest.raises(KeyboardInterrupt):
            _train(load_config(run) if launch else _config(NEVER), run, trainer, resume=bool(launch))
    monkeypatch.setattr(checkpoint, "save", real_save)
    assert _train(load_config(run), run, trainer, resume=True) == training.OK
    got, want = read_scalars(run), read_scalars(runs["never"])
    assert max(Counter((t, s) for t, s, _ in got).values()) == 1
    # The same pairs and values, the wall-clock perf/ tags aside (a launch's first chunk logs its time, not a rate).
    timed = lambda rows: sorted((t, s, v) for t, s, v in rows if not t.startswith("perf/"))
    assert timed(got) == timed(want)


def test_sweep_info_and_learning_curve_figure(runs, tmp_path):
    from do1rl.experiments.plotting import plot_learning_curves
    from do1rl.experiments.sweep.cells import plateau_info

    assert plateau_info(tmp_path) == {}
    info = plateau_info(runs["flat"])
    assert info["steps_to_plateau"] == [0, 0] and info["stopped_early"] is True and info["env_steps"] == 1024
    assert len(info["curve"]) == 2 and info["curve"][0][0]["update"] == 0
    cells = [
        {"cell_id": "mlp-flat", "agent": "mlp", "info": info},
        {"cell_id": "mlp-never", "agent": "mlp", "info": plateau_info(runs["never"])},
        {"cell_id": "greedy", "agent": "greedy", "info": {}},
    ]
    path = plot_learning_curves(cells, tmp_path / "learning_curves.png")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_learning_curves(cells[2:], tmp_path / "none.png") is None
