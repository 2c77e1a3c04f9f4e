"""Atomic checkpoints of training state with flax serialisation (msgpack, no pickle).

A checkpoint is one file holding the state pytree and a small metadata
dict. It is written to a temporary file in the same folder, flushed to disk
and renamed over the old one, so a kill at any moment leaves either the old
checkpoint or the new one, never a torn file. PRNG key arrays are stored as
their raw key data and rebuilt on restore.

Only finite states are written (`save` refuses NaN or inf in any floating
array), and `restore` refuses a checkpoint that holds them, so a diverged
run can never leave a NaN "last good" checkpoint behind.

The file is an envelope `{"do1rl_checkpoint": VERSION, "sha256": ..., "body":
...}` whose body is the msgpack of `{"state", "meta"}`: `restore` checks the
body's SHA-256 before reading it, so a flipped byte is refused rather than
scored. Files written before the envelope (a bare `{"state", "meta"}`) still
load, unchecked. Temporary files left by a kill during a write are removed
by the next `save`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from do1rl.core import atomic, limits

VERSION = 2  # the envelope with a checksum; 1 (implicit) is the bare {"state", "meta"}


class CheckpointError(ValueError):
    """A missing, unreadable or mismatching checkpoint (message says which)."""


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_host(tree: Any) -> Any:
    return jax.tree.map(lambda x: np.asarray(jax.random.key_data(x) if _is_key(x) else x), tree)


def _host_shape(x: Any) -> tuple[int, ...]:
    """Shape of a leaf as stored: key arrays gain their key-data axis."""
    if _is_key(x):
        return tuple(x.shape) + jax.random.key_data(jax.random.key(0)).shape
    return tuple(x.shape)


def _host_dtype(x: Any) -> np.dtype:
    return np.dtype(np.uint32) if _is_key(x) else np.dtype(x.dtype)


def all_finite(tree: Any) -> bool:
    """True if no floating array of `tree` holds NaN or inf (one device reduction per leaf, on the leaf's devices).

    One small program per leaf shape, not one program over every leaf: its
    compile grew about 9-fold per doubling of network depth (docs/reliability.md).
    """
    for x in jax.tree.leaves(tree):
        if not (hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, np.inexact)):
            continue
        finite = _leaf_finite(x)
        if not finite.is_fully_addressable:  # a replicated scalar of a multi-process run
            finite = finite.addressable_data(0)
        if not bool(finite):
            return False
    return True


@jax.jit
def _leaf_finite(x):
    return jax.numpy.isfinite(x).all()


def save(path: str | Path, state: Any, meta: dict | None = None) -> None:
    """Writes `state` (any pytree of arrays) and `meta` to `path` atomically.

    Raises CheckpointError, writing nothing, if `state` holds NaN or inf.
    """
    host = _to_host(jax.device_get(state))
    if not all(np.isfinite(x).all() for x in jax.tree.leaves(host) if np.issubdtype(x.dtype, np.inexact)):
        raise CheckpointError(f"{path}: refusing to save a state that holds NaN or inf")
    payload = {
        "state": serialization.to_state_dict(host),
        "meta": dict(meta or {}),
    }
    body = serialization.msgpack_serialize(payload)
    envelope = {"do1rl_checkpoint": VERSION, "sha256": hashlib.sha256(body).hexdigest(), "body": body}
    path = Path(path)
    _remove_stale_temps(path)
    atomic.write_bytes(path, serialization.msgpack_serialize(envelope))


def _remove_stale_temps(path: Path) -> None:
    """Deletes the temporary files of earlier writes of `path` that a kill left behind (the run folder is locked)."""
    if path.parent.is_dir():
        for stale in path.parent.glob(f".{path.name}.tmp-*"):
            stale.unlink(missing_ok=True)


def _open_envelope(path: Path, data: bytes) -> Any:
    """The `{"state", "meta"}` payload of a checkpoint file's bytes, its checksum verified."""
    try:
        payload = serialization.msgpack_restore(data)
    except Exception as err:
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(err).__name__})") from None
    if not isinstance(payload, dict) or "do1rl_checkpoint" not in payload:
        return payload  # written before the envelope: no checksum to check
    body, digest = payload.get("body"), payload.get("sha256")
    if payload["do1rl_checkpoint"] != VERSION or not isinstance(body, bytes) or not isinstance(digest, str):
        raise CheckpointError(f"{path}: not a do1rl checkpoint of version {VERSION}")
    if hashlib.sha256(body).hexdigest() != digest:
        raise CheckpointError(f"{path}: checksum mismatch (changed or damaged after it was written); refusing to use it")
    try:
        return serialization.msgpack_restore(body)
    except Exception as err:
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(err).__name__})") from None


