"""The depth curriculum (agents/curriculum.py) and the random read-out step, against hand-worked schedules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from do1rl.agents.curriculum import CurriculumConfig, CurriculumState, advance, lr_scale
from do1rl.agents.networks import NetworkConfig, make_network, rule_iterations
from do1rl.agents.ppo import PPO, PPOConfig
from do1rl.envs.make import make

LEVELS = ((2,), (2, 3), (3, 4))
ENV_ARGS = {
    "family": "biregular",
    "width": 3,
    "k": 2,
    "p_one": 0.6,
    "max_selections": 1,
    "chain_scale": "circuit",
    "stratify_d1": False,
    "depths": [2, 3, 4],
    "pad_depth": 4,
}


def _run(config: CurriculumConfig, ratios) -> list[int]:
    state, levels = CurriculumState.start(), []
    for r in ratios:
        state = advance(config, state, jnp.float32(r))
        levels.append(int(state.level))
    return levels


def test_schedule_steps_every_min_updates_and_stops_at_the_last_level():
    config = CurriculumConfig(levels=LEVELS, gate="schedule", min_updates=3)
    assert _run(config, [0.0] * 10) == [0, 0, 1, 1, 1, 2, 2, 2, 2, 2]


def test_gate_waits_for_min_updates_and_the_moving_ratio():
    config = CurriculumConfig(levels=LEVELS, threshold=0.9, min_updates=2, smoothing=0.5)
    # moving ratio: 1.0 (first), then 0.5*1.0 + 0.5*0.7 = 0.85 < 0.9, then 0.925 >= 0.9 -> step at the 3rd update
    assert _run(config, [1.0, 0.7, 1.0]) == [0, 0, 1]
    # at a new level the moving ratio restarts from its first iteration: 1.0 after 1 update, but min_updates is 2
    assert _run(config, [1.0, 0.7, 1.0, 1.0, 1.0, 1.0]) == [0, 0, 1, 1, 2, 2]
    assert _run(config, [0.5] * 20) == [0] * 20


def test_below_counts_iterations_under_the_threshold_in_a_row():
    config = CurriculumConfig(levels=LEVELS, threshold=0.9, min_updates=50, smoothing=1.0, restart_after=60)
    state = CurriculumState.start()
    counts = []
    for r in (0.5, 0.5, 0.95, 0.5, 0.5, 0.5):
        state = advance(config, state, jnp.float32(r))
        counts.append(int(state.below))
    assert counts == [1, 2, 0, 1, 2, 3]


def test_level_weights_pick_the_level_depths():
    config = CurriculumConfig(levels=LEVELS)
    np.testing.assert_array_equal(config.level_weights((2, 3, 4)), [[1, 0, 0], [1, 1, 0], [0, 1, 1]])
    with pytest.raises(ValueError, match=r"\[5\] are not in"):
        CurriculumConfig(levels=((5,),)).level_weights((2, 3, 4))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"gate": "loss"}, "gate"),
        ({"levels": ((),)}, "at least one depth"),
        ({"levels": ((0,),)}, ">= 1"),
        ({"threshold": 1.5}, "threshold"),
        ({"min_updates": 0}, "min_updates"),
        ({"smoothing": 0.0}, "smoothing"),
        ({"last_level_lr_scale": 0.0}, "last_level_lr_scale"),
        ({"last_level_lr_scale": 2.0}, "last_level_lr_scale"),
        ({"last_level_lr_decay": -1}, "last_level_lr_decay"),
    ],
)
def test_config_refusals(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CurriculumConfig(**{"levels": LEVELS, **kwargs})


def test_lr_scale_applies_at_the_last_level_only():
    config = CurriculumConfig(levels=LEVELS, last_level_lr_scale=0.25)
    at = lambda level: CurriculumState.start().replace(level=jnp.int32(level))
    assert [float(lr_scale(config, at(level))) for level in range(3)] == [1.0, 1.0, 0.25]


def test_lr_decay_falls_linearly_over_the_last_level():
    config = CurriculumConfig(levels=LEVELS, last_level_lr_scale=0.2, last_level_lr_decay=100)
    at = lambda level, updates: CurriculumState.start().replace(level=jnp.int32(level), updates=jnp.int32(updates))
    factors = [float(lr_scale(config, at(2, u))) for u in (0, 50, 100, 400)]
    np.testing.assert_allclose(factors, [1.0, 0.6, 0.2, 0.2], rtol=1e-6)
    assert float(lr_scale(config, at(1, 50))) == 1.0


@pytest.fixture(scope="module")
def mixture():
    env, params = make("do1rl/DO1-v0", **ENV_ARGS)
    net = make_network(NetworkConfig(family="bottleneck", width=8, max_iterations=9, loop_iterations=9), env)
    return env, params, net


@pytest.mark.slow  # compiles PPO pieces
def test_levels_draw_only_their_depths(mixture):
    env, params, net = mixture
    ppo = PPO(env, params, net, PPOConfig(total_timesteps=64, num_envs=4, num_steps=16), curriculum=CurriculumConfig(levels=LEVELS))
    keys = jax.random.split(jax.random.key(0), 200)
    for level, depths in enumerate(LEVELS):
        obs, _ = jax.vmap(env.reset, in_axes=(0, None))(keys, ppo.level_params(level))
        main = np.where(np.asarray(obs.circuit_id) == 0, np.asarray(obs.depth), 0).max(axis=-1)
        assert set(np.unique(main)) == set(depths)


@pytest.mark.slow  # compiles PPO pieces
def test_read_out_step_range(mixture):
    """t ~ U{T(obs) .. loop_iterations}: T(obs) = D + 1, and every value up to the loop's length is drawn."""
    env, params, net = mixture
    ppo = PPO(env, params, net, PPOConfig(total_timesteps=64, num_envs=4, num_steps=16, random_iterations=True))
    obs, _ = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(jax.random.key(1), 64), params)
    rule = np.asarray(rule_iterations(net, obs))
    np.testing.assert_array_equal(rule, np.asarray(obs.depth).max(axis=-1) + 1)
    draws = np.stack([np.asarray(ppo._training_iterations(jax.random.key(i), obs)[0]) for i in range(100)])
    assert net.static_iterations == 9
    assert np.all(draws >= rule) and np.all(draws <= 9)
    for d in np.unique(rule):
        assert set(np.unique(draws[:, rule == d])) == set(range(int(d), 10))


