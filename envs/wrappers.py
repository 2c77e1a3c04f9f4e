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

    `step_batch` steps a batch of envs (leading axis E) with the same
    results as `vmap(step)`, bitwise; with `partial=True` (the default) it
    resets only the envs whose episode ended, `reset_chunk` at a time, where
    `vmap(step)` computes a reset for every env on every step.
    """

    def __init__(self, env: Any, partial: bool = True, reset_chunk: int | None = None):
        self.env = env
        self.partial = bool(partial)
        if reset_chunk is not None and int(reset_chunk) < 1:
            raise ValueError(f"reset_chunk must be None or >= 1, got {reset_chunk}")
        self.reset_chunk = None if reset_chunk is None else int(reset_chunk)

    def __getattr__(self, name: str) -> Any:
        if name == "env":  # not set yet (e.g. during copy): avoid recursing
            raise AttributeError(name)
        return getattr(self.env, name)

    def __repr__(self) -> str:
        return f"AutoReset({self.env!r}, partial={self.partial})"

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

    def step_batch(
        self,
        keys: jax.Array,
        states: EnvState,
        actions: jax.Array,
        params: EnvParams | None = None,
    ) -> tuple[Observation, EnvState, jax.Array, jax.Array, jax.Array, dict[str, jax.Array]]:
        """`vmap(step)` over envs (keys [E], states [E], actions [E]); resets only the finished ones.

        Env i's reset key is split from `keys[i]` as in `step`, so the results
        are bitwise those of `vmap(step)`. The finished envs are reset in a
        loop of `reset_chunk` at a time (default E // 16, at least 1): the
        indices come from `jnp.nonzero(size=reset_chunk)`, and the loop runs
        no iteration when no episode ended. A loop rather than a `lax.switch`
        over sizes: under `vmap` (PPO runs seeds vmapped) a switch runs every
        branch, while the loop runs as many chunks as the busiest lane needs.
        """
        if not self.partial:
            return jax.vmap(self.step, in_axes=(0, 0, 0, None))(keys, states, actions, params)
        split = jax.vmap(jax.random.split)(keys)
        obs, next_states, reward, terminated, truncated, info = jax.vmap(self.env.step, in_axes=(0, 0, 0, None))(
            split[:, 0], states, actions, params
        )
        done = terminated | truncated
        info = dict(info, final_obs=obs)
        obs, next_states = self._reset_where(done, split[:, 1], obs, next_states, params)
        return obs, next_states, reward, terminated, truncated, info

    def _reset_where(self, done, reset_keys, obs, states, params):
        """(obs, states) with env i replaced by `reset(reset_keys[i])` wherever `done[i]`."""
        num_envs = done.shape[0]
        chunk = min(self.reset_chunk or max(1, num_envs // 16), num_envs)
        reset = jax.vmap(self.env.reset, in_axes=(0, None))

        def body(carry):
            pending, obs, states = carry
            (index,) = jnp.nonzero(pending, size=chunk, fill_value=num_envs)  # padding rows are dropped
            fresh_obs, fresh_states = reset(reset_keys[jnp.minimum(index, num_envs - 1)], params)
            put = lambda old, new: old.at[index].set(new, mode="drop")
            return (
                pending.at[index].set(False, mode="drop"),
                jax.tree.map(put, obs, fresh_obs),
                jax.tree.map(put, states, fresh_states),
            )

        _, obs, states = jax.lax.while_loop(lambda carry: jnp.any(carry[0]), body, (done, obs, states))
        return obs, states
