"""A run's checkpoints in the run's one format: msgpack (one process) or orbax (several processes).

`checkpoints/format.json` records the format and the number of processes
when the run starts; resuming reads it and refuses another process count.
A run folder without it predates the record and is a one-process msgpack
run. Orbax checkpoints hold global arrays: every process writes and reads
only its own shards, and a step becomes visible only once every shard is
written (orbax writes to a temporary folder and renames it). See
docs/distributed.md.

A run keeps its newest `log.keep_checkpoints` checkpoints: msgpack keeps the
newest as `checkpoints/latest.msgpack` and the older ones as
`checkpoints/update_<N>.msgpack` (N: its PPO iteration), orbax keeps that
many steps. Restoring tries the newest first and, if it fails to verify
(checksum, NaN, shape or config fingerprint), the older ones newest first,
with one warning line naming the one used.

(One module on purpose, past 450 lines: both formats' save, verification,
retention and fall back are one path; docs/reliability.md says why there
are two formats.)
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from do1rl.core import atomic, limits
from do1rl.experiments import checkpoint
from do1rl.experiments.checkpoint import CheckpointError
from do1rl.experiments.train_config import TrainConfig, fingerprint, legacy_fingerprint

FINGERPRINT_KEY = "training_fingerprint"  # in every checkpoint's metadata: `fingerprint`, the budget left out
LEGACY_FINGERPRINT_KEY = "config_fingerprint"  # checkpoints written before: `legacy_fingerprint`

__all__ = [
    "CHECKPOINT",
    "FORMAT_FILE",
    "MSGPACK",
    "ORBAX",
    "ORBAX_DIR",
    "RunCheckpoints",
    "has_checkpoint",
    "read_format",
    "restore_latest",
]

CHECKPOINT = Path("checkpoints") / "latest.msgpack"  # a one-process run's newest checkpoint, in its run folder
KEPT_PREFIX, KEPT_SUFFIX = "update_", ".msgpack"  # checkpoints/update_<N>.msgpack: the older ones kept
FORMAT_FILE = Path("checkpoints") / "format.json"
ORBAX_SHA256 = Path("checkpoints") / "orbax_sha256.json"  # {"steps": {"N": {file in step N: digest}}}
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


def _orbax_steps(run_dir: Path) -> list[int]:
    """The complete orbax steps in a run folder, newest first (temporary, unfinished folders are not steps)."""
    folder = run_dir / ORBAX_DIR
    names = [p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    return sorted((int(name) for name in names if name.isdigit() and name.isascii()), reverse=True)


def _kept_msgpack(run_dir: Path) -> list[tuple[int, Path]]:
    """(iteration, path) of the older msgpack checkpoints kept beside `latest.msgpack`, newest first."""
    folder = run_dir / CHECKPOINT.parent
    kept = []
    for path in folder.glob(f"{KEPT_PREFIX}*{KEPT_SUFFIX}") if folder.is_dir() else []:
        number = path.name[len(KEPT_PREFIX) : -len(KEPT_SUFFIX)]
        if number.isdigit() and number.isascii():
            kept.append((int(number), path))
    return sorted(kept, reverse=True)


def has_checkpoint(run_dir: str | Path) -> bool:
    """Whether `run_dir` holds a checkpoint to resume from, in whichever format it records.

    CheckpointError (one line) if the folder cannot be read (e.g. a name too long for the OS).
    """
    run_dir = Path(run_dir)
    try:
        if read_format(run_dir)["format"] == ORBAX:
            return bool(_orbax_steps(run_dir))
        return (run_dir / CHECKPOINT).exists() or bool(_kept_msgpack(run_dir))
    except OSError as err:
        raise CheckpointError(f"{limits.cut(str(run_dir), 80)}: cannot read the run folder ({err.strerror or err})") from None


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


def _read_digests(run_dir: Path) -> dict[int, dict]:
    """{step: {file: digest}} of the recorded orbax steps (also the one-step record of before)."""
    try:
        record = json.loads((run_dir / ORBAX_SHA256).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict):
        return {}
    if isinstance(record.get("steps"), dict):
        return {int(k): v for k, v in record["steps"].items() if k.isdigit() and k.isascii() and isinstance(v, dict)}
    step = record.get("step")
    if isinstance(step, int) and not isinstance(step, bool) and isinstance(record.get("sha256"), dict):
        return {step: record["sha256"]}
    return {}


def _write_digests(run_dir: Path, step: int | None = None, drop_from: int | None = None) -> None:
    """Records the checksums of orbax step `step`, keeping those of the other steps on disk (process 0).

    `drop_from`: forget the records of steps >= it (about to be replaced).
    """
    on_disk = set(_orbax_steps(run_dir))
    records = {s: d for s, d in _read_digests(run_dir).items() if s in on_disk and (drop_from is None or s < drop_from)}
    if step is not None:
        records[step] = _step_digests(run_dir / ORBAX_DIR / str(step))
    atomic.write_json(run_dir / ORBAX_SHA256, {"steps": {str(s): records[s] for s in sorted(records)}})


def _verify_digests(run_dir: Path, step: int) -> None:
    """CheckpointError naming the first file of orbax step `step` whose bytes changed since it was saved.

    A step without a record (written before checksums, or a kill between the
    save and its record) is not checked.
    """
    want = _read_digests(run_dir).get(step)
    if want is None:
        return
    step_dir = run_dir / ORBAX_DIR / str(step)
    got = _step_digests(step_dir)
    for name in sorted(set(got) | set(want)):
        if got.get(name) != want.get(name):
            what = "missing" if name not in got else "not in the saved checkpoint" if name not in want else "checksum mismatch"
            raise CheckpointError(f"{step_dir / name}: {what} (changed after it was saved); refusing to use it")


def _restore_orbax(run_dir: Path, step: int, shape: Any, shardings: Any) -> tuple[Any, dict]:
    """(state, meta) of orbax step `step`, verified, each leaf placed with its sharding in `shardings`."""
    import orbax.checkpoint as ocp

    _verify_digests(run_dir, step)
    target = jax.tree.map(
        lambda x, s: (
            jax.ShapeDtypeStruct(_key_data_shape(x), jax.numpy.uint32, sharding=s)
            if _is_key(x)
            else jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s)
        ),
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
    if FINGERPRINT_KEY in meta:
        written, want = meta[FINGERPRINT_KEY], fingerprint(config)
    else:
        written, want = meta.get(LEGACY_FINGERPRINT_KEY), legacy_fingerprint(config)
    if written is not None and written != want:
        raise CheckpointError(
            f"{where}: written for another config (seed, env, network or ppo differ from the run's config.yaml); refusing to use it"
        )


Candidate = tuple[Path, Callable[[], tuple[Any, dict]]]  # where, and how to load it (raising CheckpointError)


def _candidates(run_dir: Path, fmt: str, shape: Any, shardings: Any, config: TrainConfig | None) -> list[Candidate]:
    """A run's kept checkpoints, newest first, each with its loader (verified, and fingerprinted with `config`)."""

    def checked(where: Path, load: Callable[[], tuple[Any, dict]]) -> Candidate:
        def run() -> tuple[Any, dict]:
            state, meta = load()
            if config is not None:
                check_fingerprint(where, meta, config)
            return state, meta

        return where, run

    if fmt == MSGPACK:
        kept = _kept_msgpack(run_dir)
        newest_kept = kept[0][0] if kept else -1
        latest = checked(run_dir / CHECKPOINT, functools.partial(_newer_than, run_dir / CHECKPOINT, shape, newest_kept))
        return [latest] + [checked(path, functools.partial(_named, path, n, shape)) for n, path in kept]
    steps = _orbax_steps(run_dir)
    if not steps:
        return [(run_dir / ORBAX_DIR, _no_checkpoint(run_dir / ORBAX_DIR))]
    return [checked(run_dir / ORBAX_DIR / str(step), functools.partial(_restore_orbax, run_dir, step, shape, shardings)) for step in steps]