def test_refusals(mixture):
    _, _, net = mixture
    config = PPOConfig(total_timesteps=64, num_envs=4, num_steps=16)
    fixed = {k: v for k, v in ENV_ARGS.items() if k not in ("depths", "pad_depth")}
    one_depth, one_params = make("do1rl/DO1-v0", **fixed, depth=3)
    with pytest.raises(ValueError, match="mixture of depths"):
        PPO(one_depth, one_params, net, config, curriculum=CurriculumConfig(levels=LEVELS))
    many, many_params = make("do1rl/DO1-v0", **{**ENV_ARGS, "max_selections": None})
    with pytest.raises(ValueError, match="max_selections=1"):
        PPO(many, many_params, net, config, curriculum=CurriculumConfig(levels=LEVELS))
    PPO(many, many_params, net, config, curriculum=CurriculumConfig(levels=LEVELS, gate="schedule"))


@pytest.mark.slow  # compiles PPO pieces
def test_no_gate_value_reaches_the_reward_only_loss(mixture):
    """Reward-only training (aux_coef 0, random read-out): the loss's gradient ignores the solver's node values."""
    env, params, net = mixture
    config = PPOConfig(total_timesteps=64, num_envs=8, num_steps=8, random_iterations=True)
    ppo = PPO(env, params, net, config, curriculum=CurriculumConfig(levels=LEVELS))
    state = ppo.init(jax.random.key(0))
    state, traj, _, _ = ppo._rollout(state)
    batch = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), traj)
    assert np.any(np.asarray(batch.labels)) and len(np.unique(np.asarray(batch.iterations))) > 1
    advantages = jnp.linspace(-1.0, 1.0, batch.action.shape[0])
    grad = jax.jit(jax.grad(lambda p, b: ppo._loss(p, b, advantages, batch.reward)[0]))
    g, flipped = grad(state.params, batch), grad(state.params, batch._replace(labels=~batch.labels))
    assert any(float(jnp.abs(x).max()) > 0 for x in jax.tree.leaves(g))
    jax.tree.map(np.testing.assert_array_equal, g, flipped)


