"""Bounds on an evaluation report: `max_X` / `min_X` check the metric `X`."""

from __future__ import annotations

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
