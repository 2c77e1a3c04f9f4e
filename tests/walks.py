"""Test helper: states reached by short random walks (fresh, mid-episode, after DO1's choice, terminated)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from do1rl.agents.baselines import random_policy


def random_walk_states(env, params, keys):
    """One state per key, after 0..6 random legal actions (key i walks i % 7 steps)."""

    def walk(key, steps):
        obs, state = env.reset(key, params)

        def body(i, c):
            obs, state = c
            act = random_policy(jax.random.fold_in(key, i), obs, state)
            new = env.step(key, state, act, params)[:2]
            return jax.tree.map(lambda a, b: jnp.where(i < steps, a, b), new, (obs, state))

        return jax.lax.fori_loop(0, 6, body, (obs, state))[1]

    return jax.vmap(walk)(keys, jnp.arange(keys.shape[0]) % 7)
