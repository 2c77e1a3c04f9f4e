"""The spec's metrics over a batch of episodes: return, regret, approximation ratio."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from do1rl.core.solver import approximation_ratio
from do1rl.evaluation.first_choice import decisive_metrics, first_choice_metrics, format_decisive, format_first_choice

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


def _split(keys: np.ndarray, returns: np.ndarray, optimal: np.ndarray) -> dict:
    return {str(k): _summary(returns[keys == k], optimal[keys == k]) for k in np.unique(keys)}


def metrics(results: Any, decisive: Mapping[int, np.ndarray] | None = None) -> dict:
    """The spec's metrics over `Episodes`, overall and by depth.

    With cert(d1) recorded, also by cert(d1) (`by_cert_d1`) and by the pair
    (`by_depth_cert`, keys "D/c"); on DO1 also the forced choice's scores
    (`first_choice`, see `do1rl.evaluation.first_choice`). Ratio r / r* is 1
    when r* = 0; regret is r* - r. `decisive` ({L: bool[E]}, the episodes
    where the L-block ceiling's forced choice is wrong; biregular DO1 only)
    adds `decisive`: {"L": {"episodes", "accuracy"}} (`decisive_metrics`).
    """
    returns = np.asarray(results.returns, np.float64)
    optimal = np.asarray(results.optimal, np.float64)
    depths = np.asarray(results.circuit_depth).astype(np.int64)
    report = _summary(returns, optimal)
    report["by_depth"] = _split(depths, returns, optimal)
    if getattr(results, "cert_d1", None) is not None:
        cert = np.asarray(results.cert_d1).astype(np.int64)
        report["by_cert_d1"] = _split(cert, returns, optimal)
        pairs = np.array([f"{d}/{c}" for d, c in zip(depths, cert)])
        report["by_depth_cert"] = _split(pairs, returns, optimal)
        choice = first_choice_metrics(results)
        if choice is not None:
            report["first_choice"] = choice
    if decisive:
        scores = decisive_metrics(results, decisive)
        if scores is not None:
            report["decisive"] = scores
    return report


def _pair_order(label: str) -> tuple[int, ...]:
    return tuple(int(x) for x in label.split("/"))


def format_table(report: dict) -> str:
    """A readable table of a `metrics` report: overall and by depth, then by cert(d1), by both and the forced choice."""
    cols = ("episodes", "mean_return", "mean_optimal", "mean_regret", "max_regret", "mean_ratio", "p5_ratio", "min_ratio")
    header = lambda title: f"{title:>9} " + " ".join(f"{c:>12}" for c in cols)
    row = lambda label, m: f"{label:>9} " + " ".join(f"{m[c]:>12d}" if c == "episodes" else f"{m[c]:>12.4f}" for c in cols)
    lines = [header("depth"), row("all", report)]
    lines += [row(d, m) for d, m in sorted(report["by_depth"].items(), key=lambda kv: int(kv[0]))]
    for title, key in (("cert(d1)", "by_cert_d1"), ("D/cert", "by_depth_cert")):
        if key in report:
            lines.append(header(title))
            lines += [row(k, m) for k, m in sorted(report[key].items(), key=lambda kv: _pair_order(kv[0]))]
    if "first_choice" in report:
        lines.append(format_first_choice(report["first_choice"]))
    if "decisive" in report:
        lines.append(format_decisive(report["decisive"]))
    return "\n".join(lines)
