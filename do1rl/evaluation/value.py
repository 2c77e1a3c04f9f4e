"""How well a value function approximates V* on the states a policy visits (Theorem G.2(a))."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from do1rl.envs.types import Observation
from do1rl.evaluation.play import Policy, episode_keys

ValueFn = Callable[[Observation], jax.Array]


class ValueStats(NamedTuple):
    """Running value-function statistics of one episode (scalars)."""

    positive_states: jax.Array
    min_ratio: jax.Array
    max_ratio: jax.Array
    zero_states: jax.Array
    zero_max_abs: jax.Array
    zero_sum_abs: jax.Array


def _value_episode(env, params, policy: Policy, value_fn: ValueFn, key: jax.Array) -> ValueStats:
    reset_key, key = jax.random.split(key)
    obs, state = env.reset(reset_key, params)
    inf = jnp.float32(jnp.inf)
    stats0 = ValueStats(jnp.int32(0), inf, -inf, jnp.int32(0), jnp.float32(0), jnp.float32(0))

    def body(carry):
        key, obs, state, s = carry
        v = jnp.asarray(value_fn(obs), jnp.float32)
        v_star = env.optimal_value(state).astype(jnp.float32)
        pos = v_star > 0
        ratio = v / jnp.maximum(v_star, 1.0)
        s = ValueStats(
            s.positive_states + pos,
            jnp.where(pos, jnp.minimum(s.min_ratio, ratio), s.min_ratio),
            jnp.where(pos, jnp.maximum(s.max_ratio, ratio), s.max_ratio),
            s.zero_states + ~pos,
            jnp.where(pos, s.zero_max_abs, jnp.maximum(s.zero_max_abs, jnp.abs(v))),
            s.zero_sum_abs + jnp.where(pos, 0.0, jnp.abs(v)),
        )
        key, act_key, step_key = jax.random.split(key, 3)
        obs, state, *_ = env.step(step_key, state, policy(act_key, obs, state), params)
        return key, obs, state, s

    *_, stats = jax.lax.while_loop(lambda c: ~c[2].terminated, body, (key, obs, state, stats0))
    return stats


def value_report(env, params, value_fn: ValueFn, policy: Policy, *, episodes: int, seed: int = 0) -> dict:
    """How well V approximates V* on the states `policy` visits (Theorem G.2(a)).

    Over visited decision states with V*(s) > 0 it reports the smallest and
    largest V(s) / V*(s); states with V*(s) = 0 are reported apart, by |V(s)|.
    """
    run = jax.jit(jax.vmap(lambda k: _value_episode(env, params, policy, value_fn, k)))
    s = jax.tree.map(np.asarray, run(episode_keys(seed, 0, episodes)))
    positive = int(s.positive_states.sum())
    zero = int(s.zero_states.sum())
    return {
        "episodes": episodes,
        "states": positive + zero,
        "positive_states": positive,
        "min_value_ratio": float(s.min_ratio.min()) if positive else None,
        "max_value_ratio": float(s.max_ratio.max()) if positive else None,
        "zero_states": zero,
        "zero_state_max_abs_value": float(s.zero_max_abs.max()) if zero else None,
        "zero_state_mean_abs_value": float(s.zero_sum_abs.sum() / zero) if zero else None,
    }
