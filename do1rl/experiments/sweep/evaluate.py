"""A cell's evaluations: every test env x forced iteration count, every seed, with bootstrap intervals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from do1rl.core.solver import approximation_ratio
from do1rl.evaluation import Episodes, metrics, play, play_episode
from do1rl.evaluation.first_choice import forced_choice
from do1rl.evaluation.stats import seed_episode_interval

# `player(env_params, keys) -> Episodes`, one per seed.
Player = Callable[[Any, jax.Array], Episodes]


def seed_players(env, ppo, params) -> list[Player]:
    """One player per seed of a run's `params` (leading seed axis), all sharing one compiled function.

    The network parameters are an argument of the jitted function, so seeds
    do not recompile; `env` only fixes the shapes.
    """

    def one(env_params, net_params, key):
        return play_episode(env, env_params, ppo.policy(net_params, greedy=True), key)

    batched = jax.jit(jax.vmap(one, in_axes=(None, None, 0)))
    count = jax.tree.leaves(params)[0].shape[0]
    return [
        (lambda env_params, keys, i=i: batched(env_params, jax.tree.map(lambda x: x[i], params), keys))
        for i in range(count)
    ]


def evaluation(
    env, env_params, players: Sequence[Player], *, episodes: int, seed: int, test_depth: int | None, iterations: int | None
) -> dict:
    """Plays `episodes` episodes per seed on one env; returns per-seed reports and intervals over seeds and episodes.

    Intervals (`do1rl.evaluation.stats.seed_episode_interval`, 95%): `mean_ratio`
    and, on DO1, `first_choice_accuracy` (the forced choice at t = 0).
    """
    runs = [play(env, env_params, None, episodes=episodes, seed=seed, player=p) for p in players]
    reports = [metrics(r) for r in runs]
    ratios = [approximation_ratio(np.asarray(r.returns, np.float64), np.asarray(r.optimal, np.float64)) for r in runs]
    intervals = {"mean_ratio": seed_episode_interval(ratios).as_dict()}
    choices = [forced_choice(r) for r in runs]
    if all(c is not None for c in choices):
        intervals["first_choice_accuracy"] = seed_episode_interval([c[0].astype(np.float64) for c in choices]).as_dict()
    decisions = int(sum(np.sum(r.length) for r in runs))
    return {
        "test_depth": test_depth,
        "iterations": iterations,
        "reports": reports,
        "intervals": intervals,
        "decisions": decisions,
    }
