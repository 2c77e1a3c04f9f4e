"""Functional wrappers for training loops (jit / vmap / lax.scan friendly)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from do1rl.envs.types import EnvParams, EnvState, Observation


class AutoReset:
    """Resets an episode in the same `step` call that terminates it.

    `step` returns the first observation and state of a fresh episode (drawn
    with a key split from `key`) whenever the wrapped step terminated, while
    `reward`, `terminated`, `truncated` and `info` are those of the finished
    transition; `info["final_obs"]` is the terminal observation (unchanged
    where the episode goes on). Everything else is forwarded to the wrapped
    environment. Use it inside `lax.scan`:

        env = AutoReset(DO1())
        obs, state = env.reset(key, params)
        obs, state, reward, done, _, info = env.step(key, state, action, params)
    """

    def __init__(self, env: Any):
        self.env = env

    def __getattr__(self, name: str) -> Any:
        if name == "env":  # not set yet (e.g. during copy): avoid recursing
            raise AttributeError(name)
        return getattr(self.env, name)

    def __repr__(self) -> str:
        return f"AutoReset({self.env!r})"

    def reset(self, key: jax.Array, params: EnvParams | None = None) -> tuple[Observation, EnvState]:
        return self.env.reset(key, params)

    def step(
        self,
        key: jax.Array,
        state: EnvState,
        action: jax.Array | int,
        params: EnvParams | None = None,
    ) -> tuple[Observation, EnvState, jax.Array, jax.Array, jax.Array, dict[str, jax.Array]]:
        key_step, key_reset = jax.random.split(key)
        obs, next_state, reward, terminated, truncated, info = self.env.step(
            key_step, state, action, params
        )
        reset_obs, reset_state = self.env.reset(key_reset, params)
        done = terminated | truncated
        pick = lambda fresh, cont: jnp.where(done, fresh, cont)
        info = dict(info, final_obs=obs)
        return (
            jax.tree.map(pick, reset_obs, obs),
            jax.tree.map(pick, reset_state, next_state),
            reward,
            terminated,
            truncated,
            info,
        )
