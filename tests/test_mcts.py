"""MCTS on the true model (do1rl.agents.mcts), its budget sweep (`do1rl sweep`) and `do1rl eval --agent mcts`.

Every MCTS configuration costs one compilation (a few seconds), so each
compiled runner is module-scoped and does several checks at once: the
episode runner below plays episodes exactly as the evaluator does and, at
every decision, also counts the illegal edges in the search tree.
"""

from __future__ import annotations

import functools
import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from walks import random_walk_states

from do1rl.agents.mcts import MCTSConfig, make_mcts_policy, serial_depth_per_decision
from do1rl.cli import main
from do1rl.core.generators import RandomAlternating
from do1rl.envs import DO1, AlternatingCircuit
from do1rl.evaluation import episode_keys
from do1rl.experiments.sweep import GridConfig, SweepConfig, read_results, run_sweep
from do1rl.experiments.train_config import EnvConfig, EvalConfig, TrainConfig

DEPTH4 = RandomAlternating(n_inputs=4, depth=4, width=4)
DEPTH3 = RandomAlternating(n_inputs=3, depth=3, width=3)
# Deterministic root (no Gumbel noise): the evaluation setting.
EVAL = MCTSConfig(simulations=64, gumbel_scale=0.0)
# Compiling dominates these tests: XLA's -O0 halves compile time on CPU (runs
# get slower, so only for the short runs) and -O1 saves a quarter.
FAST_COMPILE = {"xla_backend_optimization_level": 0}
QUICK_COMPILE = {"xla_backend_optimization_level": 1}


def tree_edges(env, tree, node_states) -> tuple[jax.Array, jax.Array]:
    """(illegal, deep) expanded edges of one unbatched search tree, its nodes' states given.

    An edge (node, action) is expanded when its visit count is positive; it
    is illegal when `action` is masked in the node's own state. `deep` counts
    the expanded edges below the root (to show the check is not vacuous).
    """
    expanded = tree.children_visits > 0
    legal = jax.vmap(env.action_mask)(node_states)
    below_root = jnp.arange(expanded.shape[0])[:, None] > 0
    return jnp.sum(expanded & ~legal), jnp.sum(expanded & below_root)


def checked_runner(env, params, policy):
    """jit(vmap(episode)) over keys: returns, optimal, illegal tree edges, deep edges, invalid actions.

    Uses the evaluator's keys (`do1rl.evaluation.play_episode`), so it plays
    the same episodes as `evaluate(env, params, policy, ...)`.
    """

    def episode(key):
        reset_key, key = jax.random.split(key)
        obs, state = env.reset(reset_key, params)

        def body(c):
            key, obs, state, ret, illegal, deep, invalid = c
            key, act_key, step_key = jax.random.split(key, 3)
            batch = jax.tree.map(lambda x: x[None], state)
            out = policy.search(act_key, batch)
            first = lambda tree: jax.tree.map(lambda x: x[0], tree)
            bad, below = tree_edges(env, first(out.search_tree), first(policy.node_states(out.search_tree, batch)))
            obs, state, reward, _, _, info = env.step(step_key, state, out.action[0], params)
            return key, obs, state, ret + reward, illegal + bad, deep + below, invalid + info["invalid_action"]

        zero = jnp.int32(0)
        init = (key, obs, state, jnp.float32(0), zero, zero, zero)
        _, _, final, ret, illegal, deep, invalid = jax.lax.while_loop(lambda c: ~c[2].terminated, body, init)
        return ret, final.optimal_return, illegal, deep, invalid

    return jax.jit(jax.vmap(episode), compiler_options=QUICK_COMPILE)


@pytest.fixture(scope="module", params=["alternating", "do1"])
def zero_regret_run(request):
    if request.param == "alternating":
        env = AlternatingCircuit(DEPTH4, stop_action=True)
    else:
        env = DO1(DEPTH4, stop_action=True)
    params = env.default_params
    policy = make_mcts_policy(env, params, EVAL)
    out = checked_runner(env, params, policy)(episode_keys(0, 0, 32))
    return env, [np.asarray(x) for x in out]


@pytest.mark.slow
def test_full_root_budget_has_zero_regret(zero_regret_run):
    """With STOP and simulations >= legal root actions, the search finds d1 (and the chain) exactly."""
    env, (returns, optimal, _, _, _) = zero_regret_run
    assert EVAL.simulations >= env.num_actions  # every legal root action gets a simulation
    assert optimal.max() > 0 and len(np.unique(optimal)) > 1  # not all trivial
    np.testing.assert_array_equal(returns, optimal)


def test_search_trees_and_actions_stay_legal(zero_regret_run):
    _env, (_, _, illegal, deep, invalid) = zero_regret_run
    assert deep.sum() > 0  # the trees do grow below the root
    assert illegal.sum() == 0
    assert invalid.sum() == 0


def illegal_loving_prior(obs):
    """A prior that puts its mass on the illegal actions (masking must still win)."""
    return jnp.where(obs.action_mask, 0.0, 20.0), jnp.float32(1.5)


