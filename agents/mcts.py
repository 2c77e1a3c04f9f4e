"""MCTS with the true environment as its model, on mctx (Gumbel MuZero or MuZero PUCT).

    policy = make_mcts_policy(env, params, MCTSConfig(simulations=64, gumbel_scale=0.0))

A tree node is an `EnvState`; expanding an edge is one `env.step`. Leaf
values, the Q floor, masking and serial depth: docs/design/mcts.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import mctx

from do1rl.agents import search as fast_search
from do1rl.agents.masking import masked_logits
from do1rl.core.solver import terminal_reward
from do1rl.envs.types import EnvState, Observation

PriorFn = Callable[[Observation], tuple[jax.Array, jax.Array]]
SerialDepthFn = Callable[[Observation], jax.Array]

ALGORITHMS = ("gumbel", "muzero")
LEAF_VALUES = ("max", "finish", "prior")


@dataclasses.dataclass(frozen=True)
class MCTSConfig:
    """Search settings (all static: each distinct config compiles once).

    Attributes:
      simulations: simulations per decision (>= 1); the tree has this many
        nodes plus the root.
      algorithm: "gumbel" (`mctx.gumbel_muzero_policy`, default) or "muzero"
        (`mctx.muzero_policy`, PUCT).
      max_considered: gumbel only: actions sampled at the root for sequential
        halving; None = every action (then every legal root action is
        considered). Values above the action count are clipped to it.
      gumbel_scale: gumbel only: scale of the root Gumbel noise (0 for
        evaluation; see the module docstring).
      max_depth: tree depth cap in edges from the root; None = the env's
        `max_horizon`, deep enough to reach termination from any state.
      leaf_value: "max" (default), "finish" or "prior"; see the module
        docstring.
      pb_c_init: muzero only: PUCT exploration constant c1.
      dirichlet_fraction: muzero only: weight of Dirichlet noise on the root
        prior (0 = none, the evaluation setting; MuZero self-play uses 0.25).
      temperature: muzero only: act with visit_counts ** (1 / temperature);
        0 = the most-visited action.
      tie_break: scale of the uniform noise added to every node's prior
        logits to break ties at random (0 = by action index).
      q_floor: read a visited child's value as at least its own leaf value
        (see the module docstring).
    """

    simulations: int = 64
    algorithm: str = "gumbel"
    max_considered: int | None = None
    gumbel_scale: float = 1.0
    max_depth: int | None = None
    leaf_value: str = "max"
    pb_c_init: float = 1.25
    dirichlet_fraction: float = 0.0
    temperature: float = 0.0
    tie_break: float = 1e-4
    q_floor: bool = True

    def __post_init__(self):
        from do1rl.core import limits

        limits.check_int(self.simulations, "simulations", 1, limits.MAX_SIMULATIONS)
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown MCTS algorithm {limits.show(self.algorithm)}; choose from {', '.join(ALGORITHMS)}")
        if self.max_considered is not None:
            limits.check_int(self.max_considered, "max_considered (or None)", 1, limits.MAX_SIMULATIONS)
        if self.max_depth is not None:
            limits.check_int(self.max_depth, "max_depth (or None)", 1, limits.MAX_NODES)
        if self.leaf_value not in LEAF_VALUES:
            raise ValueError(f"unknown leaf_value {limits.show(self.leaf_value)}; choose from {', '.join(LEAF_VALUES)}")
        for name in ("gumbel_scale", "pb_c_init", "temperature", "tie_break"):
            limits.check_float(getattr(self, name), name, 0.0)
        limits.check_float(self.dirichlet_fraction, "dirichlet_fraction", 0.0, 1.0)
        if not isinstance(self.q_floor, bool):
            raise ValueError(f"q_floor must be true or false, got {limits.show(self.q_floor)}")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def serial_depth_per_decision(config: MCTSConfig, prior_serial_depth: Any = 0) -> Any:
    """Serial depth of one MCTS decision: `L + simulations * (1 + L)`.

    `prior_serial_depth` is L, the prior network's serial depth (0 for the
    uniform prior); an int gives an int, a JAX array a JAX array. The env
    step is counted as 1 layer. See the module docstring.
    """
    depth = prior_serial_depth
    return depth + config.simulations * (1 + depth)


def floor_qtransform(qtransform):
    """Wraps an mctx qtransform: a visited child's value counts as at least its leaf value.

    mctx stores each child's mean backed-up value; the wrapper hands the
    qtransform `max(mean, raw leaf value)` for visited children of the node
    (through a one-node view of the tree, so nothing else is copied).
    """

    def floored(tree: mctx.Tree, node_index: jax.Array) -> jax.Array:
        children = tree.children_index[node_index]
        visited = tree.children_visits[node_index] > 0
        values = tree.children_values[node_index]
        leaf = tree.raw_values[jnp.maximum(children, 0)]
        values = jnp.where(visited, jnp.maximum(values, leaf), values)
        # A one-node view of the tree: the rows the qtransform reads, with floored values.
        row = lambda x: x[node_index][None]
        view = tree.replace(
            children_values=values[None],
            children_index=row(tree.children_index),
            children_visits=row(tree.children_visits),
            children_rewards=row(tree.children_rewards),
            children_discounts=row(tree.children_discounts),
            children_prior_logits=row(tree.children_prior_logits),
            raw_values=row(tree.raw_values),
            node_values=row(tree.node_values),
            node_visits=row(tree.node_visits),
        )
        return qtransform(view, jnp.int32(0))

    return floored


def uniform_prior(num_actions: int) -> PriorFn:
    """The default prior: zero logits (uniform) and value 0."""

    def prior(obs: Observation) -> tuple[jax.Array, jax.Array]:
        del obs
        return jnp.zeros((num_actions,), jnp.float32), jnp.float32(0)

    return prior


def mask_logits(logits: jax.Array, mask: jax.Array) -> jax.Array:
    """Legal logits shifted so their max is 0; illegal ones `MASKED_LOGIT`."""
    logits = jnp.asarray(logits, jnp.float32)
    top = jnp.max(jnp.where(mask, logits, -jnp.inf), axis=-1, keepdims=True)
    top = jnp.where(jnp.isfinite(top), top, 0.0)
    return masked_logits(logits - top, mask)


class SearchNode(NamedTuple):
    """What a search tree node holds: the part of `EnvState` that `env.step` changes."""

    selected: jax.Array
    chosen: jax.Array
    steps_left: jax.Array
    terminated: jax.Array


def search_node(state) -> SearchNode:
    """The `SearchNode` of a state (any batch shape)."""
    return SearchNode(*(getattr(state, name) for name in SearchNode._fields))


def merge_node(episode, node: SearchNode):
    """The full state: `episode`'s per-episode data with `node`'s changing part."""
    return episode.replace(**node._asdict())


def finish_value(state) -> jax.Array:
    """float32[]: the return of ending the episode now (0 once terminated)."""
    reward = terminal_reward(state.selected, state.value, state.depth)
    return jnp.where(state.terminated, 0, reward).astype(jnp.float32)


class MCTSPolicy:
    """MCTS with the env as its model.

    `policy(key, obs, state) -> int32[]` acts in ONE episode (the evaluator's
    signature; it runs a batch-1 search, and vmapping it over episodes
    batches the searches). `policy.search(key, states)` runs the batched
    search on states with a leading batch axis and returns mctx's
    `PolicyOutput` (action, action_weights, search_tree).
    """

    def __init__(
        self,
        env,
        env_params,
        config: MCTSConfig,
        prior_fn: PriorFn | None = None,
        prior_serial_depth: SerialDepthFn | None = None,
        prior_value_scale: float = 1.0,
    ):
        self.env = env
        self.env_params = env.default_params if env_params is None else env_params
        self.config = config
        self.prior_fn = uniform_prior(env.num_actions) if prior_fn is None else prior_fn
        self.prior_serial_depth = prior_serial_depth
        self.prior_value_scale = float(prior_value_scale)
        self.max_depth = int(config.max_depth or env.max_horizon)
        considered = env.num_actions if config.max_considered is None else config.max_considered
        self.max_considered = int(min(considered, env.num_actions))

    # ----- the model -------------------------------------------------------------
    def _evaluate(self, key, obs: Observation, states) -> tuple[jax.Array, jax.Array]:
        """Masked prior logits [B, A] and leaf values [B] of a batch of nodes."""
        logits, value = jax.vmap(self.prior_fn)(obs)
        if self.config.tie_break:
            logits = logits + self.config.tie_break * jax.random.uniform(key, logits.shape)
        logits = mask_logits(logits, obs.action_mask)
        value = self.prior_value_scale * jnp.asarray(value, jnp.float32).reshape(logits.shape[:1])
        if self.config.leaf_value != "prior":
            finish = jax.vmap(finish_value)(states)
            value = finish if self.config.leaf_value == "finish" else jnp.maximum(value, finish)
        return logits, jnp.where(states.terminated, 0.0, value)

    def _recurrent_fn(self, env_params, key, action, states):
        """mctx's recurrent function on full `EnvState` embeddings (the `search_mctx` path)."""
        step = jax.vmap(self.env.step, in_axes=(None, 0, 0, None))
        obs, states, reward, terminated, _, _ = step(key, states, action, env_params)
        return self._model_output(key, obs, states, reward, terminated), states

    def _node_recurrent_fn(self, params, key, action, nodes: SearchNode):
        """The recurrent function of `search`: the per-episode data comes in `params`, the node holds the rest."""
        env_params, episodes = params
        state = merge_node(episodes, nodes)
        step = jax.vmap(self.env.step, in_axes=(None, 0, 0, None))
        obs, state, reward, terminated, _, _ = step(key, state, action, env_params)
        return self._model_output(key, obs, state, reward, terminated), search_node(state)

    def _model_output(self, key, obs, states, reward, terminated) -> mctx.RecurrentFnOutput:
        logits, value = self._evaluate(key, obs, states)
        return mctx.RecurrentFnOutput(
            reward=reward.astype(jnp.float32),
            discount=jnp.where(terminated, 0.0, 1.0).astype(jnp.float32),
            prior_logits=logits,
            value=value,
        )

    # ----- search ----------------------------------------------------------------
    def search(self, key: jax.Array, states) -> mctx.PolicyOutput:
        """Batched search from `states` (EnvState with a leading batch axis B).

        Runs `do1rl.agents.search` (linear in simulations); its tree equals
        `search_mctx`'s bitwise except that each node's embedding is a
        `SearchNode` (`node_states` rebuilds the full states).
        """
        params = (self.env_params, states)
        return self._run(key, states, params, self._node_recurrent_fn, search_node(states), fast=True)

    def search_mctx(self, key: jax.Array, states) -> mctx.PolicyOutput:
        """The same search on `mctx`'s own policies with full `EnvState` embeddings (the reference path)."""
        return self._run(key, states, self.env_params, self._recurrent_fn, states, fast=False)

    def _run(self, key, states, params, recurrent_fn, embedding, fast: bool) -> mctx.PolicyOutput:
        cfg = self.config
        obs = jax.vmap(self.env.get_obs)(states)
        key, root_key = jax.random.split(key)
        logits, value = self._evaluate(root_key, obs, states)
        root = mctx.RootFnOutput(prior_logits=logits, value=value, embedding=embedding)
        common = {
            "params": params,
            "rng_key": key,
            "root": root,
            "recurrent_fn": recurrent_fn,
            "num_simulations": cfg.simulations,
            "invalid_actions": ~obs.action_mask,
            "max_depth": self.max_depth,
        }
        if cfg.algorithm == "gumbel":
            qtransform = mctx.qtransform_completed_by_mix_value
            policy = fast_search.gumbel_muzero_policy if fast else mctx.gumbel_muzero_policy
            return policy(
                **common,
                max_num_considered_actions=self.max_considered,
                gumbel_scale=cfg.gumbel_scale,
                qtransform=floor_qtransform(qtransform) if cfg.q_floor else qtransform,
            )
        qtransform = mctx.qtransform_by_parent_and_siblings
        policy = fast_search.muzero_policy if fast else mctx.muzero_policy
        return policy(
            **common,
            qtransform=floor_qtransform(qtransform) if cfg.q_floor else qtransform,
            pb_c_init=cfg.pb_c_init,
            dirichlet_fraction=float(cfg.dirichlet_fraction),
            temperature=cfg.temperature,
        )

    def node_states(self, tree: mctx.Tree, states):
        """The full `EnvState` of every node of a `search` tree ([B, nodes, ...]), from the root `states` [B]."""
        nodes = tree.embeddings.selected.shape[1]
        episodes = jax.tree.map(lambda x: jnp.repeat(x[:, None], nodes, axis=1), states)
        return merge_node(episodes, tree.embeddings)

    def __call__(self, key: jax.Array, obs: Observation, state: EnvState) -> jax.Array:
        del obs  # the state holds everything the model needs
        batch = jax.tree.map(lambda x: x[None], state)
        return self.search(key, batch).action[0].astype(jnp.int32)

    # ----- accounting ------------------------------------------------------------
    def serial_depth(self, obs: Observation) -> jax.Array:
        """int32[]: serial depth of one decision from `obs` (see the module docstring)."""
        depth = jnp.int32(0) if self.prior_serial_depth is None else self.prior_serial_depth(obs)
        return jnp.asarray(serial_depth_per_decision(self.config, jnp.asarray(depth, jnp.int32)), jnp.int32)

    def describe(self, obs: Observation | None = None) -> dict:
        """The settings and serial depth per decision, for reports (JSON-ready).

        L (the prior's serial depth) is read at `obs`, or at the first
        observation of a reset with key 0 when `obs` is None.
        """
        if self.prior_serial_depth is None:
            prior_depth = 0
        else:
            if obs is None:
                obs, _ = jax.jit(self.env.reset)(jax.random.key(0), self.env_params)
            prior_depth = int(self.prior_serial_depth(obs))
        settings = self.config.as_dict()
        settings.update(max_depth=self.max_depth, max_considered=self.max_considered)
        return {
            "mcts": settings,
            "prior_serial_depth": prior_depth,
            "prior_value_scale": self.prior_value_scale,
            "serial_depth_per_decision": int(serial_depth_per_decision(self.config, prior_depth)),
        }


def make_mcts_policy(
    env,
    env_params=None,
    config: MCTSConfig | None = None,
    prior_fn: PriorFn | None = None,
    prior_serial_depth: SerialDepthFn | None = None,
    prior_value_scale: float = 1.0,
) -> MCTSPolicy:
    """An `MCTSPolicy` (`policy(key, obs, state) -> action`) for `env`.

    Args:
      env: a functional env (`DO1`, `AlternatingCircuit`).
      env_params: its `EnvParams` (default `env.default_params`); forwarded
        to `env.step` inside the search.
      config: `MCTSConfig` (default `MCTSConfig()`).
      prior_fn: `obs -> (logits float32[A], value float32[])` for one
        observation; None = uniform logits, value 0.
      prior_serial_depth: `obs -> int32[]`, the prior network's serial depth,
        used only for `serial_depth` / `describe`; None = 0.
      prior_value_scale: multiplies the prior's values into return units
        (depths), e.g. `env.max_depth` for a critic trained on rewards scaled
        by `1 / max_depth` (PPO's `scale_rewards`).
    """
    return MCTSPolicy(env, env_params, config or MCTSConfig(), prior_fn, prior_serial_depth, prior_value_scale)
