"""The serial-versus-parallel compute frontier: what each agent scores at one test depth for its compute per decision.

A point is one pooled evaluation (every seed) of an agent that computes per
decision: a trained net as trained and at each forced T, or MCTS at one
budget. Its costs are the row's `flops_per_decision` and `serial_depth`,
measured on that test env (docs/design/sweeps.md). Policies that compute
nothing per decision (the constant, greedy and random ones) are drawn as
lines: the bar every point must clear.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from do1rl.experiments.plotting import MARKERS, agent_rank, number, save_figure

__all__ = ["FRONTIER_DEPTH", "beaten_by", "frontier_points", "plot_frontier", "point_label", "series_label"]

FRONTIER_DEPTH = 16  # the test depth the frontier is drawn at (twice the deepest training depth)
COSTS = (("flops_per_decision", "FLOPs per decision", "frontier.png"), ("serial_depth", "serial depth per decision", "frontier_serial.png"))


def _pooled_at(rows: list[dict], depth: int) -> list[dict]:
    return [
        r
        for r in rows
        if str(r.get("seed_index")) == "all" and number(r.get("test_depth")) == depth and number(r.get("iterations_per_depth")) is None
    ]


def frontier_points(rows: list[dict], depth: int = FRONTIER_DEPTH) -> list[dict]:
    """Pooled rows at test depth `depth` of agents with a positive FLOPs count, cheapest first."""
    points = [r for r in _pooled_at(rows, depth) if (number(r.get("flops_per_decision")) or 0) > 0]
    return sorted(points, key=lambda r: (number(r["flops_per_decision"]), agent_rank(r["agent"])))


def free_rows(rows: list[dict], depth: int = FRONTIER_DEPTH) -> list[dict]:
    """Pooled rows at `depth` of policies that compute nothing per decision (the bar)."""
    return [
        r
        for r in _pooled_at(rows, depth)
        if number(r.get("flops_per_decision")) is None and number(r.get("network_width")) is None and r["agent"] != "mcts"
    ]


def series_label(r: dict) -> str:
    """The family a point belongs to: a network family and its training algorithm, or MCTS."""
    if r["agent"] == "mcts":
        return "mcts (true model)"
    return f"{r['agent']} [{r.get('config.train.algo') or 'ppo'}]"


def point_label(r: dict) -> str:
    """A point's size within its family: L and W, T, or the simulation count."""
    if r["agent"] == "mcts":
        return f"{int(number(r.get('simulations')) or 0)} sims"
    if number(r.get("network_depth")) is not None:
        return f"L{int(number(r['network_depth']))} W{int(number(r['network_width']))}"
    forced = number(r.get("iterations"))
    return f"T={int(forced)}" if forced is not None else f"T=rule ({int(number(r['serial_depth']) or 0)} deep)"


def beaten_by(point: dict, points: list[dict], metric: str = "mean_ratio") -> dict | None:
    """The best point with at most `point`'s FLOPs whose `metric` interval lies wholly above `point`'s; None if none."""
    flops, high = number(point["flops_per_decision"]), number(point.get(f"{metric}_high"))
    if high is None:
        return None
    better = [
        q
        for q in points
        if q is not point and number(q["flops_per_decision"]) <= flops and (number(q.get(f"{metric}_low")) or float("-inf")) > high
    ]
    return max(better, key=lambda q: number(q[metric])) if better else None


def plot_frontier(rows, out: Path, plt, depth: int = FRONTIER_DEPTH, metric: str = "decisive_accuracy_L3") -> list[Path]:
    """Two figures at test depth `depth`: `metric` and the mean ratio against FLOPs (frontier.png) and
    against serial depth (frontier_serial.png) per decision; [] without points."""
    points = frontier_points(rows, depth)
    if not points:
        return []
    series = defaultdict(list)
    for r in points:
        series[series_label(r)].append(r)
    written = []
    for cost, cost_label, name in COSTS:
        fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
        for ax, y_key in zip(axes, (metric, "mean_ratio")):
            for label, sub in sorted(series.items(), key=lambda kv: agent_rank(kv[1][0]["agent"])):
                sub = sorted(
                    (r for r in sub if (number(r.get(cost)) or 0) > 0 and number(r.get(y_key)) is not None), key=lambda r: number(r[cost])
                )
                if not sub:
                    continue
                xs, ys = [number(r[cost]) for r in sub], [number(r[y_key]) for r in sub]
                lows = [number(r.get(f"{y_key}_low")) for r in sub]
                highs = [number(r.get(f"{y_key}_high")) for r in sub]
                err = None
                if all(v is not None for v in lows + highs):
                    err = [[y - lo for y, lo in zip(ys, lows)], [hi - y for y, hi in zip(ys, highs)]]
                ax.errorbar(
                    xs, ys, yerr=err, marker=MARKERS.get(sub[0]["agent"], "o"), linestyle=":", linewidth=0.8, capsize=3, label=label
                )
                for x, y, r in zip(xs, ys, sub):
                    ax.annotate(point_label(r), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=6)
            for r in free_rows(rows, depth):
                if number(r.get(y_key)) is not None:
                    ax.axhline(number(r[y_key]), linestyle="--", linewidth=0.8, color="grey")
                    ax.annotate(
                        r["agent"],
                        (0.0, number(r[y_key])),
                        xycoords=("axes fraction", "data"),
                        fontsize=6,
                        ha="left",
                        va="bottom",
                        color="grey",
                    )
            ax.set_xscale("log", base=10 if cost == "flops_per_decision" else 2)
            ax.set_xlabel(cost_label)
            ax.set_ylabel(y_key.replace("_", " "))
            ax.set_ylim(-0.02, 1.05)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7)
        fig.suptitle(f"Compute frontier at D = {depth}, 95% intervals (dashed grey: policies that compute nothing)")
        written.append(save_figure(fig, out / name, plt))
    return written