def _read_payload(path: Path) -> dict:
    """The verified `{"state", "meta"}` payload of a checkpoint file (CheckpointError if there is none)."""
    if not path.exists() and not path.is_symlink():
        raise CheckpointError(f"{path}: no checkpoint")
    try:
        data = limits.read_regular(path, None, "checkpoint")
    except limits.InputError as err:
        raise CheckpointError(f"{path}: {err}") from None
    payload = _open_envelope(path, data)
    if not isinstance(payload, dict) or "state" not in payload:
        raise CheckpointError(f"{path}: not a do1rl checkpoint")
    meta = payload.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise CheckpointError(f"{path}: not a do1rl checkpoint (meta is {type(meta).__name__}, not a mapping)")
    return payload


def read_meta(path: str | Path) -> dict:
    """The metadata of a checkpoint written by `save`, its checksum verified; CheckpointError as `restore`."""
    return dict(_read_payload(Path(path)).get("meta") or {})


def restore(path: str | Path, target: Any) -> tuple[Any, dict]:
    """(state shaped like `target`, meta) from a checkpoint written by `save`.

    `target` may be a pytree of arrays or of `jax.ShapeDtypeStruct`s (e.g.
    from `jax.eval_shape`). Raises `CheckpointError` if the file is missing,
    unreadable, fails its checksum, or does not match `target`'s structure
    and shapes.
    """
    path = Path(path)
    payload = _read_payload(path)
    meta = payload.get("meta")
    leaves, treedef = jax.tree.flatten(target)
    host_target = jax.tree.unflatten(treedef, [np.zeros(_host_shape(x), _host_dtype(x)) for x in leaves])
    try:
        restored = serialization.from_state_dict(host_target, payload["state"])
    except Exception as err:  # any structure mismatch: wrong keys, a number where a mapping belongs, ...
        reason = limits.show(str(err), 100)
        raise CheckpointError(f"{path}: does not match this run's state ({type(err).__name__}: {reason})") from None
    restored_leaves = jax.tree.leaves(restored)
    if len(restored_leaves) != len(leaves):
        raise CheckpointError(f"{path}: does not match this run's state ({len(restored_leaves)} arrays, want {len(leaves)})")
    out = []
    for want, got in zip(leaves, restored_leaves):
        if not isinstance(got, (np.ndarray, np.generic)):
            raise CheckpointError(f"{path}: does not match this run's state (a {type(got).__name__} where an array belongs)")
        got = np.asarray(got)
        if got.shape != _host_shape(want) or got.dtype != _host_dtype(want):
            raise CheckpointError(
                f"{path}: array of shape {got.shape} {got.dtype} where this run has {_host_shape(want)} {_host_dtype(want)}"
            )
        if np.issubdtype(got.dtype, np.inexact) and not np.isfinite(got).all():
            raise CheckpointError(f"{path}: holds NaN or inf values (a diverged run); refusing to use it")
        out.append(jax.random.wrap_key_data(got) if _is_key(want) else got)  # type: ignore[arg-type]  # takes numpy
    return jax.tree.unflatten(treedef, out), dict(meta or {})
