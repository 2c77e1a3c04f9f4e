"""`do1rl train`: run folders, exact resume after SIGTERM, NaN stop, TensorBoard, `--agent ppo:`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import chex
import jax
import pytest

from do1rl import cli
from do1rl.experiments import checkpoint, training
from do1rl.experiments import config as config_lib
from do1rl.experiments.event_log import read_events, read_scalars
from do1rl.experiments.global_checkpoint import CHECKPOINT
from do1rl.experiments.runs import load_config
from do1rl.experiments.trainer import Trainer

pytestmark = pytest.mark.slow  # the slow lane (docs/testing.md)

TINY = textwrap.dedent(
    """
    seed: 7
    env:
      id: do1rl/AlternatingCircuit-v0
      args: {n_inputs: 3, depth: 2, width: 2, stop_action: true}
    network: {family: mlp, depth: 4, width: 16}
    ppo: {total_timesteps: 1536, num_envs: 16, num_steps: 16, num_minibatches: 2, update_epochs: 2}
    eval: {episodes: 64, seed: 99}
    log: {updates_per_chunk: 2}
    """
)


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def full_run(tiny_config, tmp_path_factory) -> Path:
    """An uninterrupted run of the tiny config."""
    run = tmp_path_factory.mktemp("runs") / "full"
    assert cli.main(["train", "--config", str(tiny_config), "--out", str(run), "--no-progress"]) == 0
    return run


def _state(run: Path):
    trainer = Trainer(load_config(run))
    return checkpoint.restore(run / CHECKPOINT, trainer.state_shape)


def test_run_folder_contents(full_run):
    assert (full_run / "config.yaml").exists()
    assert (full_run / CHECKPOINT).exists()
    report = json.loads((full_run / "eval.json").read_text())
    expected = {
        "episodes",
        "mean_return",
        "mean_optimal",
        "mean_regret",
        "max_regret",
        "mean_ratio",
        "median_ratio",
        "p5_ratio",
        "min_ratio",
        "by_depth",
        "env",
        "agent",
        "seed",
    }
    assert expected <= set(report) and report["episodes"] == 64
    _, meta = _state(full_run)
    assert meta["update"] == 6 and meta["env_steps"] == 1536
    assert not list(full_run.glob("**/*.tmp*")), "temporary files left behind"


def _event_tags(run: Path) -> set[str]:
    """Scalar tags in the run's TensorBoard files."""
    return {tag for tag, _, _ in read_scalars(run)}


def test_tensorboard_scalars(full_run):
    tags = _event_tags(full_run)
    for tag in (
        "loss/policy",
        "loss/value",
        "loss/entropy",
        "episode/return",
        "episode/approx_ratio",
        "episode/regret",
        "train/approx_kl",
        "train/clip_fraction",
        "train/explained_variance",
        "perf/steps_per_s",
    ):
        assert tag in tags, sorted(tags)
    rows = read_scalars(full_run)
    first = min(step for tag, step, _ in rows if tag == "loss/policy")
    rate_steps = {step for tag, step, _ in rows if tag == "perf/steps_per_s"}
    assert first not in rate_steps and rate_steps  # the first chunk's time includes compiling: logged apart
    assert [step for tag, step, _ in rows if tag == "perf/first_chunk_s"] == [first]
    texts = [v for e in read_events(full_run) for v in e.summary.value if v.tag == "config/text_summary"]
    assert len(texts) == 1 and b"network:" in texts[0].tensor.string_val[0]  # the resolved config, as text


