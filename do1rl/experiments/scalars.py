"""TensorBoard scalars of a training chunk."""

from __future__ import annotations

import numpy as np


def log_scalars(writer, stats: dict, steps_per_s: float, step: int) -> None:
    """Writes the finite `stats` (PPO `summarize` keys) and the step rate at env step `step`."""
    names = {
        "loss/policy": "policy_loss",
        "loss/value": "value_loss",
        "loss/entropy": "entropy",
        "train/approx_kl": "approx_kl",
        "train/clip_fraction": "clip_fraction",
        "train/explained_variance": "explained_variance",
        "train/grad_norm": "grad_norm",
        "train/learning_rate": "learning_rate",
        "episode/return": "mean_return",
        "episode/approx_ratio": "mean_ratio",
        "episode/regret": "mean_regret",
        "episode/count": "episodes",
    }
    for tag, key in names.items():
        value = stats[key]
        if np.isfinite(value):
            writer.add_scalar(tag, value, step)
    writer.add_scalar("perf/steps_per_s", steps_per_s, step)
    writer.flush()
