"""What a network reads of an observation: the env's static sizes, node and global features, fan-in aggregations.

Shared by every family of `do1rl.agents.networks`; docs/design/networks.md
describes the features and why each is there.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from do1rl.envs.types import Observation

NUM_NODE_TYPES = 5
NODE_FEATURES = NUM_NODE_TYPES + 4  # one-hot type, selected, circuit_id, depth, legal
GLOBAL_FEATURES = 3  # steps_left, no-op legal, STOP legal
LOCAL_FEATURES = NUM_NODE_TYPES + 3  # one-hot type, selected, circuit_id, legal: no depth, no size


@dataclasses.dataclass(frozen=True)
class EnvDims:
    """The static sizes of an env that a network needs (hashable)."""

    num_nodes: int
    fanin_slots: int
    num_actions: int
    max_depth: int
    max_horizon: int
    stop_action: bool
    depth_scale: int = 0  # normalises depth features; 0 = max_depth
    horizon_scale: int = 0  # normalises steps_left; 0 = max_horizon


def env_dims(env, scales_of=None) -> EnvDims:
    """The static sizes of `env` (any object with the env's size attributes).

    `scales_of`: another env (the training env) whose max depth and horizon
    normalise the features, so a graph net trained there reads the same
    features on a larger `env`.
    """
    ref = env if scales_of is None else scales_of
    return EnvDims(
        num_nodes=int(env.num_nodes),
        fanin_slots=int(env.fanin_slots),
        num_actions=int(env.num_actions),
        max_depth=int(env.max_depth),
        max_horizon=int(env.max_horizon),
        stop_action=bool(env.stop_action),
        depth_scale=int(ref.max_depth),
        horizon_scale=int(ref.max_horizon),
    )


def depth_scale(dims) -> int:
    return max(getattr(dims, "depth_scale", 0) or dims.max_depth, 1)


def horizon_scale(dims) -> int:
    return max(getattr(dims, "horizon_scale", 0) or dims.max_horizon, 1)


# ----- features ---------------------------------------------------------------
def node_features(obs: Observation, dims) -> jax.Array:
    """float32[..., N, 9]: one-hot type (5), selected, circuit_id, depth / max_depth, legal."""
    n = dims.num_nodes
    one_hot = jax.nn.one_hot(obs.node_type.astype(jnp.int32), NUM_NODE_TYPES, dtype=jnp.float32)
    columns = [
        obs.selected.astype(jnp.float32),
        obs.circuit_id.astype(jnp.float32),
        obs.depth.astype(jnp.float32) / depth_scale(dims),
        obs.action_mask[..., :n].astype(jnp.float32),
    ]
    return jnp.concatenate([one_hot, jnp.stack(columns, axis=-1)], axis=-1)


def global_features(obs: Observation, dims) -> jax.Array:
    """float32[..., 3]: steps_left / max_horizon, no-op legal, STOP legal (0 without STOP)."""
    n = dims.num_nodes
    mask = obs.action_mask.astype(jnp.float32)
    steps = jnp.asarray(obs.steps_left, jnp.float32) / horizon_scale(dims)
    stop = mask[..., n + 1] if dims.stop_action else jnp.zeros_like(steps)
    return jnp.stack([steps, mask[..., n], stop], axis=-1)


def flat_features(obs: Observation, dims) -> jax.Array:
    """float32[N * (9 + F) + 3]: the "mlp" input (node features, fan-in indices, globals)."""
    wiring = (obs.fanin.astype(jnp.float32) + 1.0) / dims.num_nodes
    return jnp.concatenate([node_features(obs, dims).ravel(), wiring.ravel(), global_features(obs, dims)])


def graph_features(obs: Observation, dims) -> jax.Array:
    """float32[..., N, 12]: node features with the global features broadcast to each node."""
    nodes = node_features(obs, dims)
    glob = jnp.broadcast_to(global_features(obs, dims)[..., None, :], (*nodes.shape[:-1], GLOBAL_FEATURES))
    return jnp.concatenate([nodes, glob], axis=-1)


def local_features(obs: Observation, dims) -> jax.Array:
    """float32[..., N, 8]: what a node is, with nothing that depends on the circuit's size (the bottleneck's input)."""
    n = dims.num_nodes
    one_hot = jax.nn.one_hot(obs.node_type.astype(jnp.int32), NUM_NODE_TYPES, dtype=jnp.float32)
    columns = [obs.selected, obs.circuit_id, obs.action_mask[..., :n]]
    return jnp.concatenate([one_hot, jnp.stack([c.astype(jnp.float32) for c in columns], axis=-1)], axis=-1)


# ----- aggregations -----------------------------------------------------------
def _filled_fanin(fanin: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(index int[N, F], has fan-in bool[N, 1]): pad slots repointed at a real child.

    A pad slot (-1) takes the node's largest child index (0 for a node with
    no fan-in, whose aggregates are then zeroed), so one gather gives every
    node's children with duplicates but no pads: min and max over the slots
    are those over the real children, and no +-inf masking is needed.
    """
    top = jnp.max(fanin, axis=-1, keepdims=True)
    return jnp.where(fanin >= 0, fanin, jnp.maximum(top, 0)), top >= 0


