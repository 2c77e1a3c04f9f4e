"""Expert iteration (do1rl.agents.expert_iteration): targets, distillation, seeds, legality and a short training.

Compiling dominates: each compiled function is module-scoped and serves
several checks, and everything is compiled at XLA's -O0 (as tests/test_mcts.py).
The tests that compile the algorithm are in the slow lane (docs/testing.md).
"""

from __future__ import annotations

import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from walks import random_walk_states

from do1rl.agents.baselines import random_policy
from do1rl.agents.expert_iteration import (
    ExpertIteration,
    ExpertIterationConfig,
    Totals,
    TrainState,
    monte_carlo_returns,
    search_kl,
    summarize,
)
from do1rl.agents.networks import NetworkConfig, make_network
from do1rl.envs import make
from do1rl.evaluation import evaluate
from do1rl.evaluation.play import play_episode

FAST_COMPILE = {"xla_backend_optimization_level": 0}
TINY = dict(n_inputs=2, depth=2, width=2)
NET = NetworkConfig(family="gnn", depth=2, width=16)
CONFIG = ExpertIterationConfig(
    total_timesteps=1024, num_envs=16, num_steps=8, update_epochs=4, num_minibatches=2, learning_rate=3e-3, simulations=8
)
SUMMARY_KEYS = {
    "nonfinite",
    "mean_return",
    "mean_ratio",
    "mean_regret",
    "episodes",
    "policy_loss",
    "value_loss",
    "entropy",
    "grad_norm",
    "learning_rate",
    "kl_to_search",
}


def expert_iteration(env_id: str, config: ExpertIterationConfig = CONFIG, **env_args) -> ExpertIteration:
    env, env_params = make(env_id, **TINY, **env_args)
    return ExpertIteration(env, env_params, make_network(NET, env), config)


def plain(tree):
    """`tree` with PRNG keys as their raw data (comparable bit by bit)."""
    return jax.tree.map(lambda x: jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x, tree)


def assert_bitwise(a, b, name: str) -> None:
    a, b = np.atleast_1d(np.asarray(a)), np.atleast_1d(np.asarray(b))
    assert a.dtype == b.dtype and a.shape == b.shape, name
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8), err_msg=name)


# ----- fast checks -------------------------------------------------------------------
def test_config_rules_and_sizes():
    assert CONFIG.batch_size == 128 and CONFIG.num_updates == 8 and CONFIG.minibatch_size == 64
    for bad in (
        dict(num_minibatches=3),
        dict(total_timesteps=64),
        dict(simulations=0),
        dict(max_considered=0),
        dict(gumbel_scale=-1.0),
        dict(leaf_value="mean"),
        dict(learning_rate=0.0),
        dict(num_envs=2.5),
    ):
        with pytest.raises(ValueError):
            ExpertIterationConfig(**{**dict(total_timesteps=1024), **bad})
    assert ExpertIterationConfig(max_considered=4).search_config().max_considered == 4


def test_curriculum_refused():
    from do1rl.agents.curriculum import CurriculumConfig

    env, env_params = make("do1rl/AlternatingCircuit-v0", **TINY)
    with pytest.raises(ValueError, match="curriculum"):
        ExpertIteration(env, env_params, make_network(NET, env), CONFIG, curriculum=CurriculumConfig(levels=((2,),)))


def test_monte_carlo_returns_match_python():
    rng = np.random.default_rng(0)
    t, e = 13, 4
    rewards = rng.normal(size=(t, e)).astype(np.float32)
    terminated = rng.random((t, e)) < 0.25
    truncated = (rng.random((t, e)) < 0.1) & ~terminated
    done = terminated | truncated
    returns, known = monte_carlo_returns(rewards, terminated, done)
    for i in range(e):
        g, k = 0.0, False
        for s in reversed(range(t)):
            g = rewards[s, i] + (0.0 if done[s, i] else g)
            k = bool(terminated[s, i]) if done[s, i] else k
            np.testing.assert_allclose(returns[s, i], g, rtol=1e-6, atol=1e-6)
            assert bool(known[s, i]) == k


