"""Functional wrappers for training loops (jit / vmap / lax.scan friendly)."""

from __future__ import annotations

import functools
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
    resets only the envs whose episode ended, where `vmap(step)` computes a
    reset for every env on every step.
    """

    def __init__(self, env: Any, partial: bool = True):
        self.env = env
        self.partial = bool(partial)
        self._reset_where = _partial_reset(env)

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
        obs, next_state, reward, terminated, truncated, info = self.env.step(key_step, state, action, params)
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
        are bitwise those of `vmap(step)`. The finished envs' indices come
        from `jnp.nonzero(done, size=R)`, R the smallest of a few static sizes
        (E // 16, E // 4, E) that holds them all, picked by nested `lax.cond`s
        (no reset at all when no episode ended). Under `vmap` (PPO runs seeds
        vmapped) a cond would run every branch, so the batched rule flattens
        the vmapped axis into the env axis and picks once for all of them.
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


def _reset_sizes(num_envs: int) -> tuple[int, ...]:
    """The static reset batch sizes of `step_batch` for E envs: E // 16, E // 4 and E (at least 1, distinct)."""
    return tuple(sorted({max(1, num_envs // 16), max(1, num_envs // 4), num_envs}))


def _partial_reset(env: Any):
    """`reset_where(done, reset_keys, obs, states, params) -> (obs, states)` with env i reset where done[i]."""

    def reset_where(done, reset_keys, obs, states, params):
        num_envs = done.shape[0]
        sizes = _reset_sizes(num_envs)

        def reset_some(size):
            def run(operands):
                obs, states = operands
                (index,) = jnp.nonzero(done, size=size, fill_value=num_envs)  # padding rows are dropped
                fresh = jax.vmap(env.reset, in_axes=(0, None))(reset_keys[jnp.minimum(index, num_envs - 1)], params)
                put = lambda old, new: old.at[index].set(new, mode="drop")
                return jax.tree.map(put, (obs, states), fresh)

            return run

        # Nested two-way conds: XLA CPU ran an index switch over the same branches about 2x slower.
        count = jnp.sum(done)
        pick = reset_some(sizes[-1])
        for size in reversed(sizes[:-1]):
            pick = functools.partial(jax.lax.cond, count <= size, reset_some(size), pick)
        return jax.lax.cond(count > 0, pick, lambda operands: operands, (obs, states))

    batched_reset_where = jax.custom_batching.custom_vmap(reset_where)

    @batched_reset_where.def_vmap
    def _flattened(axis_size, in_batched, done, reset_keys, obs, states, params):
        if any(jax.tree.leaves(in_batched[4])):  # per-lane params: a plain vmap
            out = jax.vmap(reset_where, in_axes=(0, 0, 0, 0, 0))(
                *(_lift(x, b, axis_size) for x, b in zip((done, reset_keys, obs, states, params), in_batched))
            )
            return out, jax.tree.map(lambda _: True, out)
        lanes = [_lift(x, b, axis_size) for x, b in zip((done, reset_keys, obs, states), in_batched)]
        flat = jax.tree.map(lambda x: x.reshape((-1, *x.shape[2:])), lanes)
        out = batched_reset_where(*flat, params)
        out = jax.tree.map(lambda x: x.reshape((axis_size, -1, *x.shape[1:])), out)
        return out, jax.tree.map(lambda _: True, out)

    return batched_reset_where


def _lift(tree, batched, axis_size):
    """`tree` with every leaf given the vmapped leading axis (broadcast where it has none)."""
    return jax.tree.map(lambda x, b: x if b else jnp.broadcast_to(x, (axis_size, *x.shape)), tree, batched)
