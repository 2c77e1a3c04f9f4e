"""Evaluation: play episodes of a policy and score them against the exact solver."""

from do1rl.evaluation.bounds import BOUNDS, check_bounds
from do1rl.evaluation.metrics import METRIC_KEYS, format_table, metrics
from do1rl.evaluation.play import (
    Episodes,
    Policy,
    episode_keys,
    episode_sharding,
    evaluate,
    make_player,
    play,
    play_episode,
    reset_starts,
)
from do1rl.evaluation.value import ValueFn, value_report

__all__ = [
    "BOUNDS",
    "METRIC_KEYS",
    "Episodes",
    "Policy",
    "ValueFn",
    "check_bounds",
    "episode_keys",
    "episode_sharding",
    "evaluate",
    "format_table",
    "make_player",
    "metrics",
    "play",
    "play_episode",
    "reset_starts",
    "value_report",
]