def test_search_kl_is_kl_on_legal_actions():
    logits = jnp.array([[0.5, 9.0, -1.0, 2.0]])
    mask = jnp.array([[True, False, True, True]])
    weights = jnp.array([[0.2, 0.0, 0.0, 0.8]])
    p = np.exp([0.5, -1.0, 2.0]) / np.exp([0.5, -1.0, 2.0]).sum()
    expected = 0.2 * np.log(0.2 / p[0]) + 0.8 * np.log(0.8 / p[2])
    np.testing.assert_allclose(float(search_kl(logits, mask, weights)[0]), expected, rtol=1e-5)
    student = jnp.asarray([[p[0], 0.0, p[1], p[2]]], jnp.float32)
    assert float(search_kl(logits, mask, student)[0]) == pytest.approx(0.0, abs=1e-6)


# ----- one iteration on DO1: the targets are mctx's, the student moves toward them -------------
def random_advance(ei: ExpertIteration, state: TrainState, key: jax.Array) -> TrainState:
    """Env i takes i % 4 random legal actions (auto-reset), so the rollout starts at varied points of episodes."""
    steps = jnp.arange(ei.config.num_envs) % 4

    def body(i, env_state):
        obs = ei.observe(env_state)
        keys = jax.random.split(jax.random.fold_in(key, i), ei.config.num_envs)
        actions = jax.vmap(random_policy)(keys, obs, env_state)
        new = ei.env.step_batch(keys, env_state, actions, ei.env_params)[1]
        return jax.tree.map(lambda a, b: jnp.where((i < steps).reshape((-1,) + (1,) * (a.ndim - 1)), a, b), new, env_state)

    return state.replace(env_state=jax.lax.fori_loop(0, 3, body, state.env_state))


@pytest.fixture(scope="module")
def do1_iteration():
    """One iteration on the tiny DO1 from mid-episode states, with the reference search and KLs around it."""
    ei = expert_iteration("do1rl/DO1-v0")

    @functools.partial(jax.jit, compiler_options=FAST_COMPILE)
    def probe(key):
        start = random_advance(ei, ei.init(key), jax.random.fold_in(key, 1))
        after_rollout, batch, totals = ei.rollout(start)
        # The rollout's first search: key (key, search_key, step_key) = split(state.key, 3), on the start states.
        search_key = jax.random.split(start.key, 3)[1]
        reference = ei.search_policy(start.params).search_mctx(search_key, start.env_state)
        trained, aux = ei.distil(after_rollout, batch)
        flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), batch)
        kl = lambda params: search_kl(ei.apply(params, flat.obs)[0], flat.obs.action_mask, flat.action_weights)
        return start, batch, totals, reference, kl(start.params), kl(trained.params), aux, trained.params

    return ei, jax.device_get(probe(jax.random.key(7)))


@pytest.mark.slow
def test_stored_targets_equal_mctx(do1_iteration):
    _, (start, batch, _, reference, *_) = do1_iteration
    assert_bitwise(batch.action_weights[0], reference.action_weights, "action_weights")
    assert_bitwise(batch.action[0], reference.action, "action")
    # Not vacuous: some envs start after DO1's forced choice and some before it, and the targets are not one-hot.
    chosen = np.asarray(start.env_state.chosen)
    assert (chosen == -1).any() and (chosen != -1).any()
    assert (np.asarray(reference.action_weights).max(-1) < 0.99).any()
    assert np.asarray(reference.search_tree.node_visits)[:, 0].min() == CONFIG.simulations + 1


@pytest.mark.slow
def test_one_update_moves_student_toward_search(do1_iteration):
    _, (_, batch, totals, _, kl_before, kl_after, aux, _) = do1_iteration
    kl_before, kl_after = float(np.mean(kl_before)), float(np.mean(kl_after))
    print("KL(search || student) on the rollout: before", kl_before, "after", kl_after)
    # The rollout's logged KL is the same quantity, before the update.
    np.testing.assert_allclose(float(totals.kl_to_search), kl_before, rtol=1e-4)
    assert kl_after < kl_before - 1e-3, (kl_before, kl_after)
    assert np.isfinite(float(aux["policy_loss"])) and float(aux["nonfinite"]) == 0
    # The policy targets are distributions on legal actions.
    weights, mask = np.asarray(batch.action_weights), np.asarray(batch.obs.action_mask)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert (weights[~mask] == 0).all()
    assert 0 < float(np.mean(batch.value_mask)) < 1