def _named(path: Path, update: int, shape: Any) -> tuple[Any, dict]:
    """A kept `update_<N>.msgpack`, refused unless it holds iteration N (files swapped or renamed by hand)."""
    state, meta = checkpoint.restore(path, shape)
    if meta.get("update", update) != update:
        raise CheckpointError(f"{path}: holds iteration {meta.get('update')}, not the {update} its name says")
    return state, meta


def _newer_than(path: Path, shape: Any, kept: int) -> tuple[Any, dict]:
    """`latest.msgpack`, refused if it is not newer than a kept checkpoint (files swapped or copied in by hand)."""
    state, meta = checkpoint.restore(path, shape)
    update = meta.get("update")
    if isinstance(update, int) and update <= kept:
        raise CheckpointError(f"{path}: holds iteration {update}, not newer than the kept update_{kept}.msgpack")
    return state, meta


def _no_checkpoint(where: Path) -> Callable[[], tuple[Any, dict]]:
    def fail() -> tuple[Any, dict]:
        raise CheckpointError(f"{where}: no checkpoint")

    return fail


def _first_that_verifies(candidates: list[Candidate], agree: bool = False) -> tuple[Path, Any, dict]:
    """(where, state, meta) of the newest candidate that loads; one warning line on stderr if it is not the first.

    Raises the first (newest) candidate's CheckpointError if none loads.
    `agree`: every process must accept a candidate (each process must call this).
    """
    errors: list[CheckpointError] = []
    for where, load in candidates:
        try:
            state, meta = load()
            failed = None
        except CheckpointError as err:
            failed = err
        if agree:
            from do1rl.experiments.distributed import any_process

            if any_process(failed is not None) and failed is None:
                failed = CheckpointError(f"{where}: refused by another process")
        if failed is not None:
            errors.append(failed)
            continue
        if errors and jax.process_index() == 0:
            newest = str(errors[0]).removesuffix("; refusing to use it")
            also = f" ({len(errors) - 1} newer kept checkpoint(s) failed too)" if len(errors) > 1 else ""
            print(
                f"warning: {newest}{also}; using {where} (iteration {meta.get('update', '?')}) instead",
                file=sys.stderr,
                flush=True,
            )
        return where, state, meta
    raise errors[0]


