"""Confidence intervals and interval verdicts for reports over seeds and episodes (scipy's bootstrap)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import scipy.stats


class Interval(NamedTuple):
    """A point estimate and its confidence interval."""

    mean: float
    low: float
    high: float

    def as_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high}


def _mean_of_means(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean([np.mean(s, axis=axis) for s in samples], axis=0)


def seed_episode_interval(per_seed: Sequence[np.ndarray], *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> Interval:
    """The mean over seeds of each seed's episode mean, with a stratified bootstrap CI.

    Each bootstrap resample draws every seed's episodes again with
    replacement (the seeds are the strata), so the interval covers the
    episode-level noise of every seed; with few seeds it does not measure
    seed-to-seed spread, which reports give apart (min and max over seeds).

    Args:
      per_seed: one 1-D array of per-episode values per seed (e.g. ratios).
      confidence: the interval's confidence level.
      resamples: bootstrap resamples.
      seed: the resampling RNG's seed (same seed, same interval).
    """
    samples = tuple(np.asarray(x, np.float64).ravel() for x in per_seed)
    if not samples or any(s.size == 0 for s in samples):
        raise ValueError("every seed needs at least one episode")
    mean = float(_mean_of_means(*samples))
    if all(np.all(s == s[0]) for s in samples):  # no spread: the bootstrap is degenerate
        return Interval(mean, mean, mean)
    result = scipy.stats.bootstrap(
        samples,
        _mean_of_means,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Interval(mean, float(low), float(high))


def lies_below(a: Interval, b: Interval) -> bool:
    """True when interval `a` lies wholly below interval `b` (they do not overlap)."""
    return a.high < b.low
