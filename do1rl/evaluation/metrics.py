"""The spec's metrics over a batch of episodes: return, regret, approximation ratio."""

from __future__ import annotations

from typing import Any

import numpy as np

from do1rl.core.solver import approximation_ratio

METRIC_KEYS = (
    "episodes",
    "mean_return",
    "mean_optimal",
    "mean_regret",
    "max_regret",
    "mean_ratio",
    "median_ratio",
    "p5_ratio",
    "min_ratio",
)


def _summary(returns: np.ndarray, optimal: np.ndarray) -> dict:
    ratio = approximation_ratio(returns, optimal)
    regret = optimal - returns
    return {
        "episodes": int(returns.size),
        "mean_return": float(returns.mean()),
        "mean_optimal": float(optimal.mean()),
        "mean_regret": float(regret.mean()),
        "max_regret": float(regret.max()),
        "mean_ratio": float(ratio.mean()),
        "median_ratio": float(np.median(ratio)),
        "p5_ratio": float(np.percentile(ratio, 5)),
        "min_ratio": float(ratio.min()),
    }


def metrics(results: Any) -> dict:
    """The spec's metrics over `Episodes` (returns, optimal, circuit_depth), overall and by depth.

    Ratio r / r* is 1 when r* = 0; regret is r* - r.
    """
    returns = np.asarray(results.returns, np.float64)
    optimal = np.asarray(results.optimal, np.float64)
    depths = np.asarray(results.circuit_depth)
    report = _summary(returns, optimal)
    report["by_depth"] = {
        str(int(d)): _summary(returns[depths == d], optimal[depths == d]) for d in np.unique(depths)
    }
    return report


def format_table(report: dict) -> str:
    """A readable table of a `metrics` report: overall, then by depth."""
    cols = ("episodes", "mean_return", "mean_optimal", "mean_regret", "max_regret", "mean_ratio", "p5_ratio", "min_ratio")
    header = f"{'depth':>7} " + " ".join(f"{c:>12}" for c in cols)
    row = lambda label, m: f"{label:>7} " + " ".join(
        f"{m[c]:>12d}" if c == "episodes" else f"{m[c]:>12.4f}" for c in cols
    )
    lines = [header, row("all", report)]
    lines += [row(d, m) for d, m in sorted(report["by_depth"].items(), key=lambda kv: int(kv[0]))]
    return "\n".join(lines)
