"""Actor-critic networks over the circuit observation (flax.linen): mlp, gnn, recurrent.

Every network maps ONE observation to `(logits float32[A], value float32[])`;
callers `jax.vmap` for batches (or `apply_batch`) and mask the logits. The
graph networks also take a batch [..., N] whole, as one graph. Architecture,
features, serial depth and initialisation: docs/design/networks.md.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from do1rl.core.checks import is_integer
from do1rl.envs.types import Observation

FAMILIES = ("mlp", "gnn", "recurrent")

NUM_NODE_TYPES = 5
NODE_FEATURES = NUM_NODE_TYPES + 4  # one-hot type, selected, circuit_id, depth, legal
GLOBAL_FEATURES = 3  # steps_left, no-op legal, STOP legal
LAYERS_PER_BLOCK = 2  # Dense layers in one message-passing block

_HIDDEN = nn.initializers.orthogonal(math.sqrt(2.0))
_POLICY = nn.initializers.orthogonal(0.01)
_VALUE = nn.initializers.orthogonal(1.0)
_ZEROS = nn.initializers.zeros


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """Which network and how big.

    Attributes:
      family: "mlp", "gnn" or "recurrent".
      depth: mlp: Dense layers inside the residual blocks (a positive multiple
        of 4); gnn: message-passing blocks L; recurrent: ignored.
      width: hidden size.
      iterations_per_depth, extra_iterations, max_iterations: recurrent only:
        T = clip(ceil(iterations_per_depth * D_obs) + extra_iterations, 1,
        max_iterations), D_obs = the deepest node in the observation.
      mean_aggregates: gnn and recurrent: also feed each block the means
        (sum / count) over fan-in and fan-out; False drops them, a cheaper
        block (docs/design/networks.md).
    """

    family: str = "mlp"
    depth: int = 8
    width: int = 64
    iterations_per_depth: float = 1.0
    extra_iterations: int = 1
    max_iterations: int = 64
    mean_aggregates: bool = True


@dataclasses.dataclass(frozen=True)
class EnvDims:
    """The static sizes of an env that a network needs (hashable)."""

    num_nodes: int
    fanin_slots: int
    num_actions: int
    max_depth: int
    max_horizon: int
    stop_action: bool


def env_dims(env) -> EnvDims:
    """The static sizes of `env` (any object with the env's size attributes)."""
    return EnvDims(
        num_nodes=int(env.num_nodes),
        fanin_slots=int(env.fanin_slots),
        num_actions=int(env.num_actions),
        max_depth=int(env.max_depth),
        max_horizon=int(env.max_horizon),
        stop_action=bool(env.stop_action),
    )


def validate(config: NetworkConfig) -> None:
    """Raises ValueError (one line) if `config` does not describe a network."""

    if config.family not in FAMILIES:
        raise ValueError(f"unknown network family {config.family!r}; expected one of {FAMILIES}")
    if not is_integer(config.width) or config.width < 1:
        raise ValueError(f"network width must be a positive integer, got {config.width!r}")
    if config.family == "mlp" and (not is_integer(config.depth) or config.depth < 4 or config.depth % 4):
        raise ValueError(f"mlp depth must be a positive multiple of 4, got {config.depth!r}")
    if config.family == "gnn" and (not is_integer(config.depth) or config.depth < 1):
        raise ValueError(f"gnn depth (message-passing layers) must be a positive integer, got {config.depth!r}")
    if not isinstance(config.mean_aggregates, bool | np.bool_):
        raise ValueError(f"mean_aggregates must be true or false, got {config.mean_aggregates!r}")
    if config.family == "recurrent":
        ipd = config.iterations_per_depth
        if not isinstance(ipd, (int, float, np.number)) or not math.isfinite(ipd) or ipd < 0:
            raise ValueError(f"iterations_per_depth must be a finite number >= 0, got {ipd!r}")
        if not is_integer(config.extra_iterations) or config.extra_iterations < 0:
            raise ValueError(f"extra_iterations must be an integer >= 0, got {config.extra_iterations!r}")
        if not is_integer(config.max_iterations) or config.max_iterations < 1:
            raise ValueError(f"max_iterations must be an integer >= 1, got {config.max_iterations!r}")


# ----- features ---------------------------------------------------------------
def node_features(obs: Observation, dims) -> jax.Array:
    """float32[..., N, 9]: one-hot type (5), selected, circuit_id, depth / max_depth, legal."""
    n = dims.num_nodes
    one_hot = jax.nn.one_hot(obs.node_type.astype(jnp.int32), NUM_NODE_TYPES, dtype=jnp.float32)
    columns = [
        obs.selected.astype(jnp.float32),
        obs.circuit_id.astype(jnp.float32),
        obs.depth.astype(jnp.float32) / max(dims.max_depth, 1),
        obs.action_mask[..., :n].astype(jnp.float32),
    ]
    return jnp.concatenate([one_hot, jnp.stack(columns, axis=-1)], axis=-1)


def global_features(obs: Observation, dims) -> jax.Array:
    """float32[..., 3]: steps_left / max_horizon, no-op legal, STOP legal (0 without STOP)."""
    n = dims.num_nodes
    mask = obs.action_mask.astype(jnp.float32)
    steps = jnp.asarray(obs.steps_left, jnp.float32) / max(dims.max_horizon, 1)
    stop = mask[..., n + 1] if dims.stop_action else jnp.zeros_like(steps)
    return jnp.stack([steps, mask[..., n], stop], axis=-1)


def flat_features(obs: Observation, dims) -> jax.Array:
    """float32[N * (9 + F) + 3]: the "mlp" input (node features, fan-in indices, globals)."""
    wiring = (obs.fanin.astype(jnp.float32) + 1.0) / dims.num_nodes
    return jnp.concatenate(
        [node_features(obs, dims).ravel(), wiring.ravel(), global_features(obs, dims)]
    )


def graph_features(obs: Observation, dims) -> jax.Array:
    """float32[..., N, 12]: node features with the global features broadcast to each node."""
    nodes = node_features(obs, dims)
    glob = jnp.broadcast_to(global_features(obs, dims)[..., None, :], (*nodes.shape[:-1], GLOBAL_FEATURES))
    return jnp.concatenate([nodes, glob], axis=-1)


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

    index: jax.Array  # int32[N, F]: fan-in with pad slots repointed at a real child (`_filled_fanin`)
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


# ----- modules ----------------------------------------------------------------
def _dense(features: int, init=_HIDDEN, name: str | None = None) -> nn.Dense:
    return nn.Dense(features, kernel_init=init, bias_init=_ZEROS, name=name)


class ResidualMLP(nn.Module):
    """The "mlp" family: a residual MLP on the flattened observation."""

    dims: EnvDims
    depth: int = 8
    width: int = 64

    @nn.compact
    def __call__(self, obs: Observation) -> tuple[jax.Array, jax.Array]:
        h = _dense(self.width, name="embed")(flat_features(obs, self.dims))
        h = nn.swish(nn.LayerNorm(name="embed_norm")(h))
        for b in range(self.depth // 4):
            skip = h
            for j in range(4):
                h = _dense(self.width, name=f"block{b}_dense{j}")(h)
                h = nn.swish(nn.LayerNorm(name=f"block{b}_norm{j}")(h))
            h = h + skip
        logits = _dense(self.dims.num_actions, _POLICY, name="policy")(h)
        value = _dense(1, _VALUE, name="value")(h)[0]
        return logits, value


class MessageBlock(nn.Module):
    """One message-passing step over the circuit's edges (both directions)."""

    width: int
    mean_aggregates: bool = True

    @nn.compact
    def __call__(self, h: jax.Array, fanin: jax.Array | Edges) -> jax.Array:
        x = nn.LayerNorm(name="norm")(h)
        total, mean, hi, lo = fanin_aggregate(x, fanin)
        up_total, up_mean = fanout_aggregate(x, fanin)
        if self.mean_aggregates:
            z = jnp.concatenate([x, total, mean, hi, lo, up_total, up_mean], axis=-1)
        else:
            z = jnp.concatenate([x, total, hi, lo, up_total], axis=-1)
        u = nn.swish(_dense(self.width, name="mix")(z))
        return h + _dense(self.width, name="out")(u)


class GraphHeads(nn.Module):
    """Per-gate logits from node embeddings; no-op / STOP logits and value from a pooled one."""

    dims: EnvDims

    @nn.compact
    def __call__(self, h: jax.Array, node_type: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(logits [..., A], value [...]) from embeddings h [..., N, W]."""
        h = nn.LayerNorm(name="norm")(h)
        real = (node_type != 0)[..., None]
        count = jnp.maximum(jnp.sum(real, axis=-2), 1).astype(h.dtype)
        mean = jnp.sum(jnp.where(real, h, 0.0), axis=-2) / count
        top = jnp.max(jnp.where(real, h, -jnp.inf), axis=-2)
        top = jnp.where(jnp.any(real, axis=-2), top, 0.0)
        pooled = jnp.concatenate([mean, top], axis=-1)
        per_node = jnp.concatenate([h, jnp.broadcast_to(pooled[..., None, :], (*h.shape[:-1], pooled.shape[-1]))], -1)
        gate_logits = _dense(1, _POLICY, name="gate_logit")(per_node)[..., 0]
        extra = self.dims.num_actions - self.dims.num_nodes
        other_logits = _dense(extra, _POLICY, name="other_logits")(pooled)
        value = _dense(1, _VALUE, name="value")(pooled)[..., 0]
        return jnp.concatenate([gate_logits, other_logits], axis=-1), value


class GNN(nn.Module):
    """The "gnn" family: L untied message-passing blocks.

    Takes one observation or a batch [..., N] (one graph of B * N nodes, as
    `RecurrentGNN`); `flat=True` makes `apply_batch` hand it whole batches.
    """

    dims: EnvDims
    depth: int = 4
    width: int = 64
    flat: bool = True
    mean_aggregates: bool = True

    def setup(self):
        self.embed = _dense(self.width)
        self.blocks = [MessageBlock(self.width, self.mean_aggregates) for _ in range(self.depth)]
        self.heads = GraphHeads(self.dims)

    def node_embeddings(self, obs: Observation) -> jax.Array:
        """float32[..., N, W]: node embeddings after the last block (before the heads)."""
        h = self.embed(graph_features(obs, self.dims))
        graph = edges(flat_fanin(obs.fanin), h.dtype)
        rows = h.reshape(-1, self.width)
        for block in self.blocks:
            rows = block(rows, graph)
        return rows.reshape(h.shape)

    def __call__(self, obs: Observation) -> tuple[jax.Array, jax.Array]:
        return self.heads(self.node_embeddings(obs), obs.node_type)


class _GuardedBlock(nn.Module):
    """A `MessageBlock` step that is the identity once `step >= iterations` (per node: int[N, 1])."""

    width: int
    mean_aggregates: bool = True

    @nn.compact
    def __call__(self, carry, fanin: jax.Array | Edges, iterations):
        h, step = carry
        new = MessageBlock(self.width, self.mean_aggregates, name="block")(h, fanin)
        return (jnp.where(step < iterations, new, h), step + 1), None


class RecurrentGNN(nn.Module):
    """The "recurrent" family: one weight-tied block iterated T(obs) times.

    Takes one observation or a batch [..., N]; a batch is one graph of
    B * N nodes (`flat_fanin`), so each aggregation is one gather over all
    of them. `unrolled=True` (the default) unrolls the loop over the static
    iteration count and computes the edge bookkeeping once per forward pass;
    `unrolled=False` is the earlier rolled loop that recomputes it every
    iteration (same parameters, same outputs bitwise; kept for the bench).
    `flat=True` makes `apply_batch` hand it whole batches; False vmaps it
    over observations, the earlier path.
    """

    dims: EnvDims
    width: int = 64
    iterations_per_depth: float = 1.0
    extra_iterations: int = 1
    max_iterations: int = 64
    unrolled: bool = True
    flat: bool = True
    mean_aggregates: bool = True

    @property
    def static_iterations(self) -> int:
        """The most iterations any observation of this env can get."""
        return _static_iterations(
            self.iterations_per_depth, self.extra_iterations, self.max_iterations, self.dims.max_depth
        )

    def setup(self):
        self.embed = _dense(self.width)
        loop = nn.scan(
            _GuardedBlock,
            variable_broadcast="params",
            split_rngs={"params": False},
            in_axes=(nn.broadcast, nn.broadcast),
            length=self.static_iterations,
            unroll=self.static_iterations if self.unrolled else 1,
        )
        self.loop = loop(self.width, self.mean_aggregates, name="loop")
        self.heads = GraphHeads(self.dims)

    def iterations(self, obs: Observation) -> jax.Array:
        """int32[...]: T for each observation."""
        return _iterations(
            self.iterations_per_depth,
            self.extra_iterations,
            self.max_iterations,
            self.dims.max_depth,
            obs.depth,
        )

    def node_embeddings(self, obs: Observation) -> jax.Array:
        """float32[..., N, W]: node embeddings after T iterations (before the heads)."""
        h = self.embed(graph_features(obs, self.dims))
        table = flat_fanin(obs.fanin)
        graph = edges(table, h.dtype) if self.unrolled else table
        node_iterations = jnp.repeat(self.iterations(obs).reshape(-1), self.dims.num_nodes)[:, None]
        (rows, _), _ = self.loop((h.reshape(-1, self.width), jnp.int32(0)), graph, node_iterations)
        return rows.reshape(h.shape)

    def __call__(self, obs: Observation) -> tuple[jax.Array, jax.Array]:
        return self.heads(self.node_embeddings(obs), obs.node_type)


# ----- iteration counts -------------------------------------------------------
def _static_iterations(ipd: float, extra: int, cap: int, max_depth: int) -> int:
    scaled = np.ceil(np.float32(ipd) * np.float32(max(max_depth, 0)))
    return int(np.clip(int(scaled) + extra, 1, cap))


def _iterations(ipd: float, extra: int, cap: int, max_depth: int, depth: jax.Array) -> jax.Array:
    d_obs = jnp.max(depth, axis=-1).astype(jnp.float32)
    scaled = jnp.ceil(jnp.float32(ipd) * d_obs).astype(jnp.int32)
    t = jnp.clip(scaled + extra, 1, cap)
    # Node depths never exceed env.max_depth; the cap only guards malformed input.
    return jnp.minimum(t, _static_iterations(ipd, extra, cap, max_depth)).astype(jnp.int32)


def num_iterations(config: NetworkConfig, env, obs: Observation) -> jax.Array:
    """int32[]: the recurrent family's T for this observation.

    T = clip(ceil(iterations_per_depth * max(obs.depth)) + extra_iterations,
    1, max_iterations), further capped by the value it takes at depth
    `env.max_depth` (never binding for a well-formed observation).
    """
    return _iterations(
        config.iterations_per_depth,
        config.extra_iterations,
        config.max_iterations,
        int(env.max_depth),
        obs.depth,
    )


# ----- public API ---------------------------------------------------------------
def make_network(config: NetworkConfig, env) -> nn.Module:
    """The actor-critic module for `config` on `env`.

    `module.init(key, obs)` / `module.apply(params, obs)` ->
    (logits float32[A], value float32[]) for ONE observation.
    """
    validate(config)
    dims = env_dims(env)
    if config.family == "mlp":
        return ResidualMLP(dims, depth=config.depth, width=config.width)
    if config.family == "gnn":
        return GNN(dims, depth=config.depth, width=config.width, mean_aggregates=bool(config.mean_aggregates))
    return RecurrentGNN(
        dims,
        width=config.width,
        iterations_per_depth=float(config.iterations_per_depth),
        extra_iterations=int(config.extra_iterations),
        max_iterations=int(config.max_iterations),
        mean_aggregates=bool(config.mean_aggregates),
    )


def apply_batch(network: nn.Module, params, obs: Observation) -> tuple[jax.Array, jax.Array]:
    """(logits float32[B, A], values float32[B]) for a batch of observations.

    Networks with `flat=True` take the whole batch at once; the others are vmapped over it.
    """
    if getattr(network, "flat", False):
        return network.apply(params, obs)
    return jax.vmap(network.apply, in_axes=(None, 0))(params, obs)


def param_count(params) -> int:
    """Total number of scalar parameters in a pytree (arrays or `jax.ShapeDtypeStruct`s)."""
    return int(sum(math.prod(np.shape(x)) for x in jax.tree.leaves(params)))


def serial_depth(config: NetworkConfig, env, obs: Observation) -> jax.Array:
    """int32[]: sequentially dependent Dense layers per decision (module docstring's rule)."""
    validate(config)
    if config.family == "mlp":
        return jnp.int32(1 + config.depth + 1)
    if config.family == "gnn":
        return jnp.int32(1 + LAYERS_PER_BLOCK * config.depth + 1)
    t = num_iterations(config, env, obs)
    return (1 + LAYERS_PER_BLOCK * t + 1).astype(jnp.int32)
