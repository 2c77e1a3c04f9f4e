"""A cell's evaluations: every test env x forced iteration count, every seed, with bootstrap intervals."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from do1rl.core.solver import approximation_ratio
from do1rl.envs.make import make
from do1rl.evaluation import Episodes, metrics, play, play_episode, reset_starts
from do1rl.evaluation.first_choice import ceiling_ratios, decisive_flags, forced_choice
from do1rl.evaluation.stats import seed_episode_interval

# `player(env_params, keys, starts=None) -> Episodes`, one per seed (as `do1rl.evaluation.make_player` makes them).
Player = Callable[..., Episodes]

DECISIVE_BLOCKS = (0, 3)  # L of the decisive-case accuracies by default (L = 0: the prior-only ceiling)


def seed_players(env, learner, params) -> list[Player]:
    """One player per seed of a run's `params` (leading seed axis), all sharing one compiled function.

    The network parameters are an argument of the jitted function, so seeds
    do not recompile; `env` only fixes the shapes.
    """

    def one(env_params, net_params, key, start):
        return play_episode(env, env_params, learner.policy(net_params, greedy=True), key, start)

    batched = jax.jit(jax.vmap(one, in_axes=(None, None, 0, 0)))
    count = jax.tree.leaves(params)[0].shape[0]
    return [
        (lambda env_params, keys, starts=None, i=i: batched(env_params, jax.tree.map(lambda x: x[i], params), keys, starts))
        for i in range(count)
    ]


def test_env(env_id: str, args: dict, *, episodes: int, seed: int):
    """(env, env_params, starts) of a test env: its first `episodes` resets of `seed`, made once per process.

    Every cell of a sweep plays the same test episodes, so their instances
    (d1-stratified ones cost seconds per thousand) are drawn once.
    """
    return _test_env(env_id, json.dumps(args, sort_keys=True), episodes, seed)


@functools.lru_cache(maxsize=16)
def _test_env(env_id: str, args_json: str, episodes: int, seed: int):
    env, env_params = make(env_id, **json.loads(args_json))
    return env, env_params, reset_starts(env, env_params, episodes=episodes, seed=seed)


_DECISIVE: dict = {}  # (id of the reset states, L) -> (those states, decisive flags, ceiling ratios) or None's


def _decisive(env, env_params, starts, blocks: Sequence[int], *, episodes: int, seed: int) -> tuple[dict, dict] | None:
    """({L: decisive bool[episodes]}, {L: the L-block ceiling's expected ratio float[episodes]}) of the test episodes.

    None off one-shot biregular DO1. Computed once per starts (every cell of
    a sweep shares `test_env`'s), so each cell pays only for its own play.
    """
    if not blocks or not _is_do1(env):
        return None
    if starts is None:  # the same episodes `play` makes from (env_params, seed)
        starts = reset_starts(env, env_params, episodes=episodes, seed=seed)
    states = starts[1]
    flags, ratios = {}, {}
    for b in dict.fromkeys(int(b) for b in blocks):
        hit = _DECISIVE.get((id(states), b))
        if hit is None or hit[0] is not states:
            if len(_DECISIVE) >= 256:
                _DECISIVE.pop(next(iter(_DECISIVE)))
            found = decisive_flags(env, states, (b,))
            hit = _DECISIVE[(id(states), b)] = (states, None if found is None else found[b], ceiling_ratios(env, states, b))
        if hit[1] is None:
            return None
        flags[b] = hit[1][:episodes]
        if hit[2] is not None:
            ratios[b] = hit[2][:episodes]
    return flags, ratios


def _is_do1(env) -> bool:
    from do1rl.envs import DO1

    return isinstance(env, DO1)


def evaluation(
    env,
    env_params,
    players: Sequence[Player],
    *,
    episodes: int,
    seed: int,
    test_depth: int | None,
    iterations: int | None,
    starts=None,
    decisive_blocks: Sequence[int] = DECISIVE_BLOCKS,
) -> dict:
    """Plays `episodes` episodes per seed on one env; returns per-seed reports and intervals over seeds and episodes.

    `starts`: the episodes' resets, if made (`test_env`). Intervals
    (`do1rl.evaluation.stats.seed_episode_interval`, 95%): `mean_ratio`,
    `mean_regret` and, on DO1, `first_choice_accuracy` (the forced choice at t = 0).
    On DO1 with biregular circuits, also `decisive_accuracy_L{L}` for each L of
    `decisive_blocks`: forced-choice accuracy on the episodes where the L-block
    ceiling's choice is wrong (`do1rl.evaluation.decisive`; L = 0 is the
    prior-only ceiling), with their count per seed in `decisive_episodes`
    ({"L": count}; the same episodes for every seed). Each seed's report then
    holds `decisive` (`do1rl.evaluation.metrics`). There too, `ceiling_ratio_L{L}`:
    the L-block ceiling's expected ratio on these episodes, with an interval
    over episodes (L = 0: the prior-only ceiling, the best choice knowing only
    D, k and the d1 law; `do1rl.evaluation.first_choice.ceiling_ratios`).
    """
    found = _decisive(env, env_params, starts, decisive_blocks, episodes=episodes, seed=seed)
    flags, ceilings = found if found is not None else (None, {})
    # Replayed episodes never read the params (reset is skipped, step ignores them), so passing
    # None lets every test env share one compiled player instead of one per generator.
    params = env_params if starts is None else None
    runs = [play(env, params, None, episodes=episodes, seed=seed, player=p, starts=starts) for p in players]
    reports = [metrics(r, flags) for r in runs]
    ratios = [approximation_ratio(np.asarray(r.returns, np.float64), np.asarray(r.optimal, np.float64)) for r in runs]
    regrets = [np.asarray(r.optimal, np.float64) - np.asarray(r.returns, np.float64) for r in runs]
    intervals = {
        "mean_ratio": seed_episode_interval(ratios).as_dict(),
        "mean_regret": seed_episode_interval(regrets).as_dict(),
    }
    found_choices = [forced_choice(r) for r in runs]
    choices = [c for c in found_choices if c is not None]
    every_choice = len(choices) == len(found_choices)  # DO1 episodes with a forced choice, for every seed
    if every_choice:
        intervals["first_choice_accuracy"] = seed_episode_interval([c[0].astype(np.float64) for c in choices]).as_dict()
    decisive_counts: dict[str, int] = {}
    if flags is not None and every_choice:
        for blocks, decisive in flags.items():
            decisive_counts[str(blocks)] = int(decisive.sum())
            if decisive.any():
                right = [c[0][decisive].astype(np.float64) for c in choices]
                intervals[f"decisive_accuracy_L{blocks}"] = seed_episode_interval(right).as_dict()
    for blocks, expected in ceilings.items():  # the same for every agent: the bar a policy must clear
        intervals[f"ceiling_ratio_L{blocks}"] = seed_episode_interval([expected]).as_dict()
    decisions = int(sum(np.sum(r.length) for r in runs))
    out: dict[str, Any] = {
        "test_depth": test_depth,
        "iterations": iterations,
        "reports": reports,
        "intervals": intervals,
        "decisions": decisions,
    }
    if decisive_counts:
        out["decisive_episodes"] = decisive_counts
    return out