def restore_latest(run_dir: str | Path, shape: Any, config: TrainConfig | None = None) -> tuple[Any, dict]:
    """(state, meta) of a run's newest checkpoint that verifies, in this one process, whatever format wrote it.

    `shape`: the run's state as `jax.ShapeDtypeStruct`s (e.g. `Trainer.state_shape`).
    Orbax arrays land on the first local device. With `config`, a checkpoint
    written for another config is refused (`check_fingerprint`). A newest
    checkpoint that fails gives way to the older kept ones (one warning line);
    CheckpointError (the newest one's) if none verifies.
    """
    run_dir = Path(run_dir)
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    fmt = read_format(run_dir)["format"]
    _, state, meta = _first_that_verifies(_candidates(run_dir, fmt, shape, jax.tree.map(lambda _: device, shape), config))
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
        self._latest_update: int | None = None  # the iteration of a usable latest.msgpack (None: none)
        self._latest_known = False  # whether `_latest_update` was read or written by this object

    @classmethod
    def start(cls, run_dir: str | Path, trainer: Any) -> RunCheckpoints:
        """A new run: orbax when several processes train it, msgpack otherwise; records the choice."""
        processes = jax.process_count()
        fmt = ORBAX if processes > 1 else MSGPACK
        if jax.process_index() == 0:
            atomic.write_json(Path(run_dir) / FORMAT_FILE, {"format": fmt, "num_processes": processes})
        checkpoints = cls(run_dir, trainer, fmt)
        checkpoints._latest_known = True  # a new run has none
        return checkpoints

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
                max_to_keep=self._keep, create=True, enable_async_checkpointing=False, cleanup_tmp_directories=True
            )
            self._manager = ocp.CheckpointManager((self.run_dir / ORBAX_DIR).absolute(), options=options)
        return self._manager

    @property
    def _keep(self) -> int:
        return self.trainer.config.log.keep_checkpoints

    def save(self, state: Any, meta: dict) -> None:
        """Writes `state` and `meta` (plus the config's fingerprint) as the run's newest checkpoint, atomically.

        Keeps the newest `log.keep_checkpoints` checkpoints and deletes older
        ones. CheckpointError, writing nothing, if `state` holds NaN or inf
        (both formats).
        """
        meta = dict(meta) | {FINGERPRINT_KEY: fingerprint(self.trainer.config)}
        if self.format == MSGPACK:
            self._save_msgpack(state, meta)
            return
        import orbax.checkpoint as ocp

        if not checkpoint.all_finite(state):
            raise CheckpointError(f"{self.run_dir / ORBAX_DIR}: refusing to save a state that holds NaN or inf")
        tree = jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, state)
        step = int(meta["update"])
        manager = self._orbax()
        stale = [s for s in manager.all_steps() if s >= step]  # newer steps left by a fall back to an older one
        if stale:
            if jax.process_index() == 0:
                _write_digests(self.run_dir, drop_from=step)
            for s in stale:
                manager.delete(s)
        manager.save(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardSave(tree), meta=ocp.args.JsonSave(dict(meta))),
            force=True,
        )
        manager.wait_until_finished()
        if jax.process_index() == 0:
            _write_digests(self.run_dir, step)

    def _save_msgpack(self, state: Any, meta: dict) -> None:
        """latest.msgpack replaced atomically; the one it replaces kept (hard-linked first) as update_<N>.msgpack."""
        latest = self.run_dir / CHECKPOINT
        update = meta.get("update")
        previous = self._previous_update()
        if self._keep > 1 and isinstance(update, int) and previous is not None and previous < update:
            _keep_copy(latest, latest.with_name(f"{KEPT_PREFIX}{previous}{KEPT_SUFFIX}"))
        checkpoint.save(latest, state, meta)
        self._latest_update, self._latest_known = (update if isinstance(update, int) else None), True
        if not isinstance(update, int):
            return
        older = []
        for number, path in _kept_msgpack(self.run_dir):
            if number >= update:  # left by a fall back to an older checkpoint
                _remove(path)
            else:
                older.append(path)
        for path in older[self._keep - 1 :]:
            _remove(path)

    def _previous_update(self) -> int | None:
        """The iteration of the usable latest.msgpack that the next save replaces (None: none to keep)."""
        if not self._latest_known:
            try:
                update = checkpoint.read_meta(self.run_dir / CHECKPOINT).get("update")
            except CheckpointError:
                update = None
            self._latest_update, self._latest_known = (update if isinstance(update, int) else None), True
        return self._latest_update if (self.run_dir / CHECKPOINT).exists() else None

    def restore(self, written_for: TrainConfig | None = None) -> tuple[Any, dict]:
        """(state on the trainer's devices, meta) of the newest checkpoint that verifies.

        An older kept checkpoint stands in (one warning line) for a newest one
        that fails; CheckpointError (the newest one's) if none fits.
        `written_for`: the config the checkpoints must have been written for
        (default: the trainer's; an extended run's is its config before).
        """
        shardings = self.trainer.shardings if self.format == ORBAX else None
        config = self.trainer.config if written_for is None else written_for
        candidates = _candidates(self.run_dir, self.format, self.trainer.state_shape, shardings, config)
        where, state, meta = _first_that_verifies(candidates, agree=self.format == ORBAX)
        if self.format == MSGPACK:
            state = self.trainer.place(state)
            update = meta.get("update")
            usable = where == self.run_dir / CHECKPOINT and isinstance(update, int)
            self._latest_update, self._latest_known = (update if usable else None), True
        return state, meta


def _keep_copy(source: Path, kept: Path) -> None:
    """`kept` made the same file as `source` (a hard link, or a copy where links fail), atomically."""
    temp = kept.with_name(f".{kept.name}.tmp-link")
    for stale in kept.parent.glob(f".{KEPT_PREFIX}*{KEPT_SUFFIX}.tmp-*"):  # left by a kill
        stale.unlink(missing_ok=True)
    try:
        os.link(source, temp)
    except OSError:  # a filesystem without hard links
        atomic.write_bytes(kept, source.read_bytes())
        return
    try:
        os.replace(temp, kept)
    except OSError as err:
        temp.unlink(missing_ok=True)
        raise atomic.WriteError(f"{kept}: cannot write: {err.strerror or err}") from None


def _remove(path: Path) -> None:
    """Deletes an old checkpoint; one that cannot be deleted is left (the next save tries again)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
