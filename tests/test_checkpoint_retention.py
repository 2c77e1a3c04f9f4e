"""Verified checkpoints, one path (issue 25 item 1): a run keeps its newest `log.keep_checkpoints`
checkpoints, and a newest one that fails to verify gives way to the next, with one warning line.
"""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import jax
import numpy as np
import pytest
import yaml
from flax import serialization
from tiny_runs import TINY_RUN

from do1rl import cli
from do1rl.experiments import checkpoint, global_checkpoint, training
from do1rl.experiments import config as config_lib
from do1rl.experiments.checkpoint import CheckpointError
from do1rl.experiments.global_checkpoint import (
    CHECKPOINT,
    FORMAT_FILE,
    MSGPACK,
    ORBAX,
    ORBAX_DIR,
    ORBAX_SHA256,
    RunCheckpoints,
    has_checkpoint,
    restore_latest,
)
from do1rl.experiments.train_config import LogConfig, TrainConfig
from do1rl.experiments.trainer import Trainer

TINY = TINY_RUN  # 3 iterations, a checkpoint after each: latest.msgpack (3) and update_2.msgpack are kept


def _config(keep: int = 2, seed: int = 0) -> TrainConfig:
    return TrainConfig(seed=seed, log=LogConfig(keep_checkpoints=keep))


def _state(update: int) -> dict:
    return {"w": np.full(256, float(update), np.float32), "n": np.int32(update)}  # mostly array bytes


SHAPE = jax.eval_shape(lambda: _state(0))


def _saver(run, keep: int = 2, fmt: str = MSGPACK, seed: int = 0, resume: bool = False) -> RunCheckpoints:
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    trainer = SimpleNamespace(
        config=_config(keep, seed),
        state_shape=SHAPE,
        shardings=jax.tree.map(lambda _: device, SHAPE),
        place=lambda s: s,
    )
    if resume:
        return RunCheckpoints(run, trainer, fmt)
    if fmt == ORBAX:  # as a multi-process run records it
        (run / FORMAT_FILE).parent.mkdir(parents=True, exist_ok=True)
        (run / FORMAT_FILE).write_text(json.dumps({"format": ORBAX, "num_processes": 1}))
        return RunCheckpoints(run, trainer, fmt)
    return RunCheckpoints.start(run, trainer)


def _files(run) -> list[str]:
    return sorted(p.name for p in (run / "checkpoints").glob("*.msgpack"))


def _flip(path, where: float = 0.75) -> None:
    data = bytearray(path.read_bytes())
    for i in range(8):
        data[int(len(data) * where) + i] ^= 0xFF
    path.write_bytes(bytes(data))


