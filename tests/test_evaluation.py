"""Baseline policies, the evaluator's metrics, the regression-test helper and `do1rl eval`."""

from __future__ import annotations

import json
from types import SimpleNamespace

import jax
import numpy as np
import pytest

from do1rl.agents.baselines import greedy_policy, oracle_policy, random_policy
from do1rl.cli import main
from do1rl.evaluation import Episodes, evaluate, make_player, metrics, play, reset_starts, value_report
from do1rl.testing import assert_regret_within

EPISODES = 96
SMALL_KW = dict(n_inputs=3, depth=3, width=3)


@pytest.fixture(scope="module")
def players(do1, do1_stop, alternating, alternating_stop):
    """One compiled player per (env, policy), shared by the tests below."""
    envs = {"do1": do1, "do1_stop": do1_stop, "alt": alternating, "alt_stop": alternating_stop}
    policies = {"oracle": oracle_policy, "random": random_policy, "greedy": greedy_policy}
    return {(e, p): (ns.env, ns.params, make_player(ns.env, fn)) for e, ns in envs.items() for p, fn in policies.items()}


def _play(players, env, policy, episodes=EPISODES, seed=0, chunk=1024):
    e, params, player = players[(env, policy)]
    return play(e, params, None, episodes=episodes, seed=seed, chunk=chunk, player=player)


@pytest.mark.parametrize("env", ["do1", "do1_stop", "alt", "alt_stop"])
def test_oracle_has_zero_regret(players, env):
    out = _play(players, env, "oracle")
    np.testing.assert_array_equal(out.returns, out.optimal)
    assert out.optimal.max() > 0  # the instances are not all trivial


@pytest.mark.slow
@pytest.mark.parametrize("env", ["do1", "alt"])
def test_random_has_positive_regret(players, env):
    report = metrics(_play(players, env, "random"))
    assert report["mean_regret"] > 0.1
    assert report["mean_ratio"] < 0.95
    assert report["max_regret"] >= 1


@pytest.mark.slow
def test_greedy_returns_zero_or_its_pick_depth(players):
    """Greedy picks the deepest selectable gate once: its return is 0 or that depth."""
    out = _play(players, "alt", "greedy")
    assert set(np.unique(out.returns)) <= {0.0} | set(np.unique(out.circuit_depth).astype(float))
    # In DO1 greedy prefers C when C is deeper than the chain, so it sometimes loses.
    do1 = metrics(_play(players, "do1", "greedy"))
    assert do1["mean_regret"] > 0


def test_metrics_by_hand():
    eps = Episodes(
        returns=np.array([2.0, 0.0, 3.0, 0.0]),
        optimal=np.array([4, 0, 3, 2]),
        circuit_depth=np.array([5, 5, 7, 7]),
        length=np.array([1, 1, 1, 1]),
    )
    m = metrics(eps)
    # ratios: 0.5, 1 (r* = 0), 1, 0; regrets: 2, 0, 0, 2
    assert m["episodes"] == 4
    assert m["mean_ratio"] == pytest.approx(0.625)
    assert m["median_ratio"] == pytest.approx(0.75)
    assert m["min_ratio"] == 0.0
    assert m["p5_ratio"] == pytest.approx(np.percentile([0.5, 1, 1, 0], 5))
    assert m["mean_regret"] == 1.0 and m["max_regret"] == 2.0
    assert m["mean_return"] == 1.25 and m["mean_optimal"] == 2.25
    assert m["by_depth"]["5"]["mean_ratio"] == pytest.approx(0.75)
    assert m["by_depth"]["7"]["max_regret"] == 2.0
    assert m["by_depth"]["7"]["episodes"] == 2


@pytest.mark.slow
def test_same_seed_same_numbers_any_chunk(players):
    a = _play(players, "do1", "random", episodes=40, seed=3, chunk=1024)
    b = _play(players, "do1", "random", episodes=40, seed=3, chunk=16)
    c = _play(players, "do1", "random", episodes=40, seed=4, chunk=1024)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.returns, c.returns) or not np.array_equal(a.optimal, c.optimal)


@pytest.mark.slow
@pytest.mark.parametrize("env", ["do1_stop", "alt"])
def test_starts_give_the_same_episodes(players, env):
    """Resets made once (`reset_starts`) and replayed give the episodes `play` makes itself, chunked or not."""
    e, params, _ = players[(env, "random")]
    starts = reset_starts(e, params, episodes=40, seed=5, chunk=16)
    plain = _play(players, env, "random", episodes=37, seed=5)
    for chunk in (1024, 16):
        replayed = play(e, params, None, episodes=37, seed=5, chunk=chunk, player=players[(env, "random")][2], starts=starts)
        for x, y in zip(plain, replayed):
            np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="fewer than"):
        play(e, params, None, episodes=41, seed=5, player=players[(env, "random")][2], starts=starts)


