"""A run's checkpoints in the run's one format: msgpack (one process) or orbax (several processes).

`checkpoints/format.json` records the format and the number of processes
when the run starts; resuming reads it and refuses another process count.
A run folder without it predates the record and is a one-process msgpack
run. Orbax checkpoints hold global arrays: every process writes and reads
only its own shards, and a step becomes visible only once every shard is
written (orbax writes to a temporary folder and renames it). See
docs/distributed.md.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jax

from do1rl.core import atomic
from do1rl.experiments import checkpoint
from do1rl.experiments.checkpoint import CheckpointError
from do1rl.experiments.train_config import TrainConfig, fingerprint

FINGERPRINT_KEY = "config_fingerprint"  # in every checkpoint's metadata

__all__ = [
    "CHECKPOINT", "FORMAT_FILE", "MSGPACK", "ORBAX", "ORBAX_DIR", "RunCheckpoints", "has_checkpoint", "read_format",
    "restore_latest",
]

CHECKPOINT = Path("checkpoints") / "latest.msgpack"  # a one-process run's checkpoint, in its run folder
FORMAT_FILE = Path("checkpoints") / "format.json"
ORBAX_SHA256 = Path("checkpoints") / "orbax_sha256.json"  # {"step": N, "sha256": {file in step N: digest}}
ORBAX_DIR = Path("checkpoints") / "orbax"
MSGPACK, ORBAX = "msgpack", "orbax"


def read_format(run_dir: str | Path) -> dict:
    """{"format": ..., "num_processes": ...} of a run (msgpack on 1 process if unrecorded)."""
    path = Path(run_dir) / FORMAT_FILE
    if not path.exists():
        return {"format": MSGPACK, "num_processes": 1}
    try:
        record = json.loads(path.read_text())
        if record["format"] not in (MSGPACK, ORBAX) or not isinstance(record["num_processes"], int):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path}: unreadable checkpoint format record") from None
    return record


def _latest_orbax_step(run_dir: Path) -> int | None:
    """The newest complete orbax step in a run folder (temporary, unfinished folders are not steps)."""
    folder = run_dir / ORBAX_DIR
    steps = [int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()] if folder.is_dir() else []
    return max(steps, default=None)


def has_checkpoint(run_dir: str | Path) -> bool:
    """Whether `run_dir` holds a checkpoint to resume from, in whichever format it records."""
    run_dir = Path(run_dir)
    if read_format(run_dir)["format"] == ORBAX:
        return _latest_orbax_step(run_dir) is not None
    return (run_dir / CHECKPOINT).exists()


def _is_key(x: Any) -> bool:
    return jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _key_data_shape(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) + jax.random.key_data(jax.random.key(0)).shape


def _step_digests(step_dir: Path) -> dict[str, str]:
    """SHA-256 of every file of one orbax step, by path relative to the step's folder."""
    out = {}
    for path in sorted(p for p in step_dir.rglob("*") if p.is_file()):
        with path.open("rb") as f:
            out[path.relative_to(step_dir).as_posix()] = hashlib.file_digest(f, "sha256").hexdigest()
    return out


def _write_digests(run_dir: Path, step: int) -> None:
    """Records the checksums of orbax step `step` (process 0, once every process's files are written)."""
    atomic.write_json(run_dir / ORBAX_SHA256, {"step": step, "sha256": _step_digests(run_dir / ORBAX_DIR / str(step))})


def _verify_digests(run_dir: Path, step: int) -> None:
    """CheckpointError naming the first file of orbax step `step` whose bytes changed since it was saved.

    A step without a record (written before checksums, or a kill between the
    save and its record) is not checked.
    """
    try:
        record = json.loads((run_dir / ORBAX_SHA256).read_text())
    except (OSError, ValueError):
        return
    if not isinstance(record, dict) or record.get("step") != step or not isinstance(record.get("sha256"), dict):
        return
    step_dir = run_dir / ORBAX_DIR / str(step)
    got, want = _step_digests(step_dir), record["sha256"]
    for name in sorted(set(got) | set(want)):
        if got.get(name) != want.get(name):
            what = "missing" if name not in got else "not in the saved checkpoint" if name not in want else "checksum mismatch"
            raise CheckpointError(f"{step_dir / name}: {what} (changed after it was saved); refusing to use it")


def _restore_orbax(run_dir: Path, shape: Any, shardings: Any) -> tuple[Any, dict]:
    """(state, meta) of the newest orbax step, verified, each leaf placed with its sharding in `shardings`."""
    import orbax.checkpoint as ocp

    step = _latest_orbax_step(run_dir)
    if step is None:
        raise CheckpointError(f"{run_dir / ORBAX_DIR}: no checkpoint")
    _verify_digests(run_dir, step)
    target = jax.tree.map(
        lambda x, s: jax.ShapeDtypeStruct(_key_data_shape(x), jax.numpy.uint32, sharding=s)
        if _is_key(x)
        else jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
        shape,
        shardings,
    )
    args = ocp.args.Composite(state=ocp.args.StandardRestore(target), meta=ocp.args.JsonRestore())
    try:
        with ocp.CheckpointManager((run_dir / ORBAX_DIR).absolute()) as manager:
            restored = manager.restore(step, args=args)
    except Exception as err:
        raise CheckpointError(f"{run_dir / ORBAX_DIR / str(step)}: unreadable checkpoint ({type(err).__name__})") from None
    state = jax.tree.map(lambda x, r: jax.random.wrap_key_data(r) if _is_key(x) else r, shape, restored["state"])
    if not checkpoint.all_finite(state):  # as msgpack restores refuse them: a diverged network is never used
        raise CheckpointError(f"{run_dir / ORBAX_DIR / str(step)}: holds NaN or inf values (a diverged run); refusing to use it")
    return state, dict(restored["meta"] or {})


