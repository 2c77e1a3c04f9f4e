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
    """

    value: jax.Array
    depth: jax.Array
    d1: jax.Array
    serial_steps: jax.Array


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

    def body(carry):
        start, value, steps = carry
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
        return start + jnp.sum(in_layer, dtype=jnp.int32), value, steps + 1

    _, value, steps = jax.lax.while_loop(
        lambda c: c[0] < end, body, (first_gate, value0, jnp.int32(0))
    )
    value = value[:n]
    d1 = jnp.max(jnp.where(value & is_gate, depth, 0))
    return Solution(value=value, depth=depth, d1=d1.astype(jnp.int32), serial_steps=steps)


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
