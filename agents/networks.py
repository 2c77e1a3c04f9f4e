"""Actor-critic networks over the circuit observation (flax.linen): mlp, gnn, recurrent.

Every network maps ONE observation to `(logits float32[A], value float32[])`;
callers `jax.vmap` for batches (or `apply_batch`) and mask the logits. The
graph networks also take a batch [..., N] whole, as one graph. Architecture,
features, serial depth and initialisation: docs/design/networks.md.
(One module on purpose, past 450 lines: the four families share their
blocks, heads and iteration rule; what they read of an observation is in
`do1rl.agents.features`.)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from do1rl.agents.features import (
    LOCAL_FEATURES,
    Edges,
    EnvDims,
    depth_scale,
    edges,
    env_dims,
    fanin_aggregate,
    fanout_aggregate,
    flat_fanin,
    flat_features,
    graph_features,
    local_features,
)
from do1rl.core import limits
from do1rl.core.checks import OneOf, Range, check_fields, is_integer
from do1rl.envs.types import Observation

FAMILIES = ("mlp", "gnn", "recurrent", "bottleneck")
# Weight-tied families whose iteration count T follows the observation (and can be forced at test).
RECURRENT_FAMILIES = ("recurrent", "bottleneck")

LAYERS_PER_BLOCK = 2  # Dense layers in one message-passing block

_HIDDEN = nn.initializers.orthogonal(math.sqrt(2.0))
_POLICY = nn.initializers.orthogonal(0.01)
_VALUE = nn.initializers.orthogonal(1.0)
_ZEROS = nn.initializers.zeros


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """Which network and how big.

    Attributes:
      family: "mlp", "gnn", "recurrent" or "bottleneck".
      depth: mlp: Dense layers inside the residual blocks (a positive multiple
        of 4); gnn: message-passing blocks L; recurrent, bottleneck: ignored.
      width: hidden size.
      iterations_per_depth, extra_iterations, max_iterations: recurrent and
        bottleneck: T = clip(ceil(iterations_per_depth * D_obs) +
        extra_iterations, 1, max_iterations), D_obs = the deepest node in the
        observation.
      loop_iterations: recurrent and bottleneck: the compiled loop's length
        when it should exceed the rule's largest T on the env (0 = that T);
        PPO's `random_iterations` reads the policy up to it.
      mean_aggregates: gnn and recurrent: also feed each block the means
        (sum / count) over fan-in and fan-out; False drops them, a cheaper
        block (docs/design/networks.md).
      recall: recurrent: feed the embedded node input to every iteration
        (Deep Thinking's recall); the bottleneck always does.
      state_init_scale: bottleneck: the orthogonal init scale of the layer
        giving the next node state's logits; a small one (0.01) starts every
        state near uniform, away from the saturated "all 0" attractor of
        reward-only training (docs/design/curriculum.md).
    """

    family: str = "mlp"
    depth: int = 8
    width: int = 64
    iterations_per_depth: float = 1.0
    extra_iterations: int = 1
    max_iterations: int = 64
    loop_iterations: int = 0
    mean_aggregates: bool = True
    recall: bool = False
    state_init_scale: float = math.sqrt(2.0)

    RULES: ClassVar[dict] = {
        "family": OneOf(FAMILIES),
        "width": Range(1, integer=True),
        # recurrent and bottleneck only:
        "iterations_per_depth": Range(0),
        "extra_iterations": Range(0, integer=True),
        "max_iterations": Range(1, integer=True),
        "loop_iterations": Range(0, integer=True),
        "state_init_scale": Range(0, low_open=True),
    }
    NOTES: ClassVar[tuple[str, ...]] = (
        f"depth: mlp a multiple of 4 in 4..{limits.MAX_NETWORK_DEPTH}; gnn an integer in 1..{limits.MAX_NETWORK_DEPTH}; "
        "ignored by recurrent and bottleneck",
        "iterations_per_depth, extra_iterations, max_iterations, loop_iterations, recall, state_init_scale: recurrent and bottleneck only",
    )


def validate(config: NetworkConfig) -> None:
    """Raises ValueError (one line) if `config` does not describe a network."""

    recurrent_only = ("iterations_per_depth", "extra_iterations", "max_iterations", "loop_iterations", "state_init_scale")
    general = {k: r for k, r in NetworkConfig.RULES.items() if k not in recurrent_only}
    check_fields(config, general)
    top = limits.MAX_NETWORK_DEPTH
    if config.family == "mlp" and (not is_integer(config.depth) or not 4 <= config.depth <= top or config.depth % 4):
        raise ValueError(f"mlp depth must be a positive multiple of 4, at most {top}, got {limits.show(config.depth)}")
    if config.family == "gnn" and (not is_integer(config.depth) or not 1 <= config.depth <= top):
        raise ValueError(f"gnn depth (message-passing layers) must be an integer in 1..{top}, got {limits.show(config.depth)}")
    for name in ("mean_aggregates", "recall"):
        if not isinstance(getattr(config, name), bool | np.bool_):
            raise ValueError(f"{name} must be true or false, got {getattr(config, name)!r}")
    if config.family in RECURRENT_FAMILIES:
        check_fields(config, {k: NetworkConfig.RULES[k] for k in recurrent_only})


# ----- modules ----------------------------------------------------------------
def _dense(features: int, init=_HIDDEN, name: str | None = None) -> nn.Dense:
    return nn.Dense(features, kernel_init=init, bias_init=_ZEROS, name=name)


def _rows_last(rows: jax.Array, batch_shape: tuple[int, ...]) -> jax.Array:
    """[R, B * N, 2] per-row node outputs of a flat graph -> [..., R, N, 2] (batch dims first)."""
    r = rows.shape[0]
    out = rows.reshape(r, *batch_shape, -1, rows.shape[-1])
    return jnp.moveaxis(out, 0, -3)


class ResidualMLP(nn.Module):
    """The "mlp" family: a residual MLP on the flattened observation."""

    dims: EnvDims
    depth: int = 8
    width: int = 64
    node_values: bool = False

    def __call__(self, obs: Observation, iterations=None) -> tuple[jax.Array, jax.Array]:
        logits, value, _ = self.with_node_values(obs)
        return logits, value

    @nn.compact
    def with_node_values(self, obs: Observation, iterations=None, no_grad=None):
        """(logits, value, node log-probs [1, N, 2] or None): one row, from the last layer."""
        del iterations, no_grad
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
        rows = None
        if self.node_values:
            node = _dense(2 * self.dims.num_nodes, name="node_value")(h).reshape(1, self.dims.num_nodes, 2)
            rows = jax.nn.log_softmax(node)
        return logits, value, rows


class MessageBlock(nn.Module):
    """One message-passing step over the circuit's edges (both directions)."""

    width: int
    mean_aggregates: bool = True

    @nn.compact
    def __call__(self, h: jax.Array, fanin: jax.Array | Edges, recall: jax.Array | None = None) -> jax.Array:
        x = nn.LayerNorm(name="norm")(h)
        total, mean, hi, lo = fanin_aggregate(x, fanin)
        up_total, up_mean = fanout_aggregate(x, fanin)
        if self.mean_aggregates:
            parts = [x, total, mean, hi, lo, up_total, up_mean]
        else:
            parts = [x, total, hi, lo, up_total]
        if recall is not None:
            parts.append(recall)
        u = nn.swish(_dense(self.width, name="mix")(jnp.concatenate(parts, axis=-1)))
        return h + _dense(self.width, name="out")(u)


class NodeValueHead(nn.Module):
    """log P(value = 0), log P(value = 1) of every node from its embedding (the auxiliary loss's decoder)."""

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        return jax.nn.log_softmax(_dense(2, name="dense")(nn.LayerNorm(name="norm")(h)))


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
    With `node_values`, a shared decoder reads every block's output (one row
    per block) for the auxiliary loss.
    """

    dims: EnvDims
    depth: int = 4
    width: int = 64
    flat: bool = True
    mean_aggregates: bool = True
    node_values: bool = False

    def setup(self):
        self.embed = _dense(self.width)
        self.blocks = [MessageBlock(self.width, self.mean_aggregates) for _ in range(self.depth)]
        self.heads = GraphHeads(self.dims)
        if self.node_values:
            self.node_value = NodeValueHead()

    def _embeddings(self, obs: Observation) -> tuple[jax.Array, list[jax.Array]]:
        h = self.embed(graph_features(obs, self.dims))
        graph = edges(flat_fanin(obs.fanin), h.dtype)
        rows = h.reshape(-1, self.width)
        trace = []
        for block in self.blocks:
            rows = block(rows, graph)
            trace.append(rows)
        return rows.reshape(h.shape), trace

    def node_embeddings(self, obs: Observation) -> jax.Array:
        """float32[..., N, W]: node embeddings after the last block (before the heads)."""
        return self._embeddings(obs)[0]

    def __call__(self, obs: Observation, iterations=None) -> tuple[jax.Array, jax.Array]:
        return self.heads(self.node_embeddings(obs), obs.node_type)

    def with_node_values(self, obs: Observation, iterations=None, no_grad=None):
        """(logits, value, node log-probs [..., L, N, 2]): one row per block."""
        h, trace = self._embeddings(obs)
        logits, value = self.heads(h, obs.node_type)
        rows = _rows_last(jnp.stack([self.node_value(t) for t in trace]), obs.node_type.shape[:-1])
        return logits, value, rows


class _GuardedBlock(nn.Module):
    """A `MessageBlock` step that is the identity once `step >= iterations` (per node: int[N, 1]).

    Steps below `no_grad` (per node) pass no gradient back; with
    `node_values` each step also emits the decoded node values.
    """

    width: int
    mean_aggregates: bool = True
    node_values: bool = False

    @nn.compact
    def __call__(self, carry, fanin: jax.Array | Edges, iterations, no_grad, recall):
        h, step = carry
        new = MessageBlock(self.width, self.mean_aggregates, name="block")(h, fanin, recall)
        new = jnp.where(step + 1 == no_grad, jax.lax.stop_gradient(new), new)
        h = jnp.where(step < iterations, new, h)
        out = NodeValueHead(name="node_value")(h) if self.node_values else None
        return (h, step + 1), out


def _per_node(values: jax.Array, num_nodes: int) -> jax.Array:
    """int[...] per observation -> int[B * N, 1] per node of the flat graph."""
    return jnp.repeat(jnp.asarray(values, jnp.int32).reshape(-1), num_nodes)[:, None]


class RecurrentGNN(nn.Module):
    """The "recurrent" family: one weight-tied block iterated T(obs) times.

    Takes one observation or a batch [..., N]; a batch is one graph of
    B * N nodes (`flat_fanin`), so each aggregation is one gather over all
    of them. `unrolled=True` (the default) unrolls the loop over the static
    iteration count and computes the edge bookkeeping once per forward pass;
    `unrolled=False` is the earlier rolled loop that recomputes it every
    iteration (same parameters, same outputs bitwise; kept for the bench).
    `flat=True` makes `apply_batch` hand it whole batches; False vmaps it
    over observations, the earlier path. `recall=True` feeds the embedded
    input to every iteration.
    """

    dims: EnvDims
    width: int = 64
    iterations_per_depth: float = 1.0
    extra_iterations: int = 1
    max_iterations: int = 64
    loop_iterations: int = 0
    unrolled: bool = True
    flat: bool = True
    mean_aggregates: bool = True
    recall: bool = False
    node_values: bool = False

    @property
    def static_iterations(self) -> int:
        """The compiled loop's length: the most iterations any observation of this env can get."""
        rule = _static_iterations(self.iterations_per_depth, self.extra_iterations, self.max_iterations, self.dims.max_depth)
        return max(rule, self.loop_iterations)

    def setup(self):
        self.embed = _dense(self.width)
        loop = nn.scan(
            _GuardedBlock,
            variable_broadcast="params",
            split_rngs={"params": False},
            in_axes=(nn.broadcast, nn.broadcast, nn.broadcast, nn.broadcast),
            length=self.static_iterations,
            unroll=self.static_iterations if self.unrolled else 1,
        )
        self.loop = loop(self.width, self.mean_aggregates, self.node_values, name="loop")
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

    def _run(self, obs: Observation, iterations=None, no_grad=None):
        h = self.embed(graph_features(obs, self.dims))
        table = flat_fanin(obs.fanin)
        graph = edges(table, h.dtype) if self.unrolled else table
        n = self.dims.num_nodes
        steps = self.iterations(obs) if iterations is None else iterations
        frozen = jnp.zeros_like(steps) if no_grad is None else no_grad
        flat = h.reshape(-1, self.width)
        recall = flat if self.recall else None
        (rows, _), trace = self.loop((flat, jnp.int32(0)), graph, _per_node(steps, n), _per_node(frozen, n), recall)
        return rows.reshape(h.shape), trace

    def node_embeddings(self, obs: Observation, iterations=None) -> jax.Array:
        """float32[..., N, W]: node embeddings after T iterations (before the heads)."""
        return self._run(obs, iterations)[0]

    def __call__(self, obs: Observation, iterations=None) -> tuple[jax.Array, jax.Array]:
        return self.heads(self.node_embeddings(obs, iterations), obs.node_type)

    def with_node_values(self, obs: Observation, iterations=None, no_grad=None):
        """(logits, value, node log-probs [..., T_max, N, 2]): row t after t + 1 iterations."""
        h, trace = self._run(obs, iterations, no_grad)
        logits, value = self.heads(h, obs.node_type)
        return logits, value, _rows_last(trace, obs.node_type.shape[:-1])


