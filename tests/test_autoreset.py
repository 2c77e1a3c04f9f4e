"""AutoReset.step_batch: resetting only finished envs gives `vmap(step)`'s rollouts bitwise."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from do1rl.core.generators import RandomAlternating
from do1rl.envs import DO1, AutoReset

pytestmark = pytest.mark.slow  # the slow lane (docs/testing.md)

FAST_COMPILE = {"xla_backend_optimization_level": 0}
GEN = RandomAlternating(n_inputs=3, depth=3, width=3)


def rollout(env: AutoReset, params, seeds: int | None, num_envs: int, steps: int):
    """Random legal actions for `steps` steps of `num_envs` envs per seed: every output stacked.

    Seeds are vmapped; `seeds=None` runs the first seed alone, without vmap.
    """

    def one_seed(key):
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)

        def body(carry, key):
            obs, state = carry
            act_key, step_key = jax.random.split(key)
            action = jax.random.categorical(act_key, jnp.where(obs.action_mask, 0.0, -jnp.inf)).astype(jnp.int32)
            out = env.step_batch(jax.random.split(step_key, num_envs), state, action, params)
            return out[:2], out

        return jax.lax.scan(body, (obs, state), jax.random.split(key, steps))[1]

    keys = jax.random.split(jax.random.key(5), seeds or 1)
    if seeds is None:
        return jax.jit(one_seed, compiler_options=FAST_COMPILE)(keys[0])
    return jax.jit(jax.vmap(one_seed), compiler_options=FAST_COMPILE)(keys)


def test_partial_reset_rollouts_are_bitwise_identical():
    env = DO1(GEN, stop_action=True)
    params = env.default_params
    full = rollout(AutoReset(env, partial=False), params, seeds=2, num_envs=12, steps=16)
    vmapped = rollout(AutoReset(env), params, seeds=2, num_envs=12, steps=16)
    alone = rollout(AutoReset(env), params, seeds=None, num_envs=12, steps=16)
    first = jax.tree.map(lambda x: x[0], full)
    for name, want, got in (("vmapped", full, vmapped), ("alone", first, alone)):
        for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(want), jax.tree.leaves(got)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=f"{name}{jax.tree_util.keystr(path)}")
    # Every branch is taken: alone (12 envs) the reset sizes are 1, 3 and 12, vmapped (2 x 12 flattened) 1, 6, 24.
    for count, sizes in ((np.asarray(first[3]).sum(-1), (1, 3, 12)), (np.asarray(full[3]).sum((0, 2)), (1, 6, 24))):
        branch = np.where(count > 0, 1 + np.searchsorted(sizes, count), 0)
        assert set(branch.tolist()) == {0, 1, 2, 3}, count