# ----- seeds, traces and a short training on the tiny AlternatingCircuit -------------------------
@pytest.fixture(scope="module")
def alternating():
    return expert_iteration("do1rl/AlternatingCircuit-v0", stop_action=True)


@pytest.fixture(scope="module")
def trained(alternating):
    """Two seeds trained vmapped, one iteration per call of one compiled (traced once) function."""
    ei = alternating
    run = jax.jit(chex.assert_max_traces(lambda s: jax.vmap(ei.run, in_axes=(0, None))(s, 1), n=1), compiler_options=FAST_COMPILE)
    start = jax.jit(ei.init_seeds, compiler_options=FAST_COMPILE)(jax.random.split(jax.random.key(0), 2))
    state, states, totals = start, [], []
    for _ in range(CONFIG.num_updates):
        state, t = run(state)
        states.append(state)
        totals.append(t)
    return run, start, states, totals


def lane(tree, i: int):
    return jax.tree.map(lambda x: x[i], tree)


@pytest.mark.slow
def test_a_seed_does_not_depend_on_its_neighbours(trained):
    """Bitwise: seed i's lane of the vmapped run equals its lane when both lanes hold seed i."""
    run, start, states, totals = trained
    for i in range(2):
        twin = jax.tree.map(lambda x, i=i: jnp.stack([x[i], x[i]]), start)
        state, t = run(twin)
        for j in range(2):
            for (path, a), b in zip(jax.tree.leaves_with_path(plain(lane(state, j))), jax.tree.leaves(plain(lane(states[0], i)))):
                assert_bitwise(a, b, f"seed {i} lane {j}{jax.tree_util.keystr(path)}")
            for name, a, b in zip(Totals._fields, lane(t, j), lane(totals[0], i)):
                assert_bitwise(a, b, name)
    a, b = jax.tree.leaves(states[0].params)[0]
    assert not np.array_equal(a, b)  # different seeds, different networks


@pytest.mark.slow
def test_vmapped_seeds_match_a_loop_over_seeds(alternating, trained):
    """A Python loop over the seeds plays the same episodes as the vmapped run (see the note on floats)."""
    # Not bitwise in the floats: XLA CPU runs the network's 1-wide Dense heads as a loop fusion unbatched and as
    # a batched Eigen matvec under vmap (other rounding), and Adam's first steps amplify those last bits.
    ei = alternating
    _, start, states, totals = trained
    run = jax.jit(lambda s: ei.run(s, 1), compiler_options=FAST_COMPILE)
    for i in range(2):
        state, t = run(lane(start, i))
        vmapped = lane(states[0], i)
        for (path, a), b in zip(jax.tree.leaves_with_path(plain(state)), jax.tree.leaves(plain(vmapped))):
            if not jnp.issubdtype(a.dtype, jnp.floating):
                assert_bitwise(a, b, jax.tree_util.keystr(path))
        assert_bitwise(state.episode_return, vmapped.episode_return, "episode_return")
        for name in ("episodes", "returns", "ratio", "regret", "optimal", "value_targets"):
            assert_bitwise(getattr(t, name), getattr(lane(totals[0], i), name), name)
        np.testing.assert_allclose(t.kl_to_search, lane(totals[0], i).kl_to_search, rtol=1e-5)


@pytest.mark.slow
def test_training_summaries_are_finite(trained):
    _, _, states, totals = trained
    assert np.asarray(states[-1].update).tolist() == [CONFIG.num_updates] * 2
    for t in totals:
        s = summarize(t)
        assert set(s) >= SUMMARY_KEYS
        assert s["nonfinite"] == 0 and s["episodes"] > 0
        assert all(np.isfinite(s[k]) for k in SUMMARY_KEYS), s


