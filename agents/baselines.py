"""Baseline policies: random, oracle (the solver's optimal policy) and greedy.

A policy is a function `policy(key, obs, state) -> action` for ONE episode;
evaluators vmap it. Actions follow the environments' numbering: `0..N-1`
select a node, `N` is the no-op and `N + 1` is STOP (when enabled).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Policy = Callable[[jax.Array, dict, object], jax.Array]


def _finish_action(mask: jax.Array, num_nodes: int, fallback: jax.Array) -> jax.Array:
    """STOP if allowed, else no-op if allowed, else `fallback` (a forced choice)."""
    can_stop = mask.shape[-1] > num_nodes + 1 and mask[-1]
    return jnp.where(can_stop, mask.shape[-1] - 1, jnp.where(mask[num_nodes], num_nodes, fallback))


def random_policy(key: jax.Array, obs: dict, state: object) -> jax.Array:
    """Uniform over the actions the mask allows (one random draw per call)."""
    del state
    mask = obs.action_mask
    rank = jax.random.randint(key, (), 0, jnp.maximum(jnp.sum(mask), 1))
    return jnp.argmax(jnp.cumsum(mask) > rank).astype(jnp.int32)


def oracle_policy(key: jax.Array, obs: dict, state) -> jax.Array:
    """The solver's optimal policy: zero regret from any state.

    Selects the deepest selectable gate that outputs 1 when it beats every
    chosen gate, and otherwise ends the episode (STOP) or waits (no-op).
    It reads the hidden gate values in `state.value`, which is what makes it
    an oracle rather than an agent.
    """
    del key
    mask = obs.action_mask
    n = obs.node_type.shape[-1]
    gate_mask = mask[:n]
    depth = obs.depth
    candidates = gate_mask & state.value
    best = jnp.argmax(jnp.where(candidates, depth, -1))
    chosen_best = jnp.max(jnp.where(state.selected, depth, 0))
    improves = jnp.any(candidates) & (depth[best] > chosen_best)
    any_gate = jnp.argmax(gate_mask)
    return jnp.where(improves, best, _finish_action(mask, n, any_gate)).astype(jnp.int32)


def greedy_policy(key: jax.Array, obs: dict, state: object) -> jax.Array:
    """Selects the deepest selectable gate once, ignoring values, then waits.

    It uses only what the agent observes, so it is a parallel (fixed-depth)
    rule: it succeeds exactly when the deepest gate it can see outputs 1.
    """
    del key, state
    mask = obs.action_mask
    n = obs.node_type.shape[-1]
    gate_mask = mask[:n]
    deepest = jnp.argmax(jnp.where(gate_mask, obs.depth, -1))
    nothing_chosen = ~jnp.any(obs.selected.astype(bool))
    pick = nothing_chosen & jnp.any(gate_mask)
    return jnp.where(pick, deepest, _finish_action(mask, n, deepest)).astype(jnp.int32)


BASELINES: dict[str, Policy] = {
    "random": random_policy,
    "oracle": oracle_policy,
    "greedy": greedy_policy,
}