def fanin_min_max(h: jax.Array, fanin: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(min, max) of `h` over each node's fan-in, each [N, W]; 0 for no fan-in."""
    index, has = _filled_fanin(fanin)
    children = h[index]
    return jnp.where(has, children.min(axis=1), 0.0), jnp.where(has, children.max(axis=1), 0.0)


def flat_fanin(fanin: jax.Array) -> jax.Array:
    """int32[B * N, F]: fan-in tables int[..., N, F] as one graph of B * N nodes (global indices, -1 pads)."""
    n, f = fanin.shape[-2:]
    tables = fanin.reshape(-1, n, f)
    first_node = (jnp.arange(tables.shape[0], dtype=fanin.dtype) * n)[:, None, None]
    return jnp.where(tables >= 0, tables + first_node, -1).reshape(-1, f)


class Edges(NamedTuple):
    """What the aggregations need of a fan-in table, computed once per forward pass (`edges`)."""

    # int32[N, F]: fan-in with pad slots repointed at a real child (`_filled_fanin`); the name shadows tuple.index
    index: jax.Array  # type: ignore[assignment]
    has_fanin: jax.Array  # bool[N, 1]
    edge: jax.Array  # float[N, F, 1]: 1 for a real slot, 0 for a pad
    fanin_count: jax.Array  # float[N, 1]: max(1, number of children)
    segments: jax.Array  # int32[N * F]: each slot's child, N for a pad (dropped)
    fanout_count: jax.Array  # float[N, 1]: max(1, number of readers)


def edges(fanin: jax.Array, dtype=jnp.float32) -> Edges:
    """The `Edges` of a fan-in table int[N, F] (-1 pads)."""
    n, f = fanin.shape
    index, has = _filled_fanin(fanin)
    edge = (fanin >= 0).astype(dtype)[..., None]
    segments = jnp.where(fanin >= 0, fanin, n).reshape(-1)
    fanout = jax.ops.segment_sum(jnp.ones((n * f,), dtype), segments, num_segments=n + 1)[:n]
    return Edges(index, has, edge, jnp.maximum(jnp.sum(edge, axis=1), 1.0), segments, jnp.maximum(fanout, 1.0)[:, None])


def fanin_aggregate(h: jax.Array, fanin: jax.Array | Edges) -> tuple[jax.Array, ...]:
    """(sum, mean, max, min) of `h` over each node's fan-in, each [N, W]; 0 for none.

    One gather serves all four (see `_filled_fanin`); the sum weights the
    slots by 1 (real) or 0 (pad). Gradients equal those of the plain masked
    reductions except where two distinct children tie exactly for the min
    or max (any split of the gradient among tied entries is a subgradient).
    `fanin` is the table or its precomputed `Edges`.
    """
    e = fanin if isinstance(fanin, Edges) else edges(fanin, h.dtype)
    children = h[e.index]  # [N, F, W]
    total = jnp.sum(children * e.edge, axis=1)
    lo = jnp.where(e.has_fanin, children.min(axis=1), 0.0)
    hi = jnp.where(e.has_fanin, children.max(axis=1), 0.0)
    return total, total / e.fanin_count, hi, lo


def fanout_aggregate(h: jax.Array, fanin: jax.Array | Edges) -> tuple[jax.Array, jax.Array]:
    """(sum, mean) of `h` over each node's readers (reverse edges), each [N, W]; 0 for none."""
    e = fanin if isinstance(fanin, Edges) else edges(fanin, h.dtype)
    n, f = e.index.shape
    # Edge (parent p, slot s) -> child fanin[p, s]; pad slots go to segment n, dropped.
    messages = jnp.broadcast_to(h[:, None, :], (n, f, h.shape[-1])).reshape(n * f, -1)
    total = jax.ops.segment_sum(messages, e.segments, num_segments=n + 1)[:n]
    return total, total / e.fanout_count