@pytest.mark.slow
def test_greedy_student_is_legal_on_both_envs(alternating, trained, do1_iteration):
    """The distilled greedy policy picks a legal action in states after 0..6 random legal steps (DO1: both sides of the choice)."""
    _, _, states, _ = trained
    do1, probe = do1_iteration
    cases = [(alternating, lane(states[-1].params, 0)), (do1, probe[-1])]
    for ei, params in cases:
        env = ei.env.env

        @functools.partial(jax.jit, compiler_options=FAST_COMPILE)
        def check(keys, params=params, ei=ei, env=env):
            walked = random_walk_states(env, ei.env_params, keys)
            obs = jax.vmap(env.get_obs)(walked)
            action = jax.vmap(ei.policy(params, greedy=True))(keys, obs, walked)
            return jnp.take_along_axis(obs.action_mask, action[:, None], axis=-1)[:, 0], walked

        legal, walked = check(jax.random.split(jax.random.key(2), 256))
        live = ~np.asarray(walked.terminated)
        assert live.sum() > 100 and np.asarray(legal)[live].all()


def greedy_ratios(ei: ExpertIteration, params_list: list, episodes: int = 256, seed: int = 11) -> list[float]:
    """`evaluate`'s mean ratio of the greedy student for each params, on the same episodes (one compiled player)."""
    env = ei.env.env

    # `evaluate` hands its `params` to the player; this player takes the network's, so one compile serves all.
    @functools.partial(jax.jit, compiler_options=FAST_COMPILE)
    @functools.partial(jax.vmap, in_axes=(None, 0, 0))
    def player(net_params, key, start):
        return play_episode(env, ei.final_params, ei.policy(net_params), key, start)

    return [
        evaluate(env, p, None, episodes=episodes, seed=seed, player=lambda p, keys, starts=None: player(p, keys, starts))["mean_ratio"]
        for p in params_list
    ]


@pytest.mark.slow
def test_short_training_improves_greedy_student(alternating, trained):
    """1024 env steps per seed: the greedy student's mean ratio on fixed episodes rises on both seeds."""
    _, start, states, _ = trained
    untrained = greedy_ratios(alternating, [lane(start.params, i) for i in range(2)])
    after = greedy_ratios(alternating, [lane(states[-1].params, i) for i in range(2)])
    print("greedy student mean ratio: untrained", untrained, "trained", after)
    assert all(t > u + 0.1 for t, u in zip(after, untrained)), (untrained, after)


# ----- the auxiliary node-value loss (hints), shared with PPO (agents/losses.py) -------------------
def test_aux_loss_settings_are_checked():
    for bad in (dict(aux_coef=-1.0), dict(aux_target="every")):
        with pytest.raises(ValueError):
            ExpertIterationConfig(total_timesteps=1024, **bad)
    env, env_params = make("do1rl/DO1-v0", **TINY)
    with pytest.raises(ValueError, match="node_values=True"):
        ExpertIteration(env, env_params, make_network(NET, env), dataclasses.replace(CONFIG, aux_coef=1.0))


@pytest.mark.slow
def test_hint_loss_teaches_the_node_values():
    """With aux_coef > 0 the batch carries the solver's node values and distilling lowers the hint loss on it."""
    from do1rl.agents.losses import hint_loss
    from do1rl.agents.networks import rule_iterations

    env, env_params = make("do1rl/DO1-v0", **TINY)
    config = dataclasses.replace(CONFIG, aux_coef=1.0, update_epochs=8)
    network = make_network(NetworkConfig(family="bottleneck", width=16, max_iterations=4), env, node_values=True)
    ei = ExpertIteration(env, env_params, network, config)

    @functools.partial(jax.jit, compiler_options=FAST_COMPILE)
    def probe(key):
        start = ei.init(key)
        after_rollout, batch, _ = ei.rollout(start)
        trained, aux = ei.distil(after_rollout, batch)
        flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), batch)

        def loss(params):
            _, _, rows = jax.vmap(lambda o: network.apply(params, o, method="with_node_values"))(flat.obs)
            return hint_loss(rows, flat.labels, flat.obs, rule_iterations(network, flat.obs), "hint")

        return start, batch, loss(start.params), loss(trained.params), aux

    start, batch, before, after, aux = jax.device_get(probe(jax.random.key(3)))
    np.testing.assert_array_equal(batch.labels[0], np.asarray(start.env_state.value).astype(bool))
    assert float(aux["aux_loss"]) > 0 and float(aux["nonfinite"]) == 0
    assert float(after) < float(before) - 1e-3, (before, after)
