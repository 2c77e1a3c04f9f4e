"""Functional environments: DO1 / AlternatingCircuit semantics, jit, vmap, scan."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from do1rl.core import solver
from do1rl.core.circuit import AND, OR, Circuit
from do1rl.core.generators import RandomAlternating
from do1rl.envs import DO1, NOT_CHOSEN, AutoReset

KEY = jax.random.key(0)
OBS_KEYS = {"node_type", "fanin", "depth", "circuit_id", "selected", "action_mask", "steps_left"}


def keys(n, seed=0):
    return jax.random.split(jax.random.key(seed), n)


def state_at(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def gates_of(state, circuit_id):
    s = jax.device_get(state)
    return np.flatnonzero((s.node_type >= AND) & (s.circuit_id == circuit_id))


def main_circuit(env, state) -> Circuit:
    """The main circuit C of a DO1 / AlternatingCircuit state."""
    n = getattr(env, "main_nodes", env.num_nodes)
    return Circuit(node_type=state.node_type[:n], fanin=state.fanin[:n], depth=state.depth[:n], eval_width=1)


def run_actions(fns, state, actions):
    """Steps through `actions`; returns the rewards, terminations and final state."""
    rewards, dones = [], []
    for a in actions:
        _, state, r, d, _, _ = fns.step(KEY, state, jnp.int32(a), fns.params)
        rewards.append(float(r))
        dones.append(bool(d))
    return rewards, dones, state


def random_actions(mask_fn, step_fn, state, rng, length):
    """A rollout of uniformly random legal actions, returned as a list."""
    actions = []
    for _ in range(length):
        mask = np.asarray(mask_fn(state))
        a = int(rng.choice(np.flatnonzero(mask)))
        actions.append(a)
        state = step_fn(state, a)
    return actions


# ----- structure ---------------------------------------------------------------
def test_observation_shapes_and_no_values(do1, alternating):
    for fns in (do1, alternating):
        env = fns.env
        obs, state = fns.reset(KEY, fns.params)
        assert set(obs._fields) == OBS_KEYS
        for name, (shape, dtype) in env.observation_shapes().items():
            assert getattr(obs, name).shape == shape, name
            assert getattr(obs, name).dtype == dtype, name
        assert obs.action_mask.shape == (env.num_actions,)
        assert state.value.shape == (env.num_nodes,)


def test_do1_layout(do1, small_generator):
    env = do1.env
    assert env.max_chain_length == small_generator.max_depth
    assert env.num_nodes == small_generator.num_nodes + env.max_chain_length + 1
    assert env.num_actions == env.num_nodes + 1
    _, states = do1.batch_reset(keys(32), do1.params)
    s = jax.device_get(states)
    n_c = env.main_nodes
    assert (s.circuit_id[:, :n_c] == 0).all() and (s.circuit_id[:, n_c:] == 1).all()
    ks = s.chain_length
    assert ks.min() >= 1 and ks.max() <= env.max_chain_length
    assert len(set(ks.tolist())) > 1  # random chain length
    for i in range(4):
        k = ks[i]
        chain_gates = np.flatnonzero((s.node_type[i] >= AND) & (s.circuit_id[i] == 1))
        assert len(chain_gates) == k
        assert list(s.depth[i][chain_gates]) == list(range(1, k + 1))
        # Chain gate j reads node j-1 of the chain, as a global index.
        assert list(s.fanin[i][chain_gates, 0]) == list(chain_gates - 1)
        assert s.value[i][chain_gates].all()
        assert s.node_type[i][chain_gates[0]] == OR


def test_fixed_chain_length(do1_stop):
    _, states = do1_stop.batch_reset(keys(8), do1_stop.params)
    assert (np.asarray(states.chain_length) == 2).all()
    assert do1_stop.env.num_actions == do1_stop.env.num_nodes + 2


# ----- DO1 semantics --------------------------------------------------------------
def test_forced_choice_and_removal(do1):
    env = do1.env
    obs, s0 = do1.reset(KEY, do1.params)
    mask = np.asarray(obs.action_mask)
    main, chain = gates_of(s0, 0), gates_of(s0, 1)
    assert not mask[env.noop_action]  # no no-op at t = 0
    assert mask[main].all() and mask[chain].all()
    assert mask[: env.num_nodes].sum() == len(main) + len(chain)
    assert int(s0.chosen) == NOT_CHOSEN

    # Choosing the chain removes C.
    obs, s1, r, done, trunc, info = do1.step(KEY, s0, jnp.int32(chain[0]), do1.params)
    mask = np.asarray(obs.action_mask)
    assert int(s1.chosen) == 1 and not bool(info["invalid_action"])
    assert not mask[main].any() and mask[chain[1:]].all() and not mask[chain[0]]
    assert mask[env.noop_action]
    assert float(r) == 0.0 and not bool(done) and not bool(trunc)
    # Selecting a gate of C now is a no-op.
    _, s2, _, _, _, info = do1.step(KEY, s1, jnp.int32(main[0]), do1.params)
    assert bool(info["invalid_action"]) and not bool(s2.selected[main[0]])
    assert int(s2.steps_left) == int(s1.steps_left) - 1

    # Choosing C removes the chain.
    obs, s1, *_ = do1.step(KEY, s0, jnp.int32(main[-1]), do1.params)
    mask = np.asarray(obs.action_mask)
    assert int(s1.chosen) == 0 and not mask[chain].any()


def test_horizon_is_max_k_and_gates(do1):
    env = do1.env
    _, states = do1.batch_reset(keys(6, seed=3), do1.params)
    for i in range(6):
        s = state_at(states, i)
        k, m = int(s.chain_length), len(gates_of(s, 0))
        assert int(s.horizon) == max(k, m) == int(s.steps_left)
        assert int(s.num_gates) == m
        chain = gates_of(s, 1)
        actions = [chain[0]] + [env.noop_action] * (max(k, m) - 1)
        rewards, dones, final = run_actions(do1, s, actions)
        assert dones == [False] * (len(actions) - 1) + [True]
        assert rewards[:-1] == [0.0] * (len(actions) - 1)
        assert rewards[-1] == 1.0  # the chain's first gate has depth 1
        assert int(final.steps_left) == 0


def test_terminal_reward_rules(do1):
    env = do1.env
    _, states = do1.batch_reset(keys(16, seed=5), do1.params)
    seen_zero_gate = False
    for i in range(16):
        s = state_at(states, i)
        h = int(s.horizon)
        chain = gates_of(s, 1)
        # The chain's top gate: reward k.
        rewards, _, _ = run_actions(do1, s, [chain[-1]] + [env.noop_action] * (h - 1))
        assert rewards[-1] == float(s.chain_length)
        # Several chain gates: the deepest counts.
        acts = list(chain[:2]) + [env.noop_action] * (h - len(chain[:2]))
        rewards, _, _ = run_actions(do1, s, acts)
        assert rewards[-1] == float(min(2, len(chain)))
        # A gate of C that outputs 0 poisons the episode, even after a good gate.
        main = gates_of(s, 0)
        zeros = main[~np.asarray(s.value)[main]]
        ones = main[np.asarray(s.value)[main]]
        if len(zeros) and len(ones) and h >= 2:
            seen_zero_gate = True
            acts = [ones[-1], zeros[0]] + [env.noop_action] * (h - 2)
            rewards, _, _ = run_actions(do1, s, acts)
            assert rewards[-1] == 0.0
        if len(ones):
            acts = [ones[-1]] + [env.noop_action] * (h - 1)
            rewards, _, _ = run_actions(do1, s, acts)
            assert rewards[-1] == float(np.asarray(s.depth)[ones[-1]])
    assert seen_zero_gate


def test_no_gate_chosen_gives_zero(alternating):
    env = alternating.env
    _, s = alternating.reset(KEY, alternating.params)
    h = int(s.horizon)
    assert h == len(gates_of(s, 0))
    rewards, dones, _ = run_actions(alternating, s, [env.noop_action] * h)
    assert rewards == [0.0] * h and dones[-1] and not any(dones[:-1])


def test_invalid_action_is_noop(do1):
    env = do1.env
    _, s0 = do1.reset(KEY, do1.params)
    input_node = int(np.flatnonzero(np.asarray(s0.node_type) == 2)[0])
    for bad in (env.noop_action, input_node, -1, env.num_actions, env.num_actions + 7):
        obs, s1, r, done, _, info = do1.step(KEY, s0, jnp.int32(bad), do1.params)
        assert bool(info["invalid_action"]), bad
        assert int(s1.steps_left) == int(s0.steps_left) - 1  # time advances
        assert int(s1.chosen) == NOT_CHOSEN  # the choice stays open
        assert not np.asarray(s1.selected).any()
        assert not bool(obs.action_mask[env.noop_action])
        assert float(r) == 0.0 and not bool(done)
    # Re-selecting a selected gate is a no-op too.
    chain = gates_of(s0, 1)
    _, s1, *_ = do1.step(KEY, s0, jnp.int32(chain[0]), do1.params)
    _, s2, _, _, _, info = do1.step(KEY, s1, jnp.int32(chain[0]), do1.params)
    assert bool(info["invalid_action"]) and int(s2.steps_left) == int(s1.steps_left) - 1


def test_never_choosing_ends_with_zero(do1):
    _, s = do1.reset(KEY, do1.params)
    h = int(s.horizon)
    rewards, dones, final = run_actions(do1, s, [do1.env.noop_action] * h)
    assert rewards == [0.0] * h and dones[-1]
    assert int(final.chosen) == NOT_CHOSEN


def test_stop(do1_stop, alternating_stop):
    env = do1_stop.env
    stop = env.stop_action_id
    assert stop == env.num_nodes + 1
    obs, s0 = do1_stop.reset(KEY, do1_stop.params)
    assert not bool(obs.action_mask[stop])  # not at t = 0
    _, s1, r, done, _, info = do1_stop.step(KEY, s0, jnp.int32(stop), do1_stop.params)
    assert bool(info["invalid_action"]) and not bool(done) and int(s1.chosen) == NOT_CHOSEN
    chain = gates_of(s0, 1)
    obs, s1, *_ = do1_stop.step(KEY, s0, jnp.int32(chain[1]), do1_stop.params)
    assert bool(obs.action_mask[stop])
    obs, s2, r, done, trunc, info = do1_stop.step(KEY, s1, jnp.int32(stop), do1_stop.params)
    assert bool(done) and not bool(trunc) and float(r) == 2.0
    assert int(s2.steps_left) == 0 and not bool(info["invalid_action"])
    assert int(do1_stop.optimal_value(s2)) == 2
    # AlternatingCircuit: STOP is legal from t = 0 and ends with reward 0.
    obs, s = alternating_stop.reset(KEY, alternating_stop.params)
    stop = alternating_stop.env.stop_action_id
    assert bool(obs.action_mask[stop]) and bool(obs.action_mask[stop - 1])
    _, s, r, done, _, _ = alternating_stop.step(KEY, s, jnp.int32(stop), alternating_stop.params)
    assert bool(done) and float(r) == 0.0


def test_step_on_terminated_state(do1_stop):
    env = do1_stop.env
    _, s0 = do1_stop.reset(KEY, do1_stop.params)
    chain = gates_of(s0, 1)
    _, s, *_ = do1_stop.step(KEY, s0, jnp.int32(chain[1]), do1_stop.params)
    _, done_state, r, done, _, _ = do1_stop.step(KEY, s, jnp.int32(env.stop_action_id), do1_stop.params)
    assert bool(done) and float(r) == 2.0
    obs = None
    for a in (env.noop_action, chain[0], env.stop_action_id, -3):
        obs, again, r, done, trunc, _ = do1_stop.step(KEY, done_state, jnp.int32(a), do1_stop.params)
        assert float(r) == 0.0 and bool(done) and not bool(trunc)
        chex.assert_trees_all_equal(again, done_state)
    mask = np.asarray(obs.action_mask)
    assert mask.sum() == 1 and mask[env.noop_action]  # only the no-op, never all False


# ----- optimal values -------------------------------------------------------------
def test_optimal_value_at_reset(do1, alternating):
    for fns in (do1, alternating):
        d1_of = jax.jit(jax.vmap(lambda st, env=fns.env: solver.solve(main_circuit(env, st)).d1))
        _, states = fns.batch_reset(keys(16, seed=7), fns.params)
        d1 = np.asarray(d1_of(states))
        # chain_length is 0 for AlternatingCircuit, so this is d1 there.
        expected = np.maximum(d1, np.asarray(states.chain_length))
        assert (np.asarray(states.optimal_return) == expected).all()
        assert (np.asarray(jax.vmap(fns.env.optimal_value)(states)) == expected).all()
        n_main = getattr(fns.env, "main_nodes", fns.env.num_nodes)
        assert (np.asarray(states.circuit_depth) == np.asarray(states.depth)[:, :n_main].max(1)).all()
    assert len(set(d1.tolist())) > 1  # instances vary


def _greedy_optimal(env, state):
    """The oracle: the deepest gate that outputs 1 in the best open circuit."""
    s = jax.device_get(state)
    if s.chosen != NOT_CHOSEN and s.selected.any():
        return env.noop_action
    open_circuit = (s.chosen == NOT_CHOSEN) | (s.circuit_id == s.chosen)
    good = np.flatnonzero(s.value & (s.node_type >= AND) & open_circuit)
    if len(good) == 0:
        return env.noop_action
    return int(good[np.argmax(s.depth[good])])


def test_oracle_reaches_optimum_and_value_is_consistent(do1, alternating):
    for fns in (do1, alternating):
        _, states = fns.batch_reset(keys(8, seed=11), fns.params)
        for i in range(8):
            s = state_at(states, i)
            v0 = int(s.optimal_return)
            ret = 0.0
            while not bool(s.terminated):
                assert int(fns.optimal_value(s)) == v0
                _, s, r, _, _, _ = fns.step(KEY, s, jnp.int32(_greedy_optimal(fns.env, s)), fns.params)
                ret += float(r)
            assert ret == v0 == int(fns.optimal_value(s))


def test_random_play_never_beats_optimum(do1):
    rng = np.random.default_rng(0)
    mask = jax.jit(do1.env.action_mask)
    _, states = do1.batch_reset(keys(8, seed=13), do1.params)
    for i in range(8):
        s = state_at(states, i)
        v_prev = int(s.optimal_return)
        while not bool(s.terminated):
            a = int(rng.choice(np.flatnonzero(np.asarray(mask(s)))))
            _, s, r, _, _, _ = do1.step(KEY, s, jnp.int32(a), do1.params)
            v = int(do1.optimal_value(s))
            assert v <= v_prev
            v_prev = v
        assert float(r) == v_prev <= int(s.optimal_return)


# ----- jit, vmap, scan ------------------------------------------------------------------
def test_step_traces_once(small_generator):
    env = DO1(small_generator)
    params = env.default_params

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(state, action):
        return env.step(KEY, state, action, params)

    _, state = jax.jit(env.reset)(KEY, params)
    for a in [0, env.num_nodes, 5, env.main_nodes + 1, env.num_nodes, env.num_nodes]:
        _, state, *_ = step(state, jnp.int32(a))


def test_jit_matches_no_jit(do1_stop):
    env, params = do1_stop.env, do1_stop.params
    rng = np.random.default_rng(1)
    _, s = do1_stop.reset(KEY, params)
    actions = random_actions(jax.jit(env.action_mask), lambda st, a: do1_stop.step(KEY, st, jnp.int32(a), params)[1], s, rng, 4)
    actions += [env.num_actions + 3]  # out of range -> no-op

    def rollout(reset, step):
        obs, state = reset(KEY, params)
        out = [obs]
        for a in actions:
            obs, state, r, d, t, info = step(KEY, state, jnp.int32(a), params)
            out.append((obs, r, d, t, info))
        return out, state

    jitted = rollout(do1_stop.reset, do1_stop.step)
    with jax.disable_jit():
        eager = rollout(env.reset, env.step)
    chex.assert_trees_all_equal(jitted, eager)


def test_vmap_matches_loop(do1):
    env, params = do1.env, do1.params
    ks = keys(5, seed=2)
    step = jax.jit(jax.vmap(env.step, in_axes=(None, 0, 0, None)))
    obs_b, st_b = do1.batch_reset(ks, params)
    rng = np.random.default_rng(3)
    actions = []
    for _ in range(4):
        masks = np.asarray(obs_b.action_mask)
        a = np.array([rng.choice(np.flatnonzero(m)) for m in masks], np.int32)
        actions.append(a)
        obs_b, st_b, r_b, d_b, _, _ = step(KEY, st_b, jnp.asarray(a), params)
    for i in range(5):
        obs, st = do1.reset(ks[i], params)
        for a in actions:
            obs, st, r, d, _, _ = do1.step(KEY, st, jnp.int32(a[i]), params)
        chex.assert_trees_all_equal(st, state_at(st_b, i))
        chex.assert_trees_all_equal(obs, state_at(obs_b, i))
        assert float(r) == float(r_b[i]) and bool(d) == bool(d_b[i])


def test_autoreset_in_scan(do1):
    env = AutoReset(do1.env)
    params = do1.params
    assert env.num_actions == do1.env.num_actions  # attributes are forwarded

    def body(carry, key):
        obs, state = carry
        k_act, k_step = jax.random.split(key)
        logits = jnp.where(obs.action_mask, 0.0, -jnp.inf)
        action = jax.random.categorical(k_act, logits)
        obs, state, r, done, trunc, info = env.step(k_step, state, action, params)
        return (obs, state), (r, done, trunc, state.steps_left, state.horizon, state.chosen, info)

    @jax.jit
    def run(key):
        obs, state = env.reset(key, params)
        return jax.lax.scan(body, (obs, state), jax.random.split(key, 60))

    (_, _), (r, done, trunc, left, horizon, chosen, info) = run(KEY)
    r, done, left, horizon, chosen = map(np.asarray, (r, done, left, horizon, chosen))
    assert done.sum() >= 3 and not np.asarray(trunc).any()
    # After an episode ends, the returned state is a fresh episode.
    assert (left[done] == horizon[done]).all() and (chosen[done] == NOT_CHOSEN).all()
    assert (r[~done] == 0).all()
    assert (r[done] <= np.asarray(info["optimal_return"])[done]).all()
    assert not np.asarray(info["invalid_action"]).any()
    assert info["final_obs"].steps_left[done].max() == 0


def test_bad_chain_length():
    with pytest.raises(ValueError, match="chain_length"):
        DO1(RandomAlternating(n_inputs=2, depth=2, width=2), chain_length=-1)


def test_vmap_over_generator_params(do1):
    """A batch of generator settings (here p_one) runs in one vmapped call."""
    env = do1.env
    base = env.default_params
    p_ones = jnp.array([0.0, 1.0], jnp.float32)
    params = jax.vmap(lambda p: base.replace(generator=base.generator.replace(p_one=p)))(p_ones)
    params = params.replace(chain_length=jnp.array([1, 2], jnp.int32))
    _, states = jax.jit(jax.vmap(env.reset))(keys(2), params)
    node_type = np.asarray(states.node_type)[:, : env.main_nodes]
    assert not (node_type[0] == 2).any() and not (node_type[1] == 1).any()  # all bits 0 / all 1
    assert np.asarray(states.chain_length).tolist() == [1, 2]
