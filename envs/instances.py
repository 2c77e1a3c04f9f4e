"""Instance sources built from explicit circuits, e.g. a user's circuit files."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

import jax
import jax.numpy as jnp
import numpy as np

from do1rl.core.circuit import Circuit, pad, stack
from do1rl.core.generators import CircuitPool
from do1rl.envs.types import EnvParams


def pool_from_circuits(circuits: Sequence[Circuit], *, num_nodes: int | None = None, max_fanin: int | None = None) -> CircuitPool:
    """A `CircuitPool` drawing uniformly from `circuits`, padded to a common shape."""
    if not circuits:
        raise ValueError("need at least one circuit")
    n = max(c.num_nodes for c in circuits) if num_nodes is None else num_nodes
    f = max(c.max_fanin for c in circuits) if max_fanin is None else max_fanin
    return CircuitPool(circuits=stack([pad(c, n, f) for c in circuits]))


def pool_from_files(paths: Sequence[str | PathLike], *, num_nodes: int | None = None, max_fanin: int | None = None) -> CircuitPool:
    """Loads `do1rl.circuit/v1` files into one `CircuitPool` (uniform over files).

    Raises `do1rl.core.circuit_file.CircuitFileError` naming the first bad file.
    """
    from do1rl.core import circuit_file  # imported lazily: only needed for files

    if isinstance(paths, (str, PathLike)):
        paths = [paths]
    if not paths:
        raise ValueError("circuit_files: need at least one path")
    circuits = [circuit_file.load(p)[0] for p in paths]
    return pool_from_circuits(circuits, num_nodes=num_nodes, max_fanin=max_fanin)


def per_instance_params(pool: CircuitPool, chain_length: int | jax.Array | np.ndarray = 0) -> EnvParams:
    """Batched `EnvParams`, one per circuit of `pool`, for `jax.vmap(env.reset, (0, 0))`.

    Entry i holds a `CircuitPool` of the single circuit i, so a vmapped reset
    over these params runs every instance of the pool exactly once.
    `chain_length` (DO1) is a scalar for all instances or an int array [P].
    """
    circuits = jax.tree.map(lambda x: x[:, None], pool.circuits)
    size = pool.circuits.node_type.shape[0]
    lengths = jnp.broadcast_to(jnp.asarray(chain_length, jnp.int32), (size,))
    return EnvParams(generator=CircuitPool(circuits=circuits), chain_length=lengths)
