"""Bootstrap intervals over seeds and episodes (do1rl.evaluation.stats)."""

from __future__ import annotations

import numpy as np
import pytest

from do1rl.evaluation.stats import Interval, lies_below, seed_episode_interval


def test_interval_matches_the_normal_approximation():
    rng = np.random.default_rng(0)
    seeds = [rng.normal(1.0, 1.0, 1000) for _ in range(3)]
    got = seed_episode_interval(seeds, seed=1)
    pooled = np.concatenate(seeds)
    half = 1.96 * pooled.std() / np.sqrt(pooled.size)
    assert got.mean == pytest.approx(pooled.mean())
    assert got.low < got.mean < got.high
    assert got.high - got.low == pytest.approx(2 * half, rel=0.15)


def test_interval_is_deterministic_and_degenerate_data_has_no_width():
    seeds = [np.array([0.0, 1.0, 1.0, 0.5]), np.array([1.0, 0.25])]
    assert seed_episode_interval(seeds, seed=3) == seed_episode_interval(seeds, seed=3)
    assert seed_episode_interval([np.ones(5), np.ones(7)]) == Interval(1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        seed_episode_interval([np.ones(3), np.array([])])


def test_lies_below_compares_intervals_not_means():
    assert lies_below(Interval(0.5, 0.4, 0.6), Interval(0.8, 0.7, 0.9))
    assert not lies_below(Interval(0.5, 0.4, 0.75), Interval(0.8, 0.7, 0.9))  # overlap: no verdict
