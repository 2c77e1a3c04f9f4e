"""Helpers for users' regression tests on regret bounds.

    from do1rl.testing import assert_regret_within

    def test_my_agent():
        assert_regret_within(my_policy, "do1rl/DO1-v0", episodes=512,
                             max_mean_regret=2.0, min_mean_ratio=0.8, seed=0, depth=4)

A bound named `max_X` / `min_X` checks the metric `X` of
`do1rl.evaluation.metrics` (so `min_ratio` bounds the worst-case ratio and
`min_mean_ratio` the mean ratio). The failure message shows every measured
metric.
"""

from __future__ import annotations

import json

from do1rl.agents.baselines import BASELINES
from do1rl.envs.registration import make_functional
from do1rl.evaluation import Policy, evaluate

BOUNDS = {
    "max_mean_regret": ("mean_regret", "<="),
    "max_regret": ("max_regret", "<="),
    "min_mean_ratio": ("mean_ratio", ">="),
    "min_ratio": ("min_ratio", ">="),
    "min_p5_ratio": ("p5_ratio", ">="),
}


def check_bounds(report: dict, **bounds: float | None) -> list[str]:
    """The bounds that `report` breaks, as readable lines (empty if none)."""
    broken = []
    for name, limit in bounds.items():
        if name not in BOUNDS:
            raise TypeError(f"unknown bound {name!r}; valid bounds: {', '.join(BOUNDS)}")
        if limit is None:
            continue
        key, op = BOUNDS[name]
        value = report[key]
        ok = value <= limit if op == "<=" else value >= limit
        if not ok:
            broken.append(f"{key} = {value:.6g}, bound {op} {limit:g}")
    return broken


def assert_regret_within(
    policy: Policy | str,
    env_id: str,
    *,
    episodes: int = 256,
    seed: int = 0,
    max_mean_regret: float | None = None,
    max_regret: float | None = None,
    min_mean_ratio: float | None = None,
    min_ratio: float | None = None,
    min_p5_ratio: float | None = None,
    **env_kwargs,
) -> dict:
    """Evaluates `policy` on `env_id` and fails if a bound is broken.

    `policy` is a baseline name ("random", "oracle", "greedy") or a function
    `policy(key, obs, state) -> action`. Extra keyword arguments configure
    the environment as in `gymnasium.make`. Returns the metrics.
    """
    if isinstance(policy, str):
        if policy not in BASELINES:
            raise ValueError(f"unknown baseline {policy!r}; choose from {', '.join(BASELINES)}")
        policy = BASELINES[policy]
    env, params = make_functional(env_id, **env_kwargs)
    report = evaluate(env, params, policy, episodes=episodes, seed=seed)
    broken = check_bounds(
        report,
        max_mean_regret=max_mean_regret,
        max_regret=max_regret,
        min_mean_ratio=min_mean_ratio,
        min_ratio=min_ratio,
        min_p5_ratio=min_p5_ratio,
    )
    if broken:
        summary = {k: v for k, v in report.items() if k != "by_depth"}
        raise AssertionError(
            f"{env_id} ({episodes} episodes, seed {seed}): bound broken: "
            + "; ".join(broken)
            + "\nmeasured: "
            + json.dumps(summary, indent=None)
        )
    return report
