"""AutoReset.step_batch: resetting only finished envs gives `vmap(step)`'s rollouts bitwise."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from do1rl.core.generators import RandomAlternating
from do1rl.envs import DO1, AlternatingCircuit, AutoReset

FAST_COMPILE = {"xla_backend_optimization_level": 0}
GEN = RandomAlternating(n_inputs=3, depth=3, width=3)


def rollout(env: AutoReset, params, seeds: int, num_envs: int, steps: int):
    """Random legal actions for `steps` steps of `num_envs` envs per seed, seeds vmapped: every output stacked."""

    def one_seed(key):
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)

        def body(carry, key):
            obs, state = carry
            act_key, step_key = jax.random.split(key)
            action = jax.random.categorical(act_key, jnp.where(obs.action_mask, 0.0, -jnp.inf)).astype(jnp.int32)
            out = env.step_batch(jax.random.split(step_key, num_envs), state, action, params)
            return out[:2], out

        return jax.lax.scan(body, (obs, state), jax.random.split(key, steps))[1]

    run = jax.jit(jax.vmap(one_seed), compiler_options=FAST_COMPILE)
    return run(jax.random.split(jax.random.key(5), seeds))


@pytest.mark.parametrize(
    "make_env, reset_chunk", [(lambda: DO1(GEN, stop_action=True), None), (lambda: AlternatingCircuit(GEN), 1)]
)
def test_partial_reset_rollouts_are_bitwise_identical(make_env, reset_chunk):
    env = make_env()
    params = env.default_params
    full = rollout(AutoReset(env, partial=False), params, seeds=2, num_envs=24, steps=12)
    part = rollout(AutoReset(env, reset_chunk=reset_chunk), params, seeds=2, num_envs=24, steps=12)
    done = np.asarray(full[3])
    assert done.any() and not done.all() and (done.sum(-1) > 1).any()  # several envs finish on one step
    for path, a, b in zip(jax.tree_util.tree_leaves_with_path(full), jax.tree.leaves(full), jax.tree.leaves(part)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=jax.tree_util.keystr(path[0]))


def test_reset_chunk_must_be_positive():
    with pytest.raises(ValueError, match="reset_chunk"):
        AutoReset(AlternatingCircuit(GEN), reset_chunk=0)
