"""Baseline policies: random, oracle (the solver's optimal policy), greedy and two constant policies.

The constant policies (`always_chain`, `always_circuit`) make DO1's forced
choice the same way on every instance, whatever the circuit looks like; they
are the trivial policies a learned agent must beat before its ratio says
anything (issue 21).

A policy is a function `policy(key, obs, state) -> action` for ONE episode;
evaluators vmap it. Actions follow the environments' numbering: `0..N-1`
select a node, `N` is the no-op and `N + 1` is STOP (when enabled).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from do1rl.envs.types import CHAIN, MAIN, EnvState, Observation, Policy


def _finish_action(mask: jax.Array, num_nodes: int, fallback: jax.Array) -> jax.Array:
    """STOP if allowed, else no-op if allowed, else `fallback` (a forced choice)."""
    can_stop = mask.shape[-1] > num_nodes + 1 and mask[-1]
    return jnp.where(can_stop, mask.shape[-1] - 1, jnp.where(mask[num_nodes], num_nodes, fallback))


def random_policy(key: jax.Array, obs: Observation, state: object) -> jax.Array:
    """Uniform over the actions the mask allows (one random draw per call)."""
    del state
    mask = obs.action_mask
    rank = jax.random.randint(key, (), 0, jnp.maximum(jnp.sum(mask), 1))
    return jnp.argmax(jnp.cumsum(mask) > rank).astype(jnp.int32)


def oracle_policy(key: jax.Array, obs: Observation, state: EnvState) -> jax.Array:
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


def greedy_policy(key: jax.Array, obs: Observation, state: object) -> jax.Array:
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


def _always(circuit: int, name: str) -> Policy:
    """The policy that selects the deepest selectable gate of `circuit` once, then finishes like greedy."""

    def policy(key: jax.Array, obs: Observation, state: object) -> jax.Array:
        del key, state
        mask = obs.action_mask
        n = obs.node_type.shape[-1]
        gate_mask = mask[:n]
        own = gate_mask & (obs.circuit_id == circuit)
        pool = jnp.where(jnp.any(own), own, gate_mask)  # no gate of `circuit` selectable: greedy's pool
        deepest = jnp.argmax(jnp.where(pool, obs.depth, -1))
        nothing_chosen = ~jnp.any(obs.selected.astype(bool))
        pick = nothing_chosen & jnp.any(gate_mask)
        return jnp.where(pick, deepest, _finish_action(mask, n, deepest)).astype(jnp.int32)

    policy.__name__ = policy.__qualname__ = name
    return policy


always_chain_policy = _always(CHAIN, "always_chain_policy")
always_chain_policy.__doc__ = """DO1's constant policy "take the chain": selects the chain's top gate (depth k) once, then finishes.

It never looks at C, so in one-shot DO1 its return is k on every episode.
After its one selection it ends the episode like greedy (STOP if allowed,
else the no-op). Where no chain gate is selectable (AlternatingCircuit, which
has no chain, or a DO1 state after C was chosen) it falls back to greedy's
pick, the deepest selectable gate, so on AlternatingCircuit it is greedy.
"""

always_circuit_policy = _always(MAIN, "always_circuit_policy")
always_circuit_policy.__doc__ = """DO1's constant policy "take C": selects a deepest gate of the circuit C once, then finishes.

Its one-shot DO1 return is D times the value of that gate (the first slot
of C's top layer). After its selection it finishes like greedy; with no gate
of C selectable it falls back to greedy's pick. On AlternatingCircuit (every
gate is C's) it is greedy.
"""


BASELINES: dict[str, Policy] = {
    "random": random_policy,
    "oracle": oracle_policy,
    "greedy": greedy_policy,
    "always_chain": always_chain_policy,
    "always_circuit": always_circuit_policy,
}
"""Every baseline by its agent name (`do1rl eval --agent`, `grid.agents`)."""

TRIVIAL = ("always_chain", "always_circuit", "greedy", "random")
"""The baselines that read neither gate values nor a model: what a learned policy must beat (issue 21)."""