def check_fingerprint(where: str | Path, meta: dict, config: TrainConfig) -> None:
    """CheckpointError unless `meta` was written for `config` (checkpoints from before fingerprints pass)."""
    written = meta.get(FINGERPRINT_KEY)
    if written is not None and written != fingerprint(config):
        raise CheckpointError(
            f"{where}: written for another config (seed, env, network or ppo differ from the run's config.yaml); "
            "refusing to use it"
        )


def restore_latest(run_dir: str | Path, shape: Any, config: TrainConfig | None = None) -> tuple[Any, dict]:
    """(state, meta) of a run's latest checkpoint in this one process, whichever format and process count wrote it.

    `shape`: the run's state as `jax.ShapeDtypeStruct`s (e.g. `Trainer.state_shape`).
    Orbax arrays land on the first local device. With `config`, a checkpoint
    written for another config is refused (`check_fingerprint`).
    """
    run_dir = Path(run_dir)
    if read_format(run_dir)["format"] == MSGPACK:
        state, meta = checkpoint.restore(run_dir / CHECKPOINT, shape)
    else:
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        state, meta = _restore_orbax(run_dir, shape, jax.tree.map(lambda _: device, shape))
    if config is not None:
        check_fingerprint(run_dir / "checkpoints", meta, config)
    return state, meta


class RunCheckpoints:
    """Saves and restores a run's full training state in the run's format, for a `Trainer`.

    Every process must call `save` and `restore` (orbax coordinates them).
    """

    def __init__(self, run_dir: str | Path, trainer: Any, fmt: str):
        self.run_dir = Path(run_dir)
        self.trainer = trainer
        self.format = fmt
        self._manager = None

    @classmethod
    def start(cls, run_dir: str | Path, trainer: Any) -> RunCheckpoints:
        """A new run: orbax when several processes train it, msgpack otherwise; records the choice."""
        processes = jax.process_count()
        fmt = ORBAX if processes > 1 else MSGPACK
        if jax.process_index() == 0:
            atomic.write_json(Path(run_dir) / FORMAT_FILE, {"format": fmt, "num_processes": processes})
        return cls(run_dir, trainer, fmt)

    @classmethod
    def resume(cls, run_dir: str | Path, trainer: Any) -> RunCheckpoints:
        """An existing run; CheckpointError if it was trained by another number of processes."""
        record = read_format(run_dir)
        if record["num_processes"] != jax.process_count():
            raise CheckpointError(
                f"{run_dir} was trained by {record['num_processes']} process(es); resume it with the same "
                f"number (this run has {jax.process_count()})"
            )
        return cls(run_dir, trainer, record["format"])

    def _orbax(self):
        if self._manager is None:
            import orbax.checkpoint as ocp

            options = ocp.CheckpointManagerOptions(
                max_to_keep=1, create=True, enable_async_checkpointing=False, cleanup_tmp_directories=True
            )
            self._manager = ocp.CheckpointManager((self.run_dir / ORBAX_DIR).absolute(), options=options)
        return self._manager

    def save(self, state: Any, meta: dict) -> None:
        """Writes `state` and `meta` (plus the config's fingerprint) as the run's latest checkpoint, atomically.

        CheckpointError, writing nothing, if `state` holds NaN or inf (both formats).
        """
        meta = dict(meta) | {FINGERPRINT_KEY: fingerprint(self.trainer.config)}
        if self.format == MSGPACK:
            checkpoint.save(self.run_dir / CHECKPOINT, state, meta)
            return
        import orbax.checkpoint as ocp

        if not checkpoint.all_finite(state):
            raise CheckpointError(f"{self.run_dir / ORBAX_DIR}: refusing to save a state that holds NaN or inf")
        tree = jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, state)
        manager = self._orbax()
        manager.save(
            int(meta["update"]),
            args=ocp.args.Composite(state=ocp.args.StandardSave(tree), meta=ocp.args.JsonSave(dict(meta))),
            force=True,
        )
        manager.wait_until_finished()
        if jax.process_index() == 0:
            _write_digests(self.run_dir, int(meta["update"]))

    def restore(self) -> tuple[Any, dict]:
        """(state on the trainer's devices, meta) of the latest checkpoint; CheckpointError if none fits."""
        if self.format == MSGPACK:
            state, meta = checkpoint.restore(self.run_dir / CHECKPOINT, self.trainer.state_shape)
            state = self.trainer.place(state)
        else:
            state, meta = _restore_orbax(self.run_dir, self.trainer.state_shape, self.trainer.shardings)
        check_fingerprint(self.run_dir / "checkpoints", meta, self.trainer.config)
        return state, meta
