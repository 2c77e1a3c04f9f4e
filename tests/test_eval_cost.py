"""Evaluation cost known before it starts: huge evaluations refused in one line, chunks sized to memory."""

from __future__ import annotations

import time

import numpy as np
import pytest

from do1rl import cli
from do1rl.agents.baselines import greedy_policy
from do1rl.core import limits
from do1rl.envs import make
from do1rl.evaluation import play
from do1rl.evaluation.cost import STATE_COPIES, check_node_steps, episodes_per_chunk, node_steps, state_bytes


@pytest.mark.parametrize(
    "env_args",
    [
        ["chain_length=1000000"],  # sat in XLA for minutes, then ran for hours
        ["family=biregular", "depth=100000", "width=4", "stratify_d1=false"],
        ["depth=3", "width=300000"],
    ],
)
def test_eval_beyond_the_node_step_limit_is_refused_in_one_line_at_once(capsys, env_args):
    start = time.perf_counter()
    argv = ["eval", "--agent", "greedy", "--episodes", "8", "--no-progress"]
    for pair in env_args:
        argv += ["--env-arg", pair]
    assert cli.main(argv) == 2
    assert time.perf_counter() - start < 30
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "node-steps" in err[0] and "--max-node-steps" in err[0]


def test_node_steps_counts_solve_and_steps_and_mcts_simulations():
    env, _ = make("do1rl/DO1-v0", n_inputs=3, depth=3, width=3)
    one = (env.max_depth + env.max_horizon) * env.num_nodes
    assert node_steps(env, 10) == 10 * one
    assert node_steps(env, 1, per_step=65) == (env.max_depth + 65 * env.max_horizon) * env.num_nodes
    check_node_steps(env, 10, limit=10 * one)  # at the limit: allowed
    with pytest.raises(limits.InputError, match="node-steps"):
        check_node_steps(env, 11, limit=10 * one)


def test_chunks_shrink_to_fit_memory_and_results_do_not_change(monkeypatch):
    env, params = make("do1rl/DO1-v0", n_inputs=3, depth=3, width=3)
    whole = play(env, params, greedy_policy, episodes=12, seed=3)
    monkeypatch.setattr(limits, "MAX_EVAL_CHUNK_BYTES", 5 * STATE_COPIES * state_bytes(env))
    assert episodes_per_chunk(env, 1024) == 5
    small = play(env, params, greedy_policy, episodes=12, seed=3)  # chunks of 5, 5, 2
    for a, b in zip(whole, small):
        if a is not None:
            np.testing.assert_array_equal(a, b)
    big, _ = make("do1rl/DO1-v0", n_inputs=3, depth=3, width=3, chain_length=1_000_000)
    monkeypatch.undo()
    assert episodes_per_chunk(big, 1024) * STATE_COPIES * state_bytes(big) <= limits.MAX_EVAL_CHUNK_BYTES
