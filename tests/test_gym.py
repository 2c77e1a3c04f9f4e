"""Gymnasium front ends: spaces, check_env, seeding, make kwargs, vector env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector.vector_env import AutoresetMode

import do1rl  # noqa: F401  (registers the ids)
from do1rl.envs.gym_env import CircuitGymEnv, CircuitVectorEnv
from do1rl.envs.make import EnvArgumentError, make
from do1rl.registration import register_envs

SMALL = dict(n_inputs=3, depth=3, width=3)


@pytest.fixture(scope="module")
def gym_do1(do1):
    return CircuitGymEnv(do1.env)


@pytest.fixture(scope="module")
def gym_alt_stop(alternating_stop):
    return CircuitGymEnv(alternating_stop.env)


def rollout(env, seed, steps, rng):
    """Random legal actions; returns everything the env returned."""
    out = [env.reset(seed=seed)]
    for _ in range(steps):
        a = int(rng.choice(np.flatnonzero(env.action_masks())))
        obs, r, term, trunc, info = env.step(a)
        out.append((obs, r, term, trunc, info))
        if term:
            out.append(env.reset())
    return out


def assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def test_check_env(gym_do1, gym_alt_stop, do1_stop):
    check_env(gym_do1, skip_render_check=True)
    check_env(gym_alt_stop, skip_render_check=True)
    check_env(CircuitGymEnv(do1_stop.env), skip_render_check=True)


def test_observations_within_space(gym_do1, gym_alt_stop):
    rng = np.random.default_rng(0)
    for env in (gym_do1, gym_alt_stop):
        for item in rollout(env, seed=1, steps=30, rng=rng):
            obs = item[0]
            assert env.observation_space.contains(obs), {
                k: (v.dtype, v.shape) for k, v in obs.items()
            }
            for k, space in env.observation_space.spaces.items():
                assert obs[k].dtype == space.dtype, k


def test_action_masks_and_invalid_actions(gym_do1):
    env = gym_do1
    _, info = env.reset(seed=0)
    assert set(info) == {"optimal_return", "circuit_depth", "horizon"}
    mask = env.action_masks()
    assert mask.dtype == bool and mask.shape == (env.action_space.n,)
    assert not mask[env.env.noop_action]
    _obs, r, term, trunc, info = env.step(env.env.noop_action)  # masked at t = 0
    assert info["invalid_action"] is True and r == 0.0 and not term and not trunc
    assert isinstance(r, float) and isinstance(term, bool)
    for bad in (-1, env.action_space.n, 10**9):
        with pytest.raises(ValueError, match=rf"action {bad}.*Discrete\({env.action_space.n}\)"):
            env.step(bad)
    a = int(np.flatnonzero(env.action_masks())[0])
    _, _, _, _, info = env.step(a)
    assert info["invalid_action"] is False
    assert env.optimal_value() <= info["optimal_return"]


def test_seeding_is_reproducible(gym_do1, do1):
    runs = [rollout(gym_do1, 5, 25, np.random.default_rng(7)) for _ in range(2)]
    runs.append(rollout(CircuitGymEnv(do1.env), 5, 25, np.random.default_rng(7)))
    assert_same(runs[0], runs[1])
    assert_same(runs[0], runs[2])
    firsts = {gym_do1.reset(seed=s)[0]["node_type"].tobytes() for s in range(6)}
    assert len(firsts) > 1


def test_make_with_kwargs():
    env = gym.make("do1rl/DO1-v0", **SMALL, stop_action=True, chain_length=2, p_one=0.7)
    inner = env.unwrapped
    assert isinstance(inner, CircuitGymEnv)
    assert inner.env.stop_action and inner.env.chain_length == 2
    assert inner.env.num_nodes == 3 + 9 + 3
    assert inner.env.generator.p_one == 0.7
    _, _info = env.reset(seed=0)
    assert env.observation_space.contains(env.reset(seed=1)[0])
    alt = gym.make("do1rl/AlternatingCircuit-v0", depth=2, width=2, n_inputs=2)
    assert alt.unwrapped.env.num_nodes == 6
    env.close()
    alt.close()


def test_make_rejects_unknown_kwargs():
    with pytest.raises(TypeError, match=r"'dpeth'.*valid keywords are: n_inputs, depth"):
        gym.make("do1rl/DO1-v0", dpeth=3)
    with pytest.raises(TypeError, match="chain_length"):
        gym.make("do1rl/AlternatingCircuit-v0", chain_length=3)
    with pytest.raises(ValueError, match="circuit_files cannot be combined"):
        gym.make("do1rl/DO1-v0", circuit_files=["x.json"], depth=2)
    with pytest.raises(EnvArgumentError, match="p_one"):
        make("do1rl/DO1-v0", p_one=2.0)
    with pytest.raises(EnvArgumentError, match="valid ids"):
        make("DO2")
    env, params = make("DO1", **SMALL)
    assert env.num_actions == 17 and params.generator == env.generator


def test_make_with_circuit_files(tmp_path):
    pytest.importorskip("do1rl.core.circuit_file")
    p = tmp_path / "c.json"
    p.write_text(
        '{"format": "do1rl.circuit/v1", "inputs": [1, 0], "gates": [{"op": "OR", "in": [0, 1]}, {"op": "AND", "in": [2, 0]}]}'
    )
    env = gym.make("do1rl/DO1-v0", circuit_files=[str(p)], chain_length=1)
    _, info = env.reset(seed=0)
    assert info["optimal_return"] == 2 and info["horizon"] == 2
    env.close()


def test_register_is_idempotent():
    register_envs()
    register_envs()
    assert "do1rl/DO1-v0" in gym.registry and "do1rl/AlternatingCircuit-v0" in gym.registry


def test_vector_env_matches_single_env(do1):
    n = 3
    venv = CircuitVectorEnv(do1.env, n)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    singles = [CircuitGymEnv(do1.env) for _ in range(n)]
    obs, _ = venv.reset(seed=10)
    single_obs = [e.reset(seed=10 + i)[0] for i, e in enumerate(singles)]
    rng = np.random.default_rng(0)
    needs_reset = [False] * n
    finished = 0
    for _ in range(25):
        assert venv.observation_space.contains(obs)
        for i in range(n):
            assert_same({k: v[i] for k, v in obs.items()}, single_obs[i])
        masks = venv.action_masks()
        assert masks.dtype == bool and masks.shape == (n, venv.single_action_space.n)
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        obs, rewards, terms, truncs, infos = venv.step(actions)
        assert not truncs.any() and infos["_invalid_action"].all()
        for i, e in enumerate(singles):
            if needs_reset[i]:  # next-step autoreset
                single_obs[i] = e.reset()[0]
                assert rewards[i] == 0.0 and not terms[i]
                needs_reset[i] = False
                continue
            single_obs[i], r, term, _, info = e.step(int(actions[i]))
            assert rewards[i] == r and terms[i] == term
            assert infos["optimal_return"][i] == info["optimal_return"]
            needs_reset[i] = term
            finished += term
    assert finished >= n
    with pytest.raises(ValueError, match="not in the action space"):
        venv.step(np.full(n, venv.single_action_space.n))


def test_make_vec():
    venv = gym.make_vec("do1rl/AlternatingCircuit-v0", num_envs=2, **SMALL)
    assert isinstance(venv, CircuitVectorEnv) and venv.num_envs == 2
    obs, _ = venv.reset(seed=0)
    obs2, _ = venv.reset(seed=0)
    assert_same(obs, obs2)
    assert venv.observation_space.contains(obs)
    venv.close()


def test_observations_suit_flattening_learners(gym_do1):
    """SB3-style extractors flatten each entry per sample: every entry needs a dim, and arrays must be writable."""
    for name, space in gym_do1.observation_space.spaces.items():
        assert len(space.shape) >= 1, name
    obs, _ = gym_do1.reset(seed=0)
    flat = gym.spaces.flatten(gym_do1.observation_space, obs)
    assert flat.shape == (gym.spaces.flatdim(gym_do1.observation_space),)
    assert all(x.flags.writeable for x in obs.values())
    assert gym_do1.action_masks().flags.writeable