def test_play_matches_python_loop(players, do1):
    """The vmapped while-loop player agrees with stepping the env by hand."""
    from do1rl.evaluation import episode_keys

    out = _play(players, "do1", "random", episodes=6, seed=1)
    for i, key in enumerate(episode_keys(1, 0, 6)):
        reset_key, key = jax.random.split(key)
        obs, state = do1.reset(reset_key, do1.params)
        total = 0.0
        while not bool(state.terminated):
            key, act_key, step_key = jax.random.split(key, 3)
            obs, state, reward, *_ = do1.step(step_key, state, random_policy(act_key, obs, state), do1.params)
            total += float(reward)
        assert total == out.returns[i]
        assert int(state.optimal_return) == out.optimal[i]


def test_value_report_matches_python_loop(do1_stop):
    env, params = do1_stop.env, do1_stop.params
    value_fn = lambda obs: 1.0 + obs.steps_left
    report = value_report(env, params, value_fn, greedy_policy, episodes=8, seed=0)
    ratios, zero_values = [], []
    from do1rl.evaluation import episode_keys

    for key in episode_keys(0, 0, 8):
        reset_key, key = jax.random.split(key)
        obs, state = do1_stop.reset(reset_key, params)
        while not bool(state.terminated):
            v, v_star = float(value_fn(obs)), int(do1_stop.optimal_value(state))
            (ratios.append(v / v_star) if v_star > 0 else zero_values.append(abs(v)))
            key, act_key, step_key = jax.random.split(key, 3)
            obs, state, *_ = do1_stop.step(step_key, state, greedy_policy(act_key, obs, state), params)
    assert report["positive_states"] == len(ratios)
    assert report["zero_states"] == len(zero_values)
    assert report["min_value_ratio"] == pytest.approx(min(ratios))
    assert report["max_value_ratio"] == pytest.approx(max(ratios))
    if zero_values:
        assert report["zero_state_max_abs_value"] == pytest.approx(max(zero_values))


@pytest.mark.slow
def test_assert_regret_within_passes_and_fails():
    report = assert_regret_within("oracle", "do1rl/DO1-v0", episodes=64, max_regret=0, min_ratio=1.0, seed=0, **SMALL_KW)
    assert report["mean_regret"] == 0
    with pytest.raises(AssertionError) as err:
        assert_regret_within(random_policy, "do1rl/DO1-v0", episodes=64, max_mean_regret=0.0, seed=0, **SMALL_KW)
    message = str(err.value)
    assert "mean_regret" in message and "measured" in message and "mean_ratio" in message
    with pytest.raises(TypeError, match="unknown keyword"):
        assert_regret_within("oracle", "do1rl/DO1-v0", episodes=8, bogus=1)


def test_evaluate_uses_same_metrics(players):
    e, params, _ = players[("alt", "oracle")]
    report = evaluate(e, params, oracle_policy, episodes=16, seed=0)
    assert report["mean_ratio"] == 1.0 and report["max_regret"] == 0.0


def test_cli_eval_writes_metrics(tmp_path, capsys):
    out = tmp_path / "m.json"
    args = [
        "eval",
        "--env",
        "do1rl/AlternatingCircuit-v0",
        "--agent",
        "oracle",
        "--episodes",
        "32",
        "--seed",
        "0",
        "--no-progress",
        "--out",
        str(out),
        "--max-regret",
        "0",
        "--min-ratio",
        "1",
    ]
    args += [f"--env-arg={k}={v}" for k, v in SMALL_KW.items()] + ["--env-arg", "stop_action=true"]
    assert main(args) == 0
    report = json.loads(out.read_text())
    for key in ("episodes", "mean_return", "mean_optimal", "mean_regret", "max_regret", "mean_ratio", "min_ratio", "by_depth"):
        assert key in report
    assert report["episodes"] == 32 and report["mean_regret"] == 0
    assert "mean_ratio" in capsys.readouterr().out


