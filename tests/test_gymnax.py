"""The gymnax face: spaces, params, `GymnaxAdapter`'s step contract, gymnax's LogWrapper, rejax.

The gymnax parts need the optional extra `pip install -e ".[gymnax]"` and are
skipped without it. rejax PPO training on the adapter is the rejax block of
docs/user-guide.md, run by tests/test_user_guide.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from do1rl.envs import make
from do1rl.envs.gymnax import GymnaxAdapter, flatten_observation

SMALL = dict(n_inputs=3, depth=3, width=3)


@pytest.fixture(scope="module")
def do1():
    return make("DO1", **SMALL)


@pytest.mark.slow
def test_functional_env_has_the_gymnax_face(do1):
    env, params = do1
    assert env.name == "do1rl/DO1-v0" and make(env.name)[0].name == env.name
    assert params.max_steps_in_episode == env.max_horizon
    assert env.action_space(params).n == env.num_actions
    space = env.observation_space(params)
    obs, state = env.reset(jax.random.key(0), env.default_params)  # the gymnax idiom
    assert bool(space.contains(obs))
    assert set(space.spaces) == set(obs._fields)
    step = jax.jit(env.step)
    for _ in range(int(state.horizon)):
        action = int(np.flatnonzero(np.asarray(obs.action_mask))[0])
        obs, state, *_ = step(jax.random.key(0), state, action, params)
        assert bool(space.contains(obs))
        assert int(state.horizon) <= params.max_steps_in_episode
    assert int(env.action_space(params).sample(jax.random.key(1))) in range(env.num_actions)
    sample = space.sample(jax.random.key(2))
    assert {k: v.shape for k, v in sample.items()} == {k: np.shape(v) for k, v in obs._asdict().items()}


def _scan_random_policy(env, params, mask_of, num_envs, steps, seed=0):
    """A purejaxrl-style loop: vmapped reset, lax.scan over vmapped steps, random legal actions."""
    obs, state = jax.vmap(env.reset, (0, None))(jax.random.split(jax.random.key(seed), num_envs), params)

    def body(carry, key):
        obs, state = carry
        key_act, key_step = jax.random.split(key)
        masks = jax.vmap(mask_of)(state)
        actions = jax.vmap(lambda k, m: jax.random.choice(k, m.shape[0], p=m / m.sum()))(jax.random.split(key_act, num_envs), masks)
        obs, state, reward, *rest = jax.vmap(env.step, (0, 0, 0, None))(jax.random.split(key_step, num_envs), state, actions, params)
        return (obs, state), (reward, rest)

    return jax.lax.scan(body, (obs, state), jax.random.split(jax.random.key(seed + 1), steps))


@pytest.mark.slow
def test_adapter_auto_resets_like_gymnax(do1):
    env, params = do1
    adapter = GymnaxAdapter(env, flatten=False, legacy_step=False)
    (_, state), (rewards, (terminated, truncated, info)) = jax.jit(
        lambda: _scan_random_policy(adapter, params, env.action_mask, num_envs=4, steps=30)
    )()
    assert not bool(state.terminated.any())  # the state after a terminal step is a fresh episode's
    assert not bool(truncated.any())
    done = np.asarray(terminated)
    assert done.sum() >= 4
    # Rewards come only on terminal steps, and each episode is counted exactly once.
    assert not np.asarray(rewards)[~done].any()
    np.testing.assert_array_equal(np.asarray(info["terminated"]), done)
    final_steps_left = np.asarray(info["final_observation"].steps_left)
    assert (final_steps_left[done] == 0).all()


def test_legacy_step_and_flatten(do1):
    env, params = do1
    adapter = GymnaxAdapter(env, flatten=True, legacy_step=True)
    obs, state = adapter.reset(jax.random.key(0), params)
    assert obs.dtype == jnp.float32 and obs.ndim == 1
    raw, _ = env.reset(jax.random.key(0), params)
    np.testing.assert_array_equal(obs, flatten_observation(raw))
    out = adapter.step(jax.random.key(1), state, int(np.flatnonzero(np.asarray(raw.action_mask))[0]), params)
    assert len(out) == 5 and out[3].dtype == jnp.bool_


def test_gymnax_log_wrapper_counts_each_episode_once(do1):
    pytest.importorskip("gymnax")
    from gymnax.environments import spaces
    from gymnax.wrappers.purerl import FlattenObservationWrapper, LogWrapper

    env, params = do1
    adapter = GymnaxAdapter(env, flatten=True, legacy_step=False)
    assert isinstance(adapter.action_space(params), spaces.Discrete)
    box = adapter.observation_space(params)
    assert isinstance(box, spaces.Box) and box.shape == adapter.reset(jax.random.key(0), params)[0].shape
    wrapped = LogWrapper(FlattenObservationWrapper(adapter))
    mask_of = lambda s: env.action_mask(s.env_state)
    num_envs, steps = 8, 40
    (_, _), (rewards, (_te, _tr, info)) = _scan_random_policy(wrapped, params, mask_of, num_envs, steps)
    done = np.asarray(info["returned_episode"])
    returns = np.asarray(info["returned_episode_returns"])[done]
    # Every episode lasts its horizon (<= max_steps_in_episode), so 8 x 40 steps end few episodes,
    # and the logged returns are exactly the terminal rewards.
    assert 0 < done.sum() <= num_envs * steps // 2
    np.testing.assert_allclose(returns, np.asarray(rewards)[done])
    np.testing.assert_allclose(returns.sum(), np.asarray(rewards).sum())


def test_for_rejax_picks_rejaxs_step_contract(do1, monkeypatch):
    """rejax 0.1.x unpacks 5 values whichever gymnax is installed; a later rejax follows gymnax."""
    from do1rl.envs import gymnax as adapter_module

    env, _ = do1
    versions = {}
    monkeypatch.setattr(adapter_module, "_major_minor", versions.get)
    for rejax, gymnax, legacy in [((0, 1), (1, 0), True), (None, (1, 0), True), ((0, 2), (1, 0), False), ((0, 2), (0, 0), True)]:
        versions.update(rejax=rejax, gymnax=gymnax)
        assert GymnaxAdapter.for_rejax(env).legacy_step is legacy


def test_rejax_trains_on_for_rejax_without_a_flag(do1):
    """The issue's crash: rejax PPO on the adapter with no legacy_step given."""
    pytest.importorskip("rejax")
    from rejax import PPO

    env, params = do1
    algo = PPO.create(
        env=GymnaxAdapter.for_rejax(env),
        env_params=params,
        total_timesteps=256,
        num_envs=4,
        num_steps=16,
        num_epochs=1,
        num_minibatches=1,
        eval_freq=256,
        skip_initial_evaluation=True,
        agent_kwargs={"hidden_layer_sizes": (8,)},
    )
    _, (_, returns) = jax.jit(algo.train)(jax.random.key(0))
    assert np.isfinite(np.asarray(returns)).all()
