"""The exact serial solver: gate values, depth-of-1 and optimal values.

`solve` evaluates a circuit layer by layer in depth order. Each serial step
evaluates `eval_width` gate slots of one layer, so the work is
O(gates x fan-in) and the number of serial steps is at most
depth + gates / eval_width. It is jittable and vmaps over a batch.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from do1rl.core.circuit import AND, INPUT_1, Circuit


class Solution(NamedTuple):
    """What the solver knows about one circuit configuration (C, x).

    Attributes:
      value: bool[N], the value of every node (False for padding).
      depth: int32[N], the depth of every node (the circuit's own depths).
      d1: int32[], depth-of-1: the deepest gate whose value is 1, else 0.
      serial_steps: int32[], layer chunks the solver evaluated in sequence.
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
    """Evaluates one circuit (vmap for a batch)."""
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

    _, value, cert, steps = jax.lax.while_loop(
        lambda c: c[0] < end, body, (first_gate, value0, cert0, jnp.int32(0))
    )
    value = value[:n]
    cert = cert[:n]
    d1 = jnp.max(jnp.where(value & is_gate, depth, 0))
    return Solution(
        value=value,
        depth=depth,
        d1=d1.astype(jnp.int32),
        serial_steps=steps,
        cert=cert,
        cert_d1=_cert_of_d1(value, depth, cert, is_gate, d1),
    )


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
    top_one = jnp.min(jnp.where(is_gate & value & (depth == d1), cert, big))
    top_one = jnp.where(d1 > 0, top_one, 0)
    deeper = jnp.max(jnp.where(is_gate & (depth > d1), cert, 0))
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