def test_sigterm_saves_and_resume_is_bitwise_equal(tiny_config, full_run, tmp_path, monkeypatch):
    run = tmp_path / "interrupted"
    real_save = checkpoint.save
    calls = []

    def save_then_signal(*args, **kwargs):
        real_save(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:  # a real SIGTERM arrives as the first trained chunk is saved: stop between chunks
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(checkpoint, "save", save_then_signal)
    assert cli.main(["train", "--config", str(tiny_config), "--out", str(run), "--no-progress"]) == 130
    monkeypatch.setattr(checkpoint, "save", real_save)
    _, meta = _state(run)
    assert meta["update"] == 2 and not (run / "eval.json").exists()
    assert cli.main(["train", "--resume", str(run), "--no-progress"]) == 0
    resumed, meta = _state(run)
    full, _ = _state(full_run)
    assert meta["update"] == 6
    chex.assert_trees_all_equal(jax.tree.map(_raw, resumed), jax.tree.map(_raw, full))
    assert json.loads((run / "eval.json").read_text()) == json.loads((full_run / "eval.json").read_text())
    # A finished run refuses to start over in the same folder.
    assert cli.main(["train", "--config", str(tiny_config), "--out", str(run), "--no-progress"]) == 2


def test_sigint_while_a_chunk_compiles_is_answered_within_5_s_and_resume_is_exact(tiny_config, full_run, tmp_path):
    """Before: the signal waited for the chunk (its compile included), 54-139 s on the attack battery's configs."""
    run = tmp_path / "compiling"
    command = [sys.executable, "-m", "do1rl", "train", "--config", str(tiny_config), "--out", str(run), "--no-progress"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # printed after the first checkpoint, as the first chunk starts compiling
        if "network:" in line:
            break
    proc.send_signal(signal.SIGINT)
    start = time.perf_counter()
    out, err = proc.communicate(timeout=120)
    assert time.perf_counter() - start < 5, "not answered within 5 s"
    assert proc.returncode == 130 and "Traceback" not in err, err[-2000:]
    assert out.strip().splitlines()[-1] == f"SIGINT: stopped; kept the checkpoint at iteration 0; resume with --resume {run}"
    assert cli.main(["train", "--resume", str(run), "--no-progress"]) == 0
    chex.assert_trees_all_equal(jax.tree.map(_raw, _state(run)[0]), jax.tree.map(_raw, _state(full_run)[0]))
    assert json.loads((run / "eval.json").read_text()) == json.loads((full_run / "eval.json").read_text())


def test_sigterm_during_the_final_evaluation_is_answered(tiny_config, full_run, tmp_path, monkeypatch, capsys):
    run = tmp_path / "evaluating"
    real_evaluate = training.evaluate

    def signalled(*args, **kwargs):  # a real SIGTERM arrives as the final evaluation starts
        os.kill(os.getpid(), signal.SIGTERM)
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate", signalled)
    assert cli.main(["train", "--config", str(tiny_config), "--out", str(run), "--no-progress"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("SIGTERM: skipped the final evaluation"), err
    assert _state(run)[1]["update"] == 6 and not (run / "eval.json").exists()
    monkeypatch.setattr(training, "evaluate", real_evaluate)
    assert cli.main(["train", "--resume", str(run), "--no-progress"]) == 0  # trains no further, evaluates
    assert json.loads((run / "eval.json").read_text()) == json.loads((full_run / "eval.json").read_text())


def test_resume_of_a_start_killed_before_its_first_checkpoint_ends_like_an_uninterrupted_run(full_run, tmp_path, capsys):
    """What SIGKILL leaves before the first checkpoint: config.yaml and the format record. Before, `--resume` refused it."""
    run = tmp_path / "killed_early"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_bytes((full_run / "config.yaml").read_bytes())
    (run / "checkpoints" / "format.json").write_bytes((full_run / "checkpoints" / "format.json").read_bytes())
    assert cli.main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert "starting it again from its config.yaml" in capsys.readouterr().out
    chex.assert_trees_all_equal(jax.tree.map(_raw, _state(run)[0]), jax.tree.map(_raw, _state(full_run)[0]))
    assert (run / "eval.json").read_bytes() == (full_run / "eval.json").read_bytes()


def test_a_start_that_fails_before_training_leaves_nothing_that_refuses_the_rerun(tiny_config, tmp_path):
    from do1rl.experiments.global_checkpoint import has_checkpoint
    from do1rl.experiments.train_config import TrainConfig

    config = config_lib.load(TrainConfig, tiny_config)
    trainer = Trainer(config)

    def out_of_memory(*_args):  # what XLA raises when the first chunk does not fit
        raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 17.7GB")

    trainer.run_chunk = out_of_memory
    run = tmp_path / "failed"
    with pytest.raises(RuntimeError, match="RESOURCE_EXHAUSTED"):
        training.train_run(config, run, progress=False, log=lambda *_: None, trainer=trainer)
    assert not has_checkpoint(run) and [p.name for p in run.iterdir()] == [".lock"]  # the rerun is not refused


def _raw(x):
    return jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_config, tmp_path, capsys):
    run = tmp_path / "nan"
    args = ["train", "--config", str(tiny_config), "--out", str(run), "--no-progress"]
    # One gradient step per iteration: iteration 1's loss is finite, its step blows the
    # weights up to ~1e38, and iteration 2's loss is not finite.
    overrides = ["ppo.learning_rate=1e38", "ppo.anneal_lr=false", "ppo.update_epochs=1", "ppo.num_minibatches=1", "log.updates_per_chunk=1"]
    assert cli.main(args + overrides) == 3
    captured = capsys.readouterr()
    assert "NaN or inf" in captured.err and "NaN or inf" not in captured.out  # an error goes to stderr
    # Without a bar, each logged chunk gets one line with its throughput.
    assert "iteration 1/" in captured.out and "env-steps/s" in captured.out
    state, meta = _state(run)
    assert meta["update"] == 1
    assert all(bool(jax.numpy.isfinite(x).all()) for x in jax.tree.leaves(state.params))
    assert not (run / "eval.json").exists()


def test_eval_ppo_agent_matches_eval_json(full_run, tmp_path):
    out = tmp_path / "m.json"
    args = ["eval", "--agent", f"ppo:{full_run}", "--episodes", "64", "--seed", "99", "--no-progress", "--out", str(out)]
    assert cli.main(args) == 0
    mine = json.loads(out.read_text())
    ref = json.loads((full_run / "eval.json").read_text())
    for key in ("mean_return", "mean_ratio", "mean_regret", "max_regret", "by_depth"):
        assert mine[key] == ref[key], key
    assert cli.main(args[:-2] + ["--stochastic", "--out", str(out)]) == 0
    assert cli.main(["eval", "--agent", f"ppo:{tmp_path}/missing", "--no-progress"]) == 2
    assert cli.main(["eval", "--agent", f"ppo:{full_run}", "--env-arg", "depth=5", "--no-progress"]) == 2


def test_mcts_with_a_trained_prior(full_run, tmp_path):
    out = tmp_path / "mcts.json"
    args = [
        "eval",
        "--agent",
        "mcts",
        "--simulations",
        "4",
        "--mcts-prior",
        f"ppo:{full_run}",
        "--env",
        "do1rl/AlternatingCircuit-v0",
        "--env-arg",
        "n_inputs=3",
        "--env-arg",
        "depth=2",
        "--env-arg",
        "width=2",
        "--env-arg",
        "stop_action=true",
        "--episodes",
        "16",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert cli.main(args) == 0
    report = json.loads(out.read_text())
    depth = report["prior_serial_depth"]
    assert depth == 1 + 4 + 1  # the tiny run's mlp: embed, 4 block layers, heads
    assert report["serial_depth_per_decision"] == depth + 4 * (1 + depth)
    assert report["mcts_prior"] == f"ppo:{full_run}"


TWO_DEVICES = textwrap.dedent(
    """
    import jax, numpy as np
    from do1rl.experiments import config as C
    from do1rl.experiments.train_config import TrainConfig
    from do1rl.experiments.trainer import Trainer, seed_keys
    assert jax.local_device_count() == 2
    cfg = C.load(TrainConfig, None, ["env.args={n_inputs: 3, depth: 2, width: 2, stop_action: true}",
        "network.family=mlp", "network.depth=4", "network.width=16", "ppo.num_envs=16", "ppo.num_steps=8",
        "ppo.total_timesteps=512", "ppo.num_minibatches=2"])
    out = {}
    for devices in (1, 2):
        t = Trainer(cfg, devices=devices)
        state, _ = t.run_chunk(t.init(seed_keys(cfg)), 4)
        out[devices] = state
    leaf = jax.tree.leaves(out[2].env_state)[0]
    assert len(leaf.sharding.device_set) == 2, leaf.sharding
    for a, b in zip(jax.tree.leaves(out[1].params), jax.tree.leaves(out[2].params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-5)
    np.testing.assert_array_equal(np.asarray(out[1].env_state.selected), np.asarray(out[2].env_state.selected))
    print("ok")
    """
)


def test_two_devices_train_like_one():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    result = subprocess.run([sys.executable, "-c", TWO_DEVICES], check=False, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_compare_runs_replays_the_runs_own_evaluation(full_run, tmp_path):
    """scripts/compare_runs.py plays a run's eval episodes again: the mean ratio of eval.json, with an interval."""
    out = tmp_path / "compare.json"
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, str(root / "scripts/compare_runs.py"), str(full_run), str(full_run), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.read_text())
    want = json.loads((full_run / "eval.json").read_text())["mean_ratio"]
    assert len(rows) == 2 and rows[0]["mean_ratio"] == rows[1]["mean_ratio"]
    assert rows[0]["seed_mean_ratios"][0] == pytest.approx(want, abs=1e-9)
    assert rows[0]["mean_ratio"]["low"] <= rows[0]["mean_ratio"]["mean"] <= rows[0]["mean_ratio"]["high"]
    bad = subprocess.run(
        [sys.executable, str(root / "scripts/compare_runs.py"), str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not a training run" in bad.stderr