@pytest.mark.slow  # compiles PPO pieces
def test_a_stalled_run_restarts_from_fresh_parameters(mixture):
    env, params, net = mixture
    curriculum = CurriculumConfig(levels=LEVELS, min_updates=1, restart_after=3)
    ppo = PPO(env, params, net, PPOConfig(total_timesteps=64, num_envs=4, num_steps=16), curriculum=curriculum)
    state = ppo.init(jax.random.key(0))
    state = state.replace(params=jax.tree.map(lambda x: x + 1.0, state.params))
    at = lambda level, below: state.replace(curriculum=state.curriculum.replace(level=jnp.int32(level), below=jnp.int32(below)))
    for level, below, restarts in ((1, 2, 0), (1, 3, 1), (2, 3, 1), (2, 0, 0)):  # the last level too: a collapse
        out = ppo._restart_if_stalled(at(level, below))
        assert int(out.curriculum.restarts) == restarts
        same = jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), out.params, state.params))
        assert same == (restarts == 0)
        if restarts:
            assert int(out.curriculum.level) == 0 and int(out.curriculum.updates) == 0
            assert int(out.opt_state[1][0].count) == 0
    spent = at(1, 3).replace(curriculum=at(1, 3).curriculum.replace(restarts=jnp.int32(3)))  # max_restarts = 3
    assert int(ppo._restart_if_stalled(spent).curriculum.restarts) == 3
    assert jax.tree.leaves(state.spare_params)[0].shape[0] == 3
    with pytest.raises(ValueError, match="must exceed min_updates"):
        CurriculumConfig(levels=LEVELS, min_updates=10, restart_after=10)


@pytest.mark.slow  # compiles two PPO updates
def test_last_level_lr_scale_shrinks_the_step_there(mixture):
    """From the same state, an update at the last level moves the parameters by the scale times the unscaled move.

    One epoch of one minibatch: a single optimiser step from the same parameters, so the moves are proportional.
    """
    env, params, net = mixture
    config = PPOConfig(total_timesteps=64, num_envs=4, num_steps=16, update_epochs=1, num_minibatches=1)
    plain, scaled = (PPO(env, params, net, config, curriculum=CurriculumConfig(levels=LEVELS, last_level_lr_scale=s)) for s in (1.0, 0.5))
    state = plain.init(jax.random.key(0))
    at = lambda level: state.replace(curriculum=state.curriculum.replace(level=jnp.int32(level)))

    def move(ppo, s):
        new, totals = jax.jit(ppo.update)(s)
        return jax.tree.map(jnp.subtract, new.params, s.params), float(totals.learning_rate)

    for level, factor in ((2, 0.5), (1, 1.0)):
        (full, lr_full), (half, lr_half) = move(plain, at(level)), move(scaled, at(level))
        assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(full)) > 0
        assert lr_half == pytest.approx(factor * lr_full)
        jax.tree.map(lambda a, b, f=factor: np.testing.assert_allclose(b, f * a, rtol=1e-4, atol=1e-7), full, half)


def test_family_train_overrides_one_family_and_refuses_other_sections():
    from do1rl.experiments import config as config_lib
    from do1rl.experiments.sweep import grid

    base = {
        "grid": {"agents": ["bottleneck", "gnn"]},
        "train": {"ppo": {"random_iterations": True}, "curriculum": {"levels": [[2], [3]], "restart_after": 200}},
        "family_train": {"gnn": {"ppo": {"random_iterations": False}, "curriculum": {"gate": "schedule", "restart_after": 0}}},
    }
    cells = {c.agent: c for c in grid.cells(config_lib.from_dict(grid.SweepConfig, base))}
    assert cells["bottleneck"].train.ppo.random_iterations and cells["bottleneck"].train.curriculum.restart_after == 200
    gnn = cells["gnn"].train
    assert not gnn.ppo.random_iterations and gnn.curriculum.gate == "schedule" and gnn.curriculum.levels == ((2,), (3,))
    with pytest.raises(config_lib.ConfigError, match=r"family_train\.gnn"):
        config_lib.from_dict(grid.SweepConfig, {**base, "family_train": {"gnn": {"eval": {"episodes": 3}}}})