def test_cli_eval_bound_broken_exits_1(capsys):
    args = ["eval", "--agent", "random", "--episodes", "32", "--no-progress", "--max-mean-regret", "0"]
    args += [f"--env-arg={k}={v}" for k, v in SMALL_KW.items()]
    assert main(args) == 1
    assert "bound broken: mean_regret" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--env", "do1rl/Nope-v0"], "unknown environment"),
        (["--agent", "alphazero"], "unknown agent"),
        (["--env-arg", "colour=red"], "unknown keyword"),
        (["--env-arg", "depth=-1"], "depth must be"),
        (["--env-arg", "depth"], "expected KEY=VALUE"),
        (["--episodes", "0"], "--episodes: expected an integer in 1.."),
        (["--episodes", "many"], "--episodes: expected an integer"),
        (["--env-arg", "circuit_files=[no/such/file.json]"], "no/such/file.json: cannot read file"),
    ],
)
def test_cli_eval_bad_input_exits_2(extra, needle, capsys):
    assert main(["eval", "--no-progress", *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_random_policy_is_uniform_over_the_mask():
    mask = np.zeros(12, bool)
    mask[[0, 3, 4, 9, 11]] = True
    obs = SimpleNamespace(action_mask=jax.numpy.asarray(mask))
    draws = jax.jit(jax.vmap(lambda k: random_policy(k, obs, None)))(jax.random.split(jax.random.key(0), 20000))
    counts = np.bincount(np.asarray(draws), minlength=12)
    assert counts[~mask].sum() == 0
    # 4,000 expected per legal action; 5 sigma is about 310.
    np.testing.assert_allclose(counts[mask], 4000, atol=310)


# ----- decisive cases (issue 21) ------------------------------------------------------------------
ONE_SHOT = ["family=biregular", "width=3", "depth=3", "k=2", "stratify_d1=false", "max_selections=1", "chain_scale=circuit"]


def test_decisive_metrics_by_hand():
    from do1rl.evaluation.first_choice import decisive_metrics, format_decisive

    eps = Episodes(
        returns=np.zeros(4),
        optimal=np.zeros(4),
        circuit_depth=np.full(4, 3),
        length=np.ones(4),
        d1=np.array([3, 1, 2, 0]),
        cert_d1=np.full(4, 3),
        chain_length=np.array([1, 2, 2, 3]),
        first_circuit=np.array([0, 0, 1, 1]),  # right, wrong, right (tie), right
    )
    flags = {0: np.array([True, True, False, False, True]), 3: np.zeros(4, bool)}  # extra flags beyond E are ignored
    report = decisive_metrics(eps, flags)
    assert report == {"0": {"episodes": 2, "accuracy": 0.5}, "3": {"episodes": 0, "accuracy": None}}
    assert "n/a" in format_decisive(report)
    assert metrics(eps, flags)["decisive"] == report and "decisive" not in metrics(eps)


@pytest.mark.slow
def test_sweep_evaluation_scores_decisive_cases():
    """On one-shot biregular DO1: decisive_accuracy_L{L} over the flagged episodes, their count, the L = 0 ceiling."""
    from do1rl.agents.baselines import always_chain_policy
    from do1rl.envs.make import make
    from do1rl.evaluation.first_choice import ceiling_ratios, decisive_flags, forced_choice
    from do1rl.experiments.sweep.evaluate import evaluation

    env, params = make(
        "do1rl/DO1-v0", family="biregular", width=3, depth=3, k=2, stratify_d1=False, max_selections=1, chain_scale="circuit"
    )
    starts = reset_starts(env, params, episodes=64, seed=0)
    player = make_player(env, always_chain_policy)
    out = evaluation(env, params, [player, player], episodes=60, seed=0, test_depth=3, iterations=None, starts=starts)
    flags = decisive_flags(env, starts[1], (0, 3))
    right = forced_choice(play(env, None, None, episodes=60, seed=0, player=player, starts=starts))[0]
    for blocks in (0, 3):
        decisive = flags[blocks][:60]
        assert out["decisive_episodes"][str(blocks)] == int(decisive.sum())
        assert out["reports"][0]["decisive"][str(blocks)]["episodes"] == int(decisive.sum())
        if decisive.any():
            assert out["intervals"][f"decisive_accuracy_L{blocks}"]["mean"] == pytest.approx(right[decisive].mean())
    assert out["decisive_episodes"]["0"] > 0
    prior = out["intervals"]["ceiling_ratio_L0"]
    assert prior["mean"] == pytest.approx(ceiling_ratios(env, starts[1], 0)[:60].mean())
    assert prior["low"] <= prior["mean"] <= prior["high"] <= 1.0


def test_no_decisive_cases_off_biregular_one_shot(players):
    from do1rl.evaluation.first_choice import ceiling_ratios, decisive_flags
    from do1rl.experiments.sweep.evaluate import evaluation

    env, params, player = players[("do1", "greedy")]
    starts = reset_starts(env, params, episodes=8, seed=0)
    assert decisive_flags(env, starts[1], (0, 3)) is None and ceiling_ratios(env, starts[1], 0) is None
    out = evaluation(env, params, [player], episodes=8, seed=0, test_depth=None, iterations=None, starts=starts)
    assert "decisive_episodes" not in out and not any(k.startswith(("decisive", "ceiling")) for k in out["intervals"])


def test_cli_eval_reports_decisive_cases(tmp_path, capsys):
    out = tmp_path / "m.json"
    args = ["eval", "--agent", "always_chain", "--episodes", "48", "--no-progress", "--out", str(out), "--decisive-blocks", "0", "2"]
    assert main(args + [f"--env-arg={a}" for a in ONE_SHOT]) == 0
    report = json.loads(out.read_text())
    assert set(report["decisive"]) == {"0", "2"}
    assert report["decisive"]["0"]["episodes"] > 0 and 0.0 <= report["decisive"]["0"]["accuracy"] <= 1.0
    assert "forced choice on decisive episodes" in capsys.readouterr().out
