"""Many circuits, one compilation per shape bucket.

`pad_bucket` groups parsed circuits by shape rounded up to powers of two and
stacks each group; `solve_many` runs one jitted `solve_batch` per bucket,
so a thousand files compile a handful of times, not a thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from do1rl.core import circuit as circuit_lib
from do1rl.core import solver
from do1rl.core.circuit import Circuit
from do1rl.core.circuit_file import ParsedCircuit
from do1rl.core.solver import Solution


def _pow2(x: int, minimum: int = 1) -> int:
    x = max(int(x), minimum)
    return 1 << (x - 1).bit_length()


class Bucket(NamedTuple):
    """Circuits padded to one shape and stacked.

    Attributes:
      shape: (num_nodes, max_fanin, eval_width), each a power of two.
      indices: positions of the bucket's circuits in the input list.
      circuits: the stacked `Circuit`, batch size `len(indices)`.
      node_index: per circuit, the slot of every file node id.
    """

    shape: tuple[int, int, int]
    indices: list[int]
    circuits: Circuit
    node_index: list[np.ndarray]


def bucket_shape(parsed: ParsedCircuit) -> tuple[int, int, int]:
    """(num_nodes, max_fanin, eval_width) rounded up to powers of two (nodes >= 8)."""
    depth = circuit_lib.topological_depths(parsed.num_inputs, parsed.fanins)
    width = circuit_lib.widest_layer(depth[parsed.num_inputs :])
    return (
        _pow2(parsed.num_inputs + parsed.num_gates, 8),
        _pow2(max(len(f) for f in parsed.fanins)),
        _pow2(width),
    )


def _groups(parsed_list: Sequence[ParsedCircuit]) -> dict[tuple[int, int, int], list[int]]:
    """Positions of the circuits of each bucket shape, in order of first appearance."""
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, parsed in enumerate(parsed_list):
        groups.setdefault(bucket_shape(parsed), []).append(i)
    return groups


def _build(parsed_list: Sequence[ParsedCircuit], shape: tuple[int, int, int], indices: list[int]) -> Bucket:
    num_nodes, max_fanin, eval_width = shape
    built = [parsed_list[i].to_circuit(num_nodes=num_nodes, max_fanin=max_fanin, eval_width=eval_width) for i in indices]
    circuits = circuit_lib.stack([c for c, _ in built])
    return Bucket(shape, list(indices), circuits, [idx for _, idx in built])


def pad_bucket(parsed_list: Sequence[ParsedCircuit]) -> list[Bucket]:
    """Groups circuits by rounded-up shape; each bucket is padded and stacked.

    Buckets come in order of first appearance in `parsed_list`.
    """
    return [_build(parsed_list, shape, indices) for shape, indices in _groups(parsed_list).items()]


# One jitted solver for every bucket: jax caches one compilation per
# (shape, eval_width), i.e. per bucket (batch sizes are rounded up too).
# Circuits from files have no layout, so this is the generic batch path.
solve_batch = jax.jit(solver.solve_batch)


def _pad_batch(circuits: Circuit, size: int) -> Circuit:
    """Repeats the last circuit so the batch has `size` entries."""
    have = circuits.node_type.shape[0]
    take = np.minimum(np.arange(size), have - 1)
    # Always device arrays: mixing numpy and jax arguments can add cache entries.
    return jax.tree.map(lambda x: jnp.asarray(np.asarray(x)[take]), circuits)


# Largest batch solved in one call, in fan-in slots (batch x nodes x fan-in).
MAX_BATCH_SLOTS = 1 << 24


def solve_many(parsed_list: Sequence[ParsedCircuit]) -> list[Solution]:
    """Solves many circuits with one compilation per shape bucket.

    A bucket's batch is padded to a power of two (repeating a circuit); a
    bucket larger than `MAX_BATCH_SLOTS` allows is solved in equal chunks,
    the last one padded, so it still compiles once. Only one chunk is padded
    and stacked at a time, so memory follows the chunk, not the bucket.

    Returns, for each circuit in order, a `Solution` of numpy arrays in the
    file's numbering: value[i], depth[i] and cert[i] for node id i, d1, serial_steps, cert_d1.
    """
    results: list[Solution | None] = [None] * len(parsed_list)
    for shape, indices in _groups(parsed_list).items():
        nodes, fanin, _ = shape
        chunk = 1 << max(0, (MAX_BATCH_SLOTS // (nodes * fanin)).bit_length() - 1)
        size = len(indices)
        batch_size = _pow2(size) if size <= chunk else chunk
        for start in range(0, size, batch_size):
            part = _build(parsed_list, shape, indices[start : start + batch_size])
            sol = jax.device_get(solve_batch(_pad_batch(part.circuits, batch_size)))
            for row in range(len(part.indices)):
                i, node_index = part.indices[row], part.node_index[row]
                host = dict(
                    value=np.asarray(sol.value[row][node_index]),
                    depth=np.asarray(sol.depth[row][node_index]),
                    d1=int(sol.d1[row]),
                    serial_steps=int(sol.serial_steps[row]),
                    cert=np.asarray(sol.cert[row][node_index]),
                    cert_d1=int(sol.cert_d1[row]),
                )
                results[i] = Solution(**host)  # type: ignore[arg-type]  # numpy arrays and ints where it says jax.Array
    return results  # type: ignore[return-value]
