"""The exact serial solver: gate values, depth-of-1 and optimal values.

Every path evaluates a circuit layer by layer in depth order, so the work
is O(gates x fan-in) and the serial depth is the circuit's depth:

- `solve_chunked` (one circuit; vmap for a batch) runs a while_loop over
  chunks of `eval_width` gate slots of one layer.
- `solve_batch` takes a batch [B, ...] directly. With a static layout
  (`Circuit.layers`) it slices each layer of every circuit at fixed slots
  and reads the layer's fan-in with one batched gather ("layer-major");
  without one it runs the chunk loop once for the whole batch, with one
  loop condition shared by all circuits ("generic").
- `solve` (one circuit) is the layer-major path on a batch of one when the
  circuit has a layout, else `solve_chunked`; it jits and vmaps.

All paths give bitwise the same `Solution`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from do1rl.core.circuit import AND, INPUT_1, PAD, Circuit


class Solution(NamedTuple):
    """What the solver knows about one circuit configuration (C, x) (or a batch, with a leading axis).

    Attributes:
      value: bool[N], the value of every node (False for padding).
      depth: int32[N], the depth of every node (the circuit's own depths).
      d1: int32[], depth-of-1: the deepest gate whose value is 1, else 0.
      serial_steps: int32[], the serial steps of the chunked evaluation: the
        sum over layers of ceil(gates in the layer / eval_width). Every path
        reports this count, whether or not it evaluates in such chunks.
      cert: int32[N], certificate depth of every node: the fewest fan-in hops
        that fix its value from the inputs (0 for inputs and padding).
      cert_d1: int32[], cert(d1): the larger of the certificate that some
        gate of depth d1 is 1 and those that every deeper gate is 0.
    """

    value: jax.Array
    depth: jax.Array
    d1: jax.Array
    serial_steps: jax.Array
    cert: jax.Array
    cert_d1: jax.Array


def solve(circuit: Circuit) -> Solution:
    """Solves one circuit (vmap for a batch): layer-major with a layout, else chunk by chunk."""
    if not circuit.layers:  # none, or no gates
        return solve_chunked(circuit)
    batch = _solve_layers(jax.tree.map(lambda x: x[None], circuit))
    return jax.tree.map(lambda x: x[0], batch)


def solve_batch(circuits: Circuit) -> Solution:
    """Solves a batch of circuits [B, ...]: layer-major with a layout, else the generic batch loop."""
    if not circuits.layers:  # none, or no gates
        return _solve_generic(circuits)
    return _solve_layers(circuits)


def solve_chunked(circuit: Circuit) -> Solution:
    """Evaluates one circuit chunk by chunk (vmap for a batch); ignores any layout."""
    width = circuit.eval_width
    n = circuit.num_nodes
    node_type = circuit.node_type
    depth = circuit.depth
    is_gate = circuit.is_gate
    # Pad by one chunk so every dynamic slice stays in bounds.
    pad = lambda x, fill: jnp.concatenate([x, jnp.full((width,) + x.shape[1:], fill, x.dtype)])
    node_type_p = pad(node_type, 0)
    depth_p = pad(depth, -1)
    fanin_p = pad(circuit.fanin, -1)

    first_gate = jnp.sum(~is_gate & (node_type != 0)).astype(jnp.int32)
    end = first_gate + jnp.sum(is_gate).astype(jnp.int32)
    value0 = jnp.concatenate([node_type == INPUT_1, jnp.zeros((width,), bool)])
    cert0 = jnp.zeros((n + width,), jnp.int32)

    def body(carry):
        start, value, cert, steps = carry
        layer = depth_p[start]
        types = jax.lax.dynamic_slice_in_dim(node_type_p, start, width)
        fanin = jax.lax.dynamic_slice_in_dim(fanin_p, start, width)
        in_layer = jax.lax.dynamic_slice_in_dim(depth_p, start, width) == layer
        in_layer &= start + jnp.arange(width) < end
        read = value[jnp.maximum(fanin, 0)]
        real = fanin >= 0
        and_value = jnp.all(read | ~real, axis=-1)
        or_value = jnp.any(read & real, axis=-1)
        new = jnp.where(types == AND, and_value, or_value)
        old = jax.lax.dynamic_slice_in_dim(value, start, width)
        value = jax.lax.dynamic_update_slice_in_dim(value, jnp.where(in_layer, new, old), start, 0)
        new_cert = _gate_cert(types == AND, new, read, real, cert[jnp.maximum(fanin, 0)])
        old_cert = jax.lax.dynamic_slice_in_dim(cert, start, width)
        cert = jax.lax.dynamic_update_slice_in_dim(cert, jnp.where(in_layer, new_cert, old_cert), start, 0)
        return start + jnp.sum(in_layer, dtype=jnp.int32), value, cert, steps + 1

    _, value, cert, steps = jax.lax.while_loop(lambda c: c[0] < end, body, (first_gate, value0, cert0, jnp.int32(0)))
    return _solution(circuit, value[:n], cert[:n], steps)


def _pack(value: jax.Array, cert: jax.Array) -> jax.Array:
    """int32 words 2 * cert + value: a node's whole state, so one gather reads both."""
    return 2 * cert + value.astype(jnp.int32)


def _unpack(words: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(value, cert) of packed words."""
    return (words & 1).astype(bool), words >> 1


# Keys below _FAR are certificates of children at the gate's controlling
# value; keys in (_FAR, 2 * _FAR] are 2 * _FAR - certificate of the others
# and of empty slots (certificate 0). Certificates stay below _FAR.
_FAR = 1 << 29


def _gate_words(is_and: jax.Array, fanin: jax.Array, child_words: jax.Array) -> jax.Array:
    """int32[..., W]: packed value and certificate of gates from their children's packed words [..., W, F].

    The same rule as `_gate_cert` (with all / any for the value), as one
    minimum: the cheapest child at the controlling value (AND at 0, OR at 1)
    decides the gate, and without one the costliest child bounds it.
    """
    real = fanin >= 0
    child_value, child_cert = _unpack(child_words)
    controlling = child_value != is_and[..., None]
    key = jnp.where(real, jnp.where(controlling, child_cert, 2 * _FAR - child_cert), 2 * _FAR)
    least = jnp.min(key, axis=-1)
    decided = least < _FAR
    cert = 1 + jnp.where(decided, least, 2 * _FAR - least)
    return _pack(decided != is_and, cert)


def _read(words: jax.Array, fanin: jax.Array) -> jax.Array:
    """int32[B, W, F]: the packed words of the nodes `fanin` [B, W, F] names (slot 0 for empty slots)."""
    batch = fanin.shape[0]
    index = jnp.maximum(fanin, 0).reshape(batch, -1)
    return jnp.take_along_axis(words, index, axis=1, mode="clip").reshape(fanin.shape)


def _initial_words(circuits: Circuit) -> jax.Array:
    """int32[B, N]: inputs at their bits, every other node 0, certificates 0."""
    return _pack(circuits.node_type == INPUT_1, jnp.zeros(circuits.node_type.shape, jnp.int32))


def _layer_runs(layers: tuple[tuple[int, int], ...]) -> list[tuple[int, int, int]]:
    """(start, size, count): maximal runs of abutting layers of equal size."""
    runs: list[tuple[int, int, int]] = []
    for start, stop in layers:
        if runs:
            first, size, count = runs[-1]
            if stop - start == size and start == first + size * count:
                runs[-1] = (first, size, count + 1)
                continue
        runs.append((start, stop - start, 1))
    return runs


def _solve_layers(circuits: Circuit) -> Solution:
    """Layer-major: each layer of every circuit is one static range of slots, read with one batched gather.

    A run of abutting layers of equal size is a scan over a slot offset
    shared by the whole batch (a dynamic slice, not a gather, and no
    scatter), so compile time grows with the number of runs, not of layers.
    d1 and cert(d1) come from two summary nodes per layer (`_layer_summary`),
    so no pass over all nodes is needed for them.
    """

    def evaluate(words, start, size):
        fanin = jax.lax.dynamic_slice_in_dim(circuits.fanin, start, size, axis=1)
        is_and = jax.lax.dynamic_slice_in_dim(circuits.node_type, start, size, axis=1) == AND
        new = _gate_words(is_and, fanin, _read(words, fanin))
        return jax.lax.dynamic_update_slice_in_dim(words, new, start, axis=1), _layer_summary(new)

    layers = circuits.layers
    assert layers is not None  # solve and solve_batch send circuits without a layout elsewhere
    words = _initial_words(circuits)
    steps = 0
    summaries = []
    for start, size, count in _layer_runs(layers):
        if count == 1:
            words, summary = evaluate(words, start, size)
            summaries.append(jax.tree.map(lambda x: x[None], summary))
        else:
            body = lambda w, i, start=start, size=size: evaluate(w, start + i * size, size)
            words, summary = jax.lax.scan(body, words, jnp.arange(count))
            summaries.append(summary)
        steps += count * -(-size // circuits.eval_width)
    value, cert = _unpack(words)
    one, cheapest_one, costliest = (jnp.concatenate(parts).T for parts in zip(*summaries))  # each [B, D]
    layer_depth = jnp.broadcast_to(jnp.arange(1, len(layers) + 1, dtype=jnp.int32), one.shape)
    summary_nodes = (  # per layer: its cheapest 1-gate, then its costliest gate (as a 0)
        jnp.concatenate([one, jnp.zeros_like(one)], axis=-1),
        jnp.concatenate([layer_depth, layer_depth], axis=-1),
        jnp.concatenate([cheapest_one, costliest], axis=-1),
        jnp.ones((one.shape[0], 2 * one.shape[1]), bool),
    )
    d1, cert_d1 = _depth_of_one(*summary_nodes)
    return Solution(value, circuits.depth, d1, jnp.full(d1.shape, steps, jnp.int32), cert, cert_d1)


def _layer_summary(words: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(any 1, cheapest certificate of a 1 (0 if none), costliest certificate) of one layer's gate words [B, L].

    Standing in for the layer's gates, a 1-gate with that cheapest
    certificate and a 0-gate with that costliest one give the same d1 and
    cert(d1) (`_depth_of_one`).
    """
    value, cert = _unpack(words)
    one = jnp.any(value, axis=-1)
    cheapest_one = jnp.min(jnp.where(value, cert, jnp.iinfo(jnp.int32).max), axis=-1)
    return one, jnp.where(one, cheapest_one, 0), jnp.max(cert, axis=-1)


def _solve_generic(circuits: Circuit) -> Solution:
    """The chunk loop of `solve_chunked` run on a whole batch [B, ...] at once.

    One loop condition for the batch (a circuit that is done idles). Each
    circuit reads and writes a window of `eval_width` slots at its own
    offset; a window that would pass the last slot is moved back to end
    there, and only its slots from the chunk's start count, so nothing is
    padded and the chunks are those of `solve_chunked`.
    """
    node_type, depth = circuits.node_type, circuits.depth
    batch, n = node_type.shape
    window = min(circuits.eval_width, n)
    is_gate = circuits.is_gate
    first_gate = jnp.sum(~is_gate & (node_type != PAD), axis=-1, dtype=jnp.int32)
    end = first_gate + jnp.sum(is_gate, axis=-1, dtype=jnp.int32)
    slots = jnp.arange(window)
    take = jax.vmap(lambda x, offset: jax.lax.dynamic_slice_in_dim(x, offset, window))
    put = jax.vmap(lambda x, update, offset: jax.lax.dynamic_update_slice_in_dim(x, update, offset, 0))

    def body(carry):
        start, words, steps = carry
        offset = jnp.minimum(start, n - window)
        slot = offset[:, None] + slots
        layer = jnp.take_along_axis(depth, start[:, None], axis=1, mode="clip")
        in_chunk = (slot >= start[:, None]) & (slot < end[:, None]) & (take(depth, offset) == layer)
        fanin = take(circuits.fanin, offset)
        new = _gate_words(take(node_type, offset) == AND, fanin, _read(words, fanin))
        words = put(words, jnp.where(in_chunk, new, take(words, offset)), offset)
        return start + jnp.sum(in_chunk, axis=-1, dtype=jnp.int32), words, steps + (start < end)

    _, words, steps = jax.lax.while_loop(
        lambda c: jnp.any(c[0] < end), body, (first_gate, _initial_words(circuits), jnp.zeros(batch, jnp.int32))
    )
    value, cert = _unpack(words)
    return _solution(circuits, value, cert, steps)


def _solution(circuit: Circuit, value: jax.Array, cert: jax.Array, steps: jax.Array) -> Solution:
    """The `Solution` of circuits (any leading batch axes) from their node values and certificates."""
    d1, cert_d1 = _depth_of_one(value, circuit.depth, cert, circuit.is_gate)
    return Solution(value=value, depth=circuit.depth, d1=d1, serial_steps=steps, cert=cert, cert_d1=cert_d1)


def _depth_of_one(value, depth, cert, is_gate) -> tuple[jax.Array, jax.Array]:
    """(d1, cert(d1)), int32 over the last axis of node arrays."""
    d1 = jnp.max(jnp.where(value & is_gate, depth, 0), axis=-1).astype(jnp.int32)
    return d1, _cert_of_d1(value, depth, cert, is_gate, d1)


def _gate_cert(is_and, value, read, real, child_cert):
    """int32[W]: certificate depths of a chunk of gates from their children's.

    A gate at its controlling value (AND at 0, OR at 1) needs 1 + the
    smallest certificate among its children at that value; otherwise
    1 + the largest certificate among all its children.
    """
    controlled = value != is_and  # AND at 0, OR at 1
    witness = real & (read == value[:, None])
    big = jnp.iinfo(jnp.int32).max
    smallest = jnp.min(jnp.where(witness, child_cert, big), axis=-1)
    largest = jnp.max(jnp.where(real, child_cert, 0), axis=-1)
    return (1 + jnp.where(controlled, smallest, largest)).astype(jnp.int32)


def _cert_of_d1(value, depth, cert, is_gate, d1):
    """int32[]: max(cheapest certificate of a 1-gate at depth d1, certificates of all deeper gates)."""
    big = jnp.iinfo(jnp.int32).max
    d1 = jnp.asarray(d1)[..., None]
    top_one = jnp.min(jnp.where(is_gate & value & (depth == d1), cert, big), axis=-1)
    top_one = jnp.where(d1[..., 0] > 0, top_one, 0)
    deeper = jnp.max(jnp.where(is_gate & (depth > d1), cert, 0), axis=-1)
    return jnp.maximum(top_one, deeper).astype(jnp.int32)


def terminal_reward(selected: jax.Array, value: jax.Array, depth: jax.Array) -> jax.Array:
    """int32[]: the spec's reward for a set of chosen gates.

    The largest depth among the `selected` gates if every one outputs 1,
    else 0 (0 when none is chosen).
    """
    broken = jnp.any(selected & ~value)
    best = jnp.max(jnp.where(selected, depth, 0))
    return jnp.where(broken, 0, best).astype(jnp.int32)


def optimal_value(
    value: jax.Array,
    depth: jax.Array,
    selected: jax.Array,
    selectable_region: jax.Array,
    steps_left: jax.Array,
) -> jax.Array:
    """V*(s) of an environment state, as the spec defines it.

    Args:
      value: bool[N], node values.
      depth: int32[N], node depths.
      selected: bool[N], the chosen gates S.
      selectable_region: bool[N], the gates of the circuit(s) the agent may
        still pick from: the chosen circuit Z, or both before the forced choice.
      steps_left: int32[], tau.

    Returns:
      int32[]: 0 if a chosen gate outputs 0, else
      max(maxdepth(S), d1(Z) if tau >= 1 else 0).
    """
    broken = jnp.any(selected & ~value)
    reachable = jnp.max(jnp.where(selectable_region & value, depth, 0))
    best = jnp.maximum(terminal_reward(selected, value, depth), jnp.where(steps_left >= 1, reachable, 0))
    return jnp.where(broken, 0, best).astype(jnp.int32)


def approximation_ratio(returns, optimal):
    """r / r*, and 1 where r* = 0; numpy in, numpy out, else jax."""
    xp = np if isinstance(returns, np.ndarray) and isinstance(optimal, np.ndarray) else jnp
    return xp.where(optimal == 0, 1.0, returns / xp.maximum(optimal, 1))
