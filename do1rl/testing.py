"""Helpers for users' regression tests on regret bounds.

    from do1rl.testing import assert_regret_within

    def test_my_agent():
        assert_regret_within(my_policy, "do1rl/DO1-v0", episodes=512,
                             max_mean_regret=2.0, min_mean_ratio=0.8, seed=0, depth=4)

A bound named `max_X` / `min_X` checks the metric `X` of
`do1rl.evaluation.metrics` (`do1rl.evaluation.BOUNDS`) (so `min_ratio` bounds the worst-case ratio and
`min_mean_ratio` the mean ratio). The failure message shows every measured
metric.
"""

from __future__ import annotations

import json

from do1rl.envs.make import make
from do1rl.evaluation import Policy, check_bounds, evaluate
from do1rl.experiments.agent_registry import make_agent


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

    `policy` is an agent name for `do1rl.experiments.agent_registry.make_agent`
    ("random", "oracle", "greedy", "mcts", "ppo:RUN_DIR") or a function
    `policy(key, obs, state) -> action`. Extra keyword arguments configure
    the environment as in `gymnasium.make`. Returns the metrics.
    """
    env, params = make(env_id, **env_kwargs)
    if isinstance(policy, str):
        policy = make_agent(policy, env, params)
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