@pytest.mark.slow
def test_muzero_runs_and_stays_legal():
    env = DO1(DEPTH3, stop_action=True, chain_length=2)
    params = env.default_params
    config = MCTSConfig(simulations=24, algorithm="muzero")
    policy = make_mcts_policy(env, params, config, prior_fn=illegal_loving_prior)

    @functools.partial(jax.jit, compiler_options=FAST_COMPILE)
    def run(keys, key):
        states = random_walk_states(env, params, keys)
        out = policy.search(key, states)
        legal = jax.vmap(lambda s, a: env.action_mask(s)[a])(states, out.action)
        node_states = policy.node_states(out.search_tree, states)
        illegal, deep = jax.vmap(lambda t, s: tree_edges(env, t, s))(out.search_tree, node_states)
        return states.terminated, states.chosen, legal, illegal, deep

    terminated, chosen, legal, illegal, deep = map(np.asarray, run(jax.random.split(jax.random.key(1), 64), jax.random.key(2)))
    assert terminated.any() and not terminated.all()
    assert (chosen == -1).any()  # some states before DO1's forced choice
    assert legal.all()
    assert deep.sum() > 0
    assert illegal.sum() == 0


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """The MCTS budget sweep (`do1rl sweep`, grid.simulations) at 1, 2 and 4 simulations: its "all" rows."""
    env = EnvConfig("do1rl/AlternatingCircuit-v0", {"n_inputs": 3, "depth": 3, "width": 3, "stop_action": True})
    config = SweepConfig(
        name="mcts",
        grid=GridConfig(agents=("mcts",), simulations=(1, 2, 4)),
        train=TrainConfig(env=env, eval=EvalConfig(episodes=64, seed=0)),
        mcts=MCTSConfig(gumbel_scale=0.0),
    )
    out = tmp_path_factory.mktemp("mcts-sweep")
    assert run_sweep(config, out, progress=False, log=lambda message: None) == 0
    return [r for r in read_results(out) if r["depth_group"] == "all" and r["seed_index"] != "all"]


@pytest.mark.slow
def test_sweep_rows_share_one_batch(sweep):
    assert [r["simulations"] for r in sweep] == [1, 2, 4]
    assert len({r["mean_optimal"] for r in sweep}) == 1  # the same instances at every budget
    for r in sweep:
        assert r["episodes"] == 64 and r["search_env_steps"] >= 64 * r["simulations"]
        assert r["serial_depth"] == r["simulations"]
        assert r["eval_s"] > 0
        for key in ("mean_ratio", "mean_regret", "max_regret", "median_ratio", "p5_ratio", "min_ratio"):
            assert key in r


@pytest.mark.slow
def test_ratio_does_not_decrease_with_budget(sweep):
    ratios = [r["mean_ratio"] for r in sweep]
    assert all(b >= a - 0.02 for a, b in itertools.pairwise(ratios)), ratios
    assert ratios[-1] > ratios[0] + 0.1, ratios  # search helps


def test_serial_depth_rule():
    assert serial_depth_per_decision(MCTSConfig(simulations=64)) == 64  # uniform prior: env step = 1 layer
    assert serial_depth_per_decision(MCTSConfig(simulations=8), 3) == 3 + 8 * (1 + 3)
    env = AlternatingCircuit(DEPTH3)
    policy = make_mcts_policy(env, None, MCTSConfig(simulations=5), prior_serial_depth=lambda obs: jnp.int32(2))
    obs = {k: jnp.zeros(shape, dtype) for k, (shape, dtype) in env.observation_shapes().items()}
    info = policy.describe(obs)
    assert info["serial_depth_per_decision"] == 2 + 5 * 3 and info["prior_serial_depth"] == 2
    assert info["mcts"]["max_depth"] == env.max_horizon and info["mcts"]["max_considered"] == env.num_actions


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"simulations": 0}, "simulations"),
        ({"algorithm": "alphazero"}, "algorithm"),
        ({"max_considered": 0}, "max_considered"),
        ({"leaf_value": "oracle"}, "leaf_value"),
    ],
)
def test_config_rejects_bad_values(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        MCTSConfig(**kwargs)


@pytest.fixture
def quick_xla():
    """Unoptimised XLA compiles for code we do not jit ourselves (the CLI's evaluator)."""
    old = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", old)


@pytest.mark.slow
def test_cli_eval_mcts(tmp_path, capsys, quick_xla):
    out = tmp_path / "mcts.json"
    args = [
        "eval",
        "--agent",
        "mcts",
        "--simulations",
        "8",
        "--env-arg",
        "depth=3",
        "--env-arg",
        "width=3",
        "--env-arg",
        "stop_action=true",
        "--episodes",
        "8",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert report["agent"] == "mcts" and report["episodes"] == 8
    assert report["serial_depth_per_decision"] == 8
    assert report["mcts"]["simulations"] == 8 and report["mcts"]["algorithm"] == "gumbel"
    assert report["mcts_prior"] is None
    assert 0 <= report["mean_ratio"] <= 1
    assert "serial depth 8 per decision" in capsys.readouterr().out


def test_cli_eval_mcts_prior_not_a_run(tmp_path, capsys):
    spec = f"ppo:{tmp_path / 'no-such-run'}"
    assert main(["eval", "--agent", "mcts", "--no-progress", "--episodes", "4", "--mcts-prior", spec]) == 2
    err = capsys.readouterr().err
    assert spec in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--simulations", "0"], "--simulations: expected an integer in 1.."),
        (["--max-considered", "0"], "--max-considered: expected an integer in 1.."),
        (["--mcts-algorithm", "alphazero"], "unknown MCTS algorithm"),
        (["--mcts-prior", "bogus"], "MCTS prior: expected ppo:RUN_DIR"),
    ],
)
def test_cli_eval_mcts_bad_input_exits_2(extra, needle, capsys):
    assert main(["eval", "--agent", "mcts", "--no-progress", "--episodes", "4", *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
