"""Atomic checkpoints of training state with flax serialisation (msgpack, no pickle).

A checkpoint is one file holding the state pytree and a small metadata
dict. It is written to a temporary file in the same folder, flushed to disk
and renamed over the old one, so a kill at any moment leaves either the old
checkpoint or the new one, never a torn file. PRNG key arrays are stored as
their raw key data and rebuilt on restore.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from do1rl.core import atomic


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


def save(path: str | Path, state: Any, meta: dict | None = None) -> None:
    """Writes `state` (any pytree of arrays) and `meta` to `path` atomically."""
    payload = {
        "state": serialization.to_state_dict(_to_host(jax.device_get(state))),
        "meta": dict(meta or {}),
    }
    atomic.write_bytes(path, serialization.msgpack_serialize(payload))


def restore(path: str | Path, target: Any) -> tuple[Any, dict]:
    """(state shaped like `target`, meta) from a checkpoint written by `save`.

    `target` may be a pytree of arrays or of `jax.ShapeDtypeStruct`s (e.g.
    from `jax.eval_shape`). Raises `CheckpointError` if the file is missing,
    unreadable, or does not match `target`'s structure and shapes.
    """
    path = Path(path)
    try:
        payload = serialization.msgpack_restore(path.read_bytes())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint") from None
    except Exception as err:
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(err).__name__})") from None
    if not isinstance(payload, dict) or "state" not in payload:
        raise CheckpointError(f"{path}: not a do1rl checkpoint")
    leaves, treedef = jax.tree.flatten(target)
    host_target = treedef.unflatten([np.zeros(_host_shape(x), _host_dtype(x)) for x in leaves])
    try:
        restored = serialization.from_state_dict(host_target, payload["state"])
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{path}: does not match this run's state ({err})") from None
    out = []
    for want, got in zip(leaves, jax.tree.leaves(restored)):
        got = np.asarray(got)
        if got.shape != _host_shape(want) or got.dtype != _host_dtype(want):
            raise CheckpointError(
                f"{path}: array of shape {got.shape} {got.dtype} where this run has "
                f"{_host_shape(want)} {_host_dtype(want)}"
            )
        out.append(jax.random.wrap_key_data(got) if _is_key(want) else got)
    return treedef.unflatten(out), dict(payload.get("meta") or {})