def _warning(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("warning: ") and "Traceback" not in err[0]
    return err[0]


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_msgpack_keeps_the_newest_n(tmp_path, keep):
    saver = _saver(tmp_path, keep)
    for update in range(6):
        saver.save(_state(update), {"update": update})
    kept = [f"update_{u}.msgpack" for u in range(5 - keep + 1, 5)]
    assert _files(tmp_path) == sorted(["latest.msgpack", *kept])
    assert checkpoint.read_meta(tmp_path / CHECKPOINT)["update"] == 5
    for update in range(5 - keep + 1, 5):
        state, meta = checkpoint.restore(tmp_path / "checkpoints" / f"update_{update}.msgpack", SHAPE)
        assert meta["update"] == update and state["w"][0] == update
    assert not list((tmp_path / "checkpoints").glob(".*"))  # no temporary file left


def test_a_damaged_latest_falls_back_to_the_previous_with_one_line(tmp_path, capsys):
    saver = _saver(tmp_path)
    for update in range(3):
        saver.save(_state(update), {"update": update})
    _flip(tmp_path / CHECKPOINT)
    capsys.readouterr()
    state, meta = restore_latest(tmp_path, SHAPE, _config())
    assert meta["update"] == 1 and state["w"][0] == 1
    line = _warning(capsys)
    assert f"{tmp_path / CHECKPOINT}: checksum mismatch" in line
    assert line.endswith(f"using {tmp_path / 'checkpoints' / 'update_1.msgpack'} (iteration 1) instead"), line

    resumed = _saver(tmp_path, resume=True)
    state, meta = resumed.restore()
    assert meta["update"] == 1 and "update_1.msgpack" in _warning(capsys)
    resumed.save(_state(2), {"update": 2})  # the damaged latest is replaced, not kept
    assert _files(tmp_path) == ["latest.msgpack", "update_1.msgpack"]
    assert resumed.restore()[1]["update"] == 2 and capsys.readouterr().err == ""


def test_every_kept_checkpoint_damaged_is_the_newest_ones_error(tmp_path, capsys):
    saver = _saver(tmp_path, keep=3)
    for update in range(3):
        saver.save(_state(update), {"update": update})
    _flip(tmp_path / CHECKPOINT)
    _flip(tmp_path / "checkpoints" / "update_1.msgpack")
    capsys.readouterr()
    assert restore_latest(tmp_path, SHAPE)[1]["update"] == 0
    line = _warning(capsys)
    assert "latest.msgpack: checksum mismatch" in line and "(1 newer kept checkpoint(s) failed too)" in line, line
    assert line.endswith("update_0.msgpack (iteration 0) instead"), line
    _flip(tmp_path / "checkpoints" / "update_0.msgpack")
    for restore in (lambda: restore_latest(tmp_path, SHAPE), _saver(tmp_path, keep=3, resume=True).restore):
        with pytest.raises(CheckpointError) as info:
            restore()
        assert str(info.value).startswith(f"{tmp_path / CHECKPOINT}: checksum mismatch")
        assert "\n" not in str(info.value)
    assert capsys.readouterr().err == ""


def test_nan_shape_and_fingerprint_also_fall_back(tmp_path, capsys):
    # A checkpoint written for another config (seed 1) on top of one of this config's (seed 0).
    _saver(tmp_path, seed=0).save(_state(1), {"update": 1})
    _saver(tmp_path, seed=1, resume=True).save(_state(2), {"update": 2})
    assert _files(tmp_path) == ["latest.msgpack", "update_1.msgpack"]
    capsys.readouterr()
    assert restore_latest(tmp_path, SHAPE, _config(seed=0))[1]["update"] == 1
    assert "written for another config" in _warning(capsys)
    # The wrong shape.
    wide = jax.eval_shape(lambda: {"w": np.zeros(5, np.float32), "n": np.int32(0)})
    with pytest.raises(CheckpointError, match=r"latest\.msgpack: array of shape"):
        restore_latest(tmp_path, wide)
    # NaN, written before checkpoints were checked (a bare payload, no envelope).
    nan = {"state": {"w": np.full(256, np.nan, np.float32), "n": np.int32(3)}, "meta": {"update": 3}}
    (tmp_path / CHECKPOINT).write_bytes(serialization.msgpack_serialize(nan))
    assert restore_latest(tmp_path, SHAPE)[1]["update"] == 1
    assert "holds NaN or inf" in _warning(capsys)


def test_a_kill_during_a_save_leaves_latest_intact(tmp_path, monkeypatch):
    saver = _saver(tmp_path, keep=2)
    for update in range(2):
        saver.save(_state(update), {"update": update})

    def killed(*_args):
        raise KeyboardInterrupt  # after the old latest was kept, before the new one was renamed into place

    monkeypatch.setattr(checkpoint.atomic, "write_bytes", killed)
    with pytest.raises(KeyboardInterrupt):
        saver.save(_state(2), {"update": 2})
    monkeypatch.undo()
    assert restore_latest(tmp_path, SHAPE)[1]["update"] == 1
    assert (tmp_path / "checkpoints" / "update_1.msgpack").read_bytes() == (tmp_path / CHECKPOINT).read_bytes()
    resumed = _saver(tmp_path, keep=2, resume=True)
    resumed.restore()
    resumed.save(_state(2), {"update": 2})
    assert _files(tmp_path) == ["latest.msgpack", "update_1.msgpack"]


def test_without_hard_links_the_previous_is_copied(tmp_path, monkeypatch):
    def no_links(*_args, **_kwargs):
        raise OSError("hard links not supported")

    monkeypatch.setattr(global_checkpoint.os, "link", no_links)
    saver = _saver(tmp_path, keep=2)
    for update in range(3):
        saver.save(_state(update), {"update": update})
    assert _files(tmp_path) == ["latest.msgpack", "update_1.msgpack"]
    assert checkpoint.read_meta(tmp_path / "checkpoints" / "update_1.msgpack")["update"] == 1


def test_kept_checkpoints_alone_are_resumable(tmp_path, capsys):
    saver = _saver(tmp_path)
    for update in range(2):
        saver.save(_state(update), {"update": update})
    (tmp_path / CHECKPOINT).unlink()
    assert has_checkpoint(tmp_path)
    capsys.readouterr()
    assert _saver(tmp_path, resume=True).restore()[1]["update"] == 0
    assert "latest.msgpack: no checkpoint; using" in _warning(capsys)


def test_keep_checkpoints_below_one_is_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(ValueError, match="keep_checkpoints"):
        LogConfig(keep_checkpoints=0)
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    run = tmp_path / "run"
    argv = ["train", "--config", str(config), "--out", str(run), "--no-progress", "log.keep_checkpoints=0"]
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "keep_checkpoints" in err[0] and ">= 1" in err[0], err
    assert not run.exists()
    assert TrainConfig().log.keep_checkpoints == 2
    # Not part of a run's fingerprint: a run may change it when resumed.
    assert config_lib.load(TrainConfig, None, ["log.keep_checkpoints=5"]).log.keep_checkpoints == 5


# ---------------------------------------------------------------------------
# Orbax (the format of multi-process runs), in this one process.


def _biggest_file(step_dir):
    return max((p for p in step_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def test_orbax_keeps_the_newest_n_and_falls_back(tmp_path, capsys):
    saver = _saver(tmp_path, keep=2, fmt=ORBAX)
    for update in range(1, 4):
        saver.save(_state(update), {"update": update})
    assert sorted(p.name for p in (tmp_path / ORBAX_DIR).iterdir()) == ["2", "3"]
    assert sorted(json.loads((tmp_path / ORBAX_SHA256).read_text())["steps"]) == ["2", "3"]

    _flip(_biggest_file(tmp_path / ORBAX_DIR / "3"), 0.5)
    capsys.readouterr()
    state, meta = restore_latest(tmp_path, SHAPE)
    assert meta["update"] == 2 and np.asarray(state["w"])[0] == 2
    line = _warning(capsys)
    assert "orbax/3/" in line and "checksum mismatch" in line and line.endswith("orbax/2 (iteration 2) instead"), line

    resumed = _saver(tmp_path, keep=2, fmt=ORBAX, resume=True)
    assert resumed.restore()[1]["update"] == 2
    _warning(capsys)
    resumed.save(_state(3), {"update": 3})  # replaces the damaged step 3
    assert sorted(p.name for p in (tmp_path / ORBAX_DIR).iterdir()) == ["2", "3"]
    state, meta = restore_latest(tmp_path, SHAPE)
    assert meta["update"] == 3 and np.asarray(state["w"])[0] == 3 and capsys.readouterr().err == ""

    for step in ("2", "3"):
        _flip(_biggest_file(tmp_path / ORBAX_DIR / step), 0.5)
    with pytest.raises(CheckpointError, match=r"orbax/3/.*: checksum mismatch") as info:
        restore_latest(tmp_path, SHAPE)
    assert "\n" not in str(info.value) and capsys.readouterr().err == ""


def test_orbax_reads_the_one_step_record_of_before(tmp_path, capsys):
    saver = _saver(tmp_path, keep=2, fmt=ORBAX)
    for update in (1, 2):
        saver.save(_state(update), {"update": update})
    steps = json.loads((tmp_path / ORBAX_SHA256).read_text())["steps"]
    (tmp_path / ORBAX_SHA256).write_text(json.dumps({"step": 2, "sha256": steps["2"]}))  # the old form
    _flip(_biggest_file(tmp_path / ORBAX_DIR / "2"), 0.5)
    capsys.readouterr()
    assert restore_latest(tmp_path, SHAPE)[1]["update"] == 1  # step 1 has no record: unchecked, and sound
    assert "orbax/2/" in _warning(capsys)


# ---------------------------------------------------------------------------
# Real runs: eval and resume fall back; a resumed run ends bitwise like an uninterrupted one.


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(config, one compiled Trainer, an uninterrupted run of it)."""
    root = tmp_path_factory.mktemp("retention")
    config = config_lib.from_dict(TrainConfig, yaml.safe_load(TINY))
    trainer = Trainer(config)
    run = root / "run"
    assert training.train_run(config, run, progress=False, log=lambda *_: None, trainer=trainer) == training.OK
    return config, trainer, run


@pytest.mark.slow
def test_resume_after_a_fall_back_ends_bitwise_like_an_uninterrupted_run(tiny, tmp_path, capsys):
    config, trainer, run = tiny
    assert _files(run) == ["latest.msgpack", "update_2.msgpack"]
    copy = shutil.copytree(run, tmp_path / "run")
    _flip(copy / CHECKPOINT)
    (copy / "eval.json").unlink()
    capsys.readouterr()
    lines = []
    code = training.train_run(config, copy, resume=True, progress=False, log=lines.append, trainer=trainer)
    assert code == training.OK
    assert "checkpoint" in _warning(capsys) and lines[0].startswith(f"resumed {copy} at iteration 2 of 3")
    for name in ("latest.msgpack", "update_2.msgpack"):
        assert (copy / "checkpoints" / name).read_bytes() == (run / "checkpoints" / name).read_bytes()
    assert json.loads((copy / "eval.json").read_text()) == json.loads((run / "eval.json").read_text())


@pytest.mark.slow
def test_eval_falls_back_with_one_warning_line(tiny, tmp_path, capsys):
    _, _, run = tiny
    copy = shutil.copytree(run, tmp_path / "run")
    _flip(copy / CHECKPOINT)
    capsys.readouterr()
    assert cli.main(["eval", "--agent", f"ppo:{copy}", "--episodes", "2", "--no-progress"]) == 0
    line = _warning(capsys)
    assert f"{copy / CHECKPOINT}: checksum mismatch" in line and "update_2.msgpack (iteration 2) instead" in line
    _flip(copy / "checkpoints" / "update_2.msgpack")
    assert cli.main(["eval", "--agent", f"ppo:{copy}", "--episodes", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "latest.msgpack: checksum mismatch" in err[0], err


def test_swapped_or_renamed_files_are_not_scored_silently(tmp_path, capsys):
    """Attack battery #1: latest.msgpack swapped with update_<N>.msgpack scored the older network with no word."""
    saver = _saver(tmp_path, keep=3)
    for update in range(3):
        saver.save(_state(update), {"update": update})
    folder = tmp_path / "checkpoints"
    latest, kept = folder / "latest.msgpack", folder / "update_1.msgpack"
    swap = folder / "swap"
    latest.rename(swap)
    kept.rename(latest)
    swap.rename(kept)
    capsys.readouterr()
    state, meta = restore_latest(tmp_path, SHAPE, _config())
    assert meta["update"] == 0 and state["w"][0] == 0  # neither swapped file is trusted: the newest sound one
    line = _warning(capsys)
    assert "latest.msgpack: holds iteration 1, not newer than the kept update_1.msgpack" in line
    assert "1 newer kept checkpoint(s) failed too" in line
