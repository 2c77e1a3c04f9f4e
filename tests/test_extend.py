"""`do1rl train --resume RUN --extend TOTAL`: a finished run continued to a larger budget."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from do1rl import cli
from do1rl.experiments import checkpoint
from do1rl.experiments.event_log import read_scalars
from do1rl.experiments.global_checkpoint import CHECKPOINT, FINGERPRINT_KEY, LEGACY_FINGERPRINT_KEY, check_fingerprint
from do1rl.experiments.runs import load_config
from do1rl.experiments.train_config import TrainConfig, fingerprint, legacy_fingerprint
from do1rl.experiments.trainer import Trainer

TINY = textwrap.dedent(
    """
    seed: 5
    env:
      id: do1rl/AlternatingCircuit-v0
      args: {n_inputs: 3, depth: 2, width: 2, stop_action: true}
    network: {family: mlp, depth: 4, width: 16}
    ppo: {total_timesteps: 1536, num_envs: 16, num_steps: 16, num_minibatches: 2, update_epochs: 2, anneal_lr: false}
    eval: {episodes: 32, seed: 99}
    log: {updates_per_chunk: 2}
    """
)


def _train(*argv: str) -> int:
    return cli.main(["train", "--no-progress", *argv])


def test_the_fingerprint_leaves_the_budget_out_and_old_checkpoints_still_check():
    small, big = TrainConfig(), TrainConfig().__class__(ppo=TrainConfig().ppo.__class__(total_timesteps=10**6))
    assert fingerprint(small) == fingerprint(big) and legacy_fingerprint(small) != legacy_fingerprint(big)
    check_fingerprint("ckpt", {FINGERPRINT_KEY: fingerprint(small)}, big)
    check_fingerprint("ckpt", {LEGACY_FINGERPRINT_KEY: legacy_fingerprint(small)}, small)  # written before
    with pytest.raises(checkpoint.CheckpointError, match="written for another config"):
        check_fingerprint("ckpt", {LEGACY_FINGERPRINT_KEY: legacy_fingerprint(small)}, big)


def test_extend_is_refused_in_one_line_without_resume_or_a_larger_budget(tmp_path, capsys):
    assert _train("--extend", "100") == 2
    assert "--resume" in capsys.readouterr().err


@pytest.mark.slow
def test_an_extended_run_is_bitwise_the_run_that_asked_for_the_budget_from_the_start(tmp_path, capsys):
    """anneal_lr false: 4 iterations, then --extend to 6, equals 6 iterations at once (checkpoint bytes, scalars)."""
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    full, short = tmp_path / "full", tmp_path / "short"
    assert _train("--config", str(config), "--out", str(full)) == 0
    assert _train("--config", str(config), "--out", str(short), "ppo.total_timesteps=1024") == 0
    capsys.readouterr()
    assert _train("--resume", str(short), "--extend", "512") == 2  # smaller
    assert "already trains to ppo.total_timesteps=1024" in capsys.readouterr().err
    assert _train("--resume", str(short), "--extend", "1536") == 0
    assert load_config(short) == load_config(full)
    assert (short / CHECKPOINT).read_bytes() == (full / CHECKPOINT).read_bytes()
    assert (short / "eval.json").read_bytes() == (full / "eval.json").read_bytes()

    # A config.yaml whose budget was edited by hand is refused (the checkpoint records its budget),
    # and so is a checkpoint copied in from a run of another budget; rerunning --extend 1536 is a plain resume.
    edited = tmp_path / "edited"
    shutil.copytree(full, edited)
    text = (edited / "config.yaml").read_text()
    (edited / "config.yaml").write_text(text.replace("total_timesteps: 1536", "total_timesteps: 1024"))
    capsys.readouterr()
    assert _train("--resume", str(edited)) == 2
    assert "trained toward ppo.total_timesteps=1536, but config.yaml says 1024" in capsys.readouterr().err
    assert _train("--resume", str(short), "--extend", "1536") == 0

    def learning(run: Path) -> list:  # perf/ records each launch's compile
        return sorted((tag, step, value) for tag, step, value in read_scalars(run) if not tag.startswith("perf/"))

    assert learning(short) == learning(full)
    trainer = Trainer(load_config(short))
    _, meta = checkpoint.restore(short / CHECKPOINT, trainer.state_shape)
    assert meta["update"] == 6