# ----- the bottleneck recurrent net ------------------------------------------------
UNKNOWN, VALUE_0, VALUE_1 = 0, 1, 2  # the bottleneck's node states


class _BottleneckStep(nn.Module):
    """One iteration: each node's {unknown, 0, 1} distribution, re-encoded with its input and neighbours."""

    width: int
    state_init_scale: float

    @nn.compact
    def __call__(self, carry, fanin: Edges, iterations, no_grad, x):
        state, step = carry
        _, mean, hi, lo = fanin_aggregate(state, fanin)
        _, up_mean = fanout_aggregate(state, fanin)
        z = jnp.concatenate([state, x, mean, hi, lo, up_mean], axis=-1)
        u = nn.swish(_dense(self.width, name="dense0")(z))
        u = nn.swish(_dense(self.width, name="dense1")(u))
        init = nn.initializers.orthogonal(self.state_init_scale)
        logp = jax.nn.log_softmax(_dense(3, init, name="logits")(u))
        new = jnp.exp(logp)
        new = jnp.where(step + 1 == no_grad, jax.lax.stop_gradient(new), new)
        live = step < iterations
        state = jnp.where(live, new, state)
        return (state, step + 1), jnp.log(jnp.maximum(state[:, VALUE_0:], 1e-30))


class BottleneckRecurrent(nn.Module):
    """The "bottleneck" family: a weight-tied recurrence on decoded node states.

    Every node holds a distribution over {unknown, 0, 1}, starting at
    "unknown"; each of T(obs) iterations re-encodes it with the node's own
    input (recall) and the min, max and mean of its fan-in's states and the
    mean of its fan-out's, and a small MLP gives the next distribution. Gate
    i's logit is beta * depth_i * P_i(1), the expected reward of selecting it
    (raw depth, so it reads the same at any size). Nothing in it depends on
    the circuit's size, so a net trained on small circuits runs on any.
    docs/design/networks.md.
    """

    dims: EnvDims
    width: int = 32
    iterations_per_depth: float = 1.0
    extra_iterations: int = 1
    max_iterations: int = 64
    loop_iterations: int = 0
    state_init_scale: float = math.sqrt(2.0)  # the orthogonal init scale of the state logits
    flat: bool = True
    node_values: bool = True  # the node states are its decoded values
    unroll: int = 1  # iterations per step of the compiled loop (lax.scan's unroll)

    @property
    def static_iterations(self) -> int:
        """The compiled loop's length: the most iterations any observation of this env can get."""
        rule = _static_iterations(self.iterations_per_depth, self.extra_iterations, self.max_iterations, self.dims.max_depth)
        return max(rule, self.loop_iterations)

    def setup(self):
        loop = nn.scan(
            _BottleneckStep,
            variable_broadcast="params",
            split_rngs={"params": False},
            in_axes=(nn.broadcast, nn.broadcast, nn.broadcast, nn.broadcast),
            length=self.static_iterations,
            unroll=self.unroll,
        )
        self.loop = loop(self.width, self.state_init_scale, name="loop")
        self.log_beta = self.param("log_beta", nn.initializers.zeros, ())
        self.other_logits = _dense(self.dims.num_actions - self.dims.num_nodes, _POLICY)
        self.value_head = _dense(1, _VALUE)

    def iterations(self, obs: Observation) -> jax.Array:
        """int32[...]: T for each observation."""
        return _iterations(self.iterations_per_depth, self.extra_iterations, self.max_iterations, self.dims.max_depth, obs.depth)

    def node_states(self, obs: Observation, iterations=None, no_grad=None) -> tuple[jax.Array, jax.Array]:
        """(states float32[..., N, 3] after T iterations, log P(0), log P(1) per iteration [T_max, B * N, 2])."""
        x = local_features(obs, self.dims).reshape(-1, LOCAL_FEATURES)
        graph = edges(flat_fanin(obs.fanin), x.dtype)
        n = self.dims.num_nodes
        steps = self.iterations(obs) if iterations is None else iterations
        frozen = jnp.zeros_like(steps) if no_grad is None else no_grad
        start = jnp.zeros((x.shape[0], 3), x.dtype).at[:, UNKNOWN].set(1.0)
        (state, _), trace = self.loop((start, jnp.int32(0)), graph, _per_node(steps, n), _per_node(frozen, n), x)
        return state.reshape(*obs.node_type.shape, 3), trace

    def _heads(self, obs: Observation, state: jax.Array) -> tuple[jax.Array, jax.Array]:
        p_one = state[..., VALUE_1]
        depth = obs.depth.astype(jnp.float32)
        gate_logits = jnp.exp(self.log_beta) * depth * p_one
        real = (obs.node_type != 0)[..., None]
        count = jnp.maximum(jnp.sum(real, axis=-2), 1).astype(state.dtype)
        mean = jnp.sum(jnp.where(real, state, 0.0), axis=-2) / count
        best = jnp.max(jnp.where(real[..., 0], depth * p_one, 0.0), axis=-1, keepdims=True) / depth_scale(self.dims)
        pooled = jnp.concatenate([mean, best], axis=-1)
        value = self.value_head(pooled)[..., 0]
        return jnp.concatenate([gate_logits, self.other_logits(pooled)], axis=-1), value

    def __call__(self, obs: Observation, iterations=None) -> tuple[jax.Array, jax.Array]:
        return self._heads(obs, self.node_states(obs, iterations)[0])

    def with_node_values(self, obs: Observation, iterations=None, no_grad=None):
        """(logits, value, node log-probs [..., T_max, N, 2]): row t after t + 1 iterations."""
        state, trace = self.node_states(obs, iterations, no_grad)
        logits, value = self._heads(obs, state)
        return logits, value, _rows_last(trace, obs.node_type.shape[:-1])


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
    """int32[]: a recurrent family's T for this observation.

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
def make_network(config: NetworkConfig, env, node_values: bool = False, scales_of=None) -> nn.Module:
    """The actor-critic module for `config` on `env`.

    `module.init(key, obs)` / `module.apply(params, obs)` ->
    (logits float32[A], value float32[]) for ONE observation (or a batch,
    for `flat` graph nets). `node_values=True` adds the decoder the
    auxiliary value loss reads (`module.apply(..., method="with_node_values")`;
    the bottleneck always has it). `scales_of`: the training env, when a
    graph net trained there is built for a larger `env` (`env_dims`).
    """
    validate(config)
    dims = env_dims(env, scales_of)
    if config.family == "mlp":
        return ResidualMLP(dims, depth=config.depth, width=config.width, node_values=node_values)
    if config.family == "gnn":
        return GNN(dims, depth=config.depth, width=config.width, mean_aggregates=bool(config.mean_aggregates), node_values=node_values)
    iterations: dict[str, Any] = {
        "iterations_per_depth": float(config.iterations_per_depth),
        "extra_iterations": int(config.extra_iterations),
        "max_iterations": int(config.max_iterations),
        "loop_iterations": int(config.loop_iterations),
    }
    if config.family == "bottleneck":
        return BottleneckRecurrent(dims, width=config.width, state_init_scale=float(config.state_init_scale), **iterations)
    return RecurrentGNN(
        dims,
        width=config.width,
        mean_aggregates=bool(config.mean_aggregates),
        recall=bool(config.recall),
        node_values=node_values,
        **iterations,
    )


def rule_iterations(network: nn.Module, obs: Observation) -> jax.Array:
    """int32[...]: a recurrent module's T(obs) (its rule, without calling the module)."""
    return _iterations(network.iterations_per_depth, network.extra_iterations, network.max_iterations, network.dims.max_depth, obs.depth)


