"""Simulation-budget sweeps of the MCTS agent on one fixed batch of instances.

    from do1rl.mcts_sweep import budget_sweep

    rows = budget_sweep(env, params, MCTSConfig(gumbel_scale=0.0), budgets=(1, 2, 4, 8), episodes=256, seed=0)

Every budget plays the same episodes (episode i uses the evaluator's key
`fold_in(key(seed), i)`, so the same instance and the same search keys), so
rows differ only by the budget. `scripts/mcts_sweep.py` is the command line.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import jax
import numpy as np

from do1rl.agents.mcts import MCTSConfig, PriorFn, SerialDepthFn, make_mcts_policy
from do1rl.evaluation import METRIC_KEYS, episode_keys, make_player, metrics, play

ROW_KEYS = ("simulations", *METRIC_KEYS, "decisions", "decisions_per_s", "compile_s", "run_s", "serial_depth_per_decision")


def doubling_budgets(max_simulations: int) -> tuple[int, ...]:
    """1, 2, 4, ... up to `max_simulations` (which is always the last budget)."""
    if max_simulations < 1:
        raise ValueError(f"max_simulations must be >= 1, got {max_simulations}")
    budgets = [1]
    while budgets[-1] * 2 <= max_simulations:
        budgets.append(budgets[-1] * 2)
    if budgets[-1] != max_simulations:
        budgets.append(max_simulations)
    return tuple(budgets)


def budget_sweep(
    env,
    params,
    config: MCTSConfig | None = None,
    budgets: Sequence[int] | None = None,
    *,
    episodes: int = 256,
    seed: int = 0,
    chunk: int = 1024,
    prior_fn: PriorFn | None = None,
    prior_serial_depth: SerialDepthFn | None = None,
    progress: bool = False,
    compiler_options: dict | None = None,
) -> list[dict]:
    """Evaluates MCTS at each simulation budget on the same episodes.

    Args:
      env, params: the functional env and its `EnvParams`.
      config: the `MCTSConfig` whose `simulations` is replaced by each budget
        (default `MCTSConfig()`).
      budgets: simulation budgets, each >= 1 (default: `doubling_budgets(
        config.simulations)`).
      episodes, seed: the fixed batch (episodes 0..episodes-1 of `seed`).
      chunk: episodes per compiled call (memory grows with chunk x budget).
      prior_fn, prior_serial_depth: as for `make_mcts_policy`.
      progress: print one line per finished budget.
      compiler_options: XLA options for compiling the players, e.g.
        `{"xla_backend_optimization_level": 0}` halves compile time on CPU
        and slows the run (tests use it; leave None when timing).

    Returns:
      One dict per budget, in order, with `ROW_KEYS`: `simulations`, the
      `do1rl.evaluation` metrics (`METRIC_KEYS`), `decisions` (actions taken
      over all episodes), `decisions_per_s` (decisions / run_s, run time
      without compilation), `compile_s`, `run_s` and
      `serial_depth_per_decision`.
    """
    config = config or MCTSConfig()
    budgets = doubling_budgets(config.simulations) if budgets is None else tuple(int(b) for b in budgets)
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    size = min(chunk, episodes)
    rows = []
    for budget in budgets:
        policy = make_mcts_policy(
            env, params, dataclasses.replace(config, simulations=budget), prior_fn, prior_serial_depth
        )
        t0 = time.perf_counter()
        lowered = make_player(env, policy).lower(params, episode_keys(seed, 0, size))
        player = lowered.compile(compiler_options) if compiler_options else lowered.compile()
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = play(env, params, policy, episodes=episodes, seed=seed, chunk=size, player=player)
        jax.block_until_ready(out)
        run_s = time.perf_counter() - t0
        report = metrics(out)
        decisions = int(np.sum(out.length))
        row = {"simulations": budget, **{k: report[k] for k in METRIC_KEYS}}
        row.update(
            decisions=decisions,
            decisions_per_s=decisions / run_s,
            compile_s=compile_s,
            run_s=run_s,
            serial_depth_per_decision=policy.describe()["serial_depth_per_decision"],
        )
        rows.append(row)
        if progress:
            print(format_row(row), flush=True)
    return rows


_COLUMNS = (
    ("simulations", "d"),
    ("mean_ratio", ".4f"),
    ("mean_regret", ".4f"),
    ("max_regret", ".1f"),
    ("min_ratio", ".4f"),
    ("decisions_per_s", ".1f"),
    ("compile_s", ".1f"),
    ("serial_depth_per_decision", "d"),
)


def format_header() -> str:
    return " ".join(f"{name:>{max(len(name), 11)}}" for name, _ in _COLUMNS)


def format_row(row: dict) -> str:
    return " ".join(f"{row[name]:>{max(len(name), 11)}{fmt}}" for name, fmt in _COLUMNS)


def format_table(rows: list[dict]) -> str:
    """A readable table of `budget_sweep` rows."""
    return "\n".join([format_header(), *(format_row(r) for r in rows)])
