"""The constant policies (issue 21): always the chain's top gate, always C's deepest gate."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from do1rl.agents.baselines import BASELINES, TRIVIAL, always_chain_policy, always_circuit_policy, greedy_policy
from do1rl.envs.make import make
from do1rl.envs.types import CHAIN, MAIN
from do1rl.evaluation import episode_keys, make_player, play, reset_starts
from do1rl.experiments.agent_registry import make_agent

EPISODES = 48
ONE_SHOT = dict(family="biregular", width=3, depth=3, k=2, stratify_d1=False, max_selections=1)


@pytest.fixture(scope="module")
def one_shot():
    """Biregular one-shot DO1 (k uniform in 1..D) and its resets, made once."""
    env, params = make("do1rl/DO1-v0", **ONE_SHOT, chain_scale="circuit")
    return env, params, reset_starts(env, params, episodes=EPISODES, seed=0)


def _play(env, policy, starts):
    return play(env, None, None, episodes=EPISODES, seed=0, player=make_player(env, policy), starts=starts)


def test_registered_as_agents(one_shot):
    env, params, _ = one_shot
    assert set(TRIVIAL) <= set(BASELINES)
    assert make_agent("always_chain", env, params) is always_chain_policy
    assert make_agent("always_circuit", env, params) is always_circuit_policy


def test_always_chain_returns_k(one_shot):
    env, _, starts = one_shot
    out = _play(env, always_chain_policy, starts)
    np.testing.assert_array_equal(out.returns, out.chain_length)
    assert np.all(out.length == 1) and len(np.unique(out.chain_length)) > 1


def test_always_circuit_returns_depth_times_top_value(one_shot):
    env, _, starts = one_shot
    out = _play(env, always_circuit_policy, starts)
    state = starts[1]
    main = np.asarray(state.circuit_id) == MAIN
    depth = np.where(main, np.asarray(state.depth), -1)
    top = np.argmax(depth, axis=1)  # the first slot of C's deepest layer
    expected = np.asarray(state.circuit_depth) * np.asarray(state.value)[np.arange(EPISODES), top]
    np.testing.assert_array_equal(out.returns, expected)
    assert out.returns.max() > 0 and out.returns.min() == 0  # both outcomes occur


def _rollout(ns, policies, episodes=16):
    """Per policy: (mask[E, T, A], action[E, T], live[E, T], the action's circuit_id[E, T]); one jit for all policies."""
    env, params = ns.env, ns.params

    def run(policy, keys):
        def one(key):
            start = env.reset(key, params)

            def body(carry, _):
                obs, state = carry
                action = policy(key, obs, state)
                obs2, state2, *_ = env.step(key, state, action, params)
                circuit = obs.circuit_id[jax.numpy.minimum(action, env.num_nodes - 1)]
                return (obs2, state2), (obs.action_mask, action, ~state.terminated, circuit)

            _, out = jax.lax.scan(body, start, None, length=int(env.max_horizon) + 1)
            return out

        return jax.vmap(one)(keys)

    keys = episode_keys(0, 0, episodes)
    outs = jax.jit(lambda k: [run(p, k) for p in policies])(keys)
    return [jax.tree.map(np.asarray, o) for o in outs]


@pytest.mark.parametrize("env", ["do1_stop", "alternating"])
def test_constant_policies_act_legally(request, env):
    """Full game (no one-shot cap): a gate first, then STOP or the no-op, never a masked action while the episode runs.

    On AlternatingCircuit (no chain) always_chain falls back to greedy's pick and
    always_circuit is greedy, so both act as greedy there.
    """
    ns = request.getfixturevalue(env)
    policies = (always_chain_policy, always_circuit_policy, greedy_policy)
    outs = _rollout(ns, policies)
    for mask, action, live, _ in outs[:2]:
        legal = np.take_along_axis(mask, action[..., None], axis=-1)[..., 0]
        assert np.all(legal[live]) and live[:, 0].all() and not live[:, -1].any()
        assert np.all(action[:, 0] < ns.env.num_nodes)  # the first action selects a gate
    if env == "alternating":
        for _, action, _, _ in outs[:2]:
            np.testing.assert_array_equal(action, outs[2][1])
    else:  # DO1: the picks differ (chain vs C), so both circuits are exercised
        assert np.all(outs[0][3][:, 0] == CHAIN) and np.all(outs[1][3][:, 0] == MAIN)