def apply_batch(network: nn.Module, params, obs: Observation, iterations=None, *, method=None, **kwargs):
    """(logits float32[B, A], values float32[B]) for a batch of observations.

    Networks with `flat=True` take the whole batch at once; the others are
    vmapped over it. `iterations` int[B] forces a recurrent net's T per
    observation; `method="with_node_values"` also returns the decoded node
    values [B, R, N, 2].
    """
    if getattr(network, "flat", False):
        return network.apply(params, obs, iterations, method=method, **kwargs)
    return jax.vmap(lambda o, t, kw: network.apply(params, o, t, method=method, **kw))(obs, iterations, kwargs)


def param_count(params) -> int:
    """Total number of scalar parameters in a pytree (arrays or `jax.ShapeDtypeStruct`s)."""
    return int(sum(math.prod(np.shape(x)) for x in jax.tree.leaves(params)))


# Dense layers per iteration of the bottleneck's update (its heads are elementwise or off the decision path).
BOTTLENECK_LAYERS = 3


def serial_depth(config: NetworkConfig, env, obs: Observation) -> jax.Array:
    """int32[]: sequentially dependent Dense layers per decision (docs/design/networks.md)."""
    validate(config)
    if config.family == "mlp":
        return jnp.int32(1 + config.depth + 1)
    if config.family == "gnn":
        return jnp.int32(1 + LAYERS_PER_BLOCK * config.depth + 1)
    t = num_iterations(config, env, obs)
    if config.family == "bottleneck":
        return (BOTTLENECK_LAYERS * t).astype(jnp.int32)
    return (1 + LAYERS_PER_BLOCK * t + 1).astype(jnp.int32)
