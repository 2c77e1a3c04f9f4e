"""Figures with 95% confidence bands from a sweep's pooled rows (`seed_index` "all").

- `generalisation.png`: mean ratio and DO1 first-choice accuracy vs test depth,
  one band per agent, the training depths shaded, and an optional ceiling
  line (the best any L-block message-passing policy can do).
- `iterations.png`: a recurrent net's mean ratio vs forced test-time
  iterations T, one band per test depth, a dashed mark at T = D.
- `mcts_budget_ci.png`: mean ratio vs MCTS simulations (log axis), one band
  per test depth.
- `horizon_ci.png`: mean regret vs horizon H on chain-prefixed circuits, one
  band per agent.
- `frontier.png`, `frontier_serial.png`: the compute frontier (`do1rl.experiments.frontier`).
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from do1rl.experiments.frontier import plot_frontier
from do1rl.experiments.plotting import MARKERS, agent_rank, number, pyplot, save_figure, shape_label
from do1rl.experiments.sweep.results import trained_rule


def read_ceiling(path: str | Path, blocks: int = 3, column: str = "one_shot_do1") -> dict[int, float]:
    """{test depth: bound} from `scripts/ceiling.py --json` output (the L-block message-passing ceiling).

    Where the exact one-shot DO1 ceiling (`exact_one_shot_do1`) is there, it
    is used for `one_shot_do1`.
    """
    table = json.loads(Path(path).read_text())
    out = {}
    for depth, row in table.items():
        cell = row.get(str(blocks), {})
        value = cell.get("exact_one_shot_do1") if column == "one_shot_do1" else None
        value = cell.get(column) if value is None else value
        if value is not None:
            out[int(depth)] = float(value)
    return out


def pooled(rows: list[dict]) -> list[dict]:
    """The rows pooling every seed of one evaluation (they carry the intervals)."""
    return [r for r in rows if str(r.get("seed_index")) == "all"]


def _band(ax, rows: list[dict], x: Callable[[dict], float], metric: str, label: str, marker: str = "o") -> None:
    points = sorted(((x(r), r) for r in rows if number(r.get(metric)) is not None), key=lambda p: p[0])
    if not points:
        return
    xs = [p[0] for p in points]
    mean = [number(p[1][metric]) for p in points]
    low = [number(p[1].get(f"{metric}_low")) for p in points]
    high = [number(p[1].get(f"{metric}_high")) for p in points]
    (line,) = ax.plot(xs, mean, marker=marker, label=label)
    if all(v is not None for v in low + high):
        ax.fill_between(xs, low, high, alpha=0.2, color=line.get_color())


def plot_generalisation(rows, out: Path, plt, ceiling: dict | None = None, train_depths=None) -> Path | None:
    rows = [r for r in pooled(rows) if r.get("test_depth") is not None and trained_rule(r)]
    lines = defaultdict(list)
    for r in rows:
        if r["agent"] == "mcts":
            continue  # MCTS at every budget: see mcts_budget_ci.png; its largest budget is drawn below
        lines[(r["agent"], shape_label(r))].append(r)
    mcts = [r for r in rows if r["agent"] == "mcts"]
    if mcts:
        top = max(number(r.get("simulations")) or 0 for r in mcts)
        lines[("mcts", f"mcts ({int(top)} sims)")] = [r for r in mcts if (number(r.get("simulations")) or 0) == top]
    if not any(len({r["test_depth"] for r in sub}) >= 2 for sub in lines.values()):
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    for (agent, label), sub in sorted(lines.items(), key=lambda kv: (agent_rank(kv[0][0]), kv[0][1])):
        _band(left, sub, lambda r: int(r["test_depth"]), "mean_ratio", label, MARKERS.get(agent, "o"))
        _band(right, sub, lambda r: int(r["test_depth"]), "first_choice_accuracy", label, MARKERS.get(agent, "o"))
    if ceiling:
        xs = sorted(ceiling)
        left.plot(xs, [ceiling[x] for x in xs], "k--", label="L-block message-passing ceiling")
    for ax, name in ((left, "mean approximation ratio r / r*"), (right, "first-choice accuracy (DO1, t = 0)")):
        if train_depths:
            ax.axvspan(min(train_depths) - 0.5, max(train_depths) + 0.5, color="grey", alpha=0.12, label="training depths")
        ax.set_xlabel("test circuit depth D")
        ax.set_ylabel(name)
        ax.set_ylim(-0.02, 1.05)
        ax.grid(alpha=0.3)
    left.legend(fontsize=7)
    left.set_title("Ratio vs depth (95% CI over seeds and episodes)")
    right.set_title("Forced choice vs depth")
    return save_figure(fig, out / "generalisation.png", plt)


def plot_iterations(rows, out: Path, plt) -> Path | None:
    rows = [r for r in pooled(rows) if r.get("iterations") is not None and r.get("test_depth") is not None]
    if len({r["iterations"] for r in rows}) < 2:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for depth in sorted({int(r["test_depth"]) for r in rows}):
        sub = [r for r in rows if int(r["test_depth"]) == depth]
        _band(ax, sub, lambda r: int(r["iterations"]), "mean_ratio", f"test depth D = {depth}")
        ax.axvline(depth, linestyle="--", linewidth=0.8, color=ax.lines[-1].get_color())
    _finish(ax, "forced test-time iterations T (dashed: T = D)", "Recurrent net: thinking longer at test time")
    return save_figure(fig, out / "iterations.png", plt)


def plot_mcts_budget(rows, out: Path, plt) -> Path | None:
    rows = [r for r in pooled(rows) if r["agent"] == "mcts" and r.get("test_depth") is not None]
    if len({r.get("simulations") for r in rows}) < 2:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for depth in sorted({int(r["test_depth"]) for r in rows}):
        sub = [r for r in rows if int(r["test_depth"]) == depth]
        _band(ax, sub, lambda r: int(r["simulations"]), "mean_ratio", f"test depth D = {depth}", "D")
    ax.set_xscale("log", base=2)
    _finish(ax, "MCTS simulations per decision (serial depth)", "MCTS on the true model vs budget (cf. Figure 6a)")
    return save_figure(fig, out / "mcts_budget_ci.png", plt)


def plot_horizon_regret(rows, out: Path, plt) -> Path | None:
    rows = [r for r in pooled(rows) if r.get("test_depth") is None and r.get("mean_regret_low") is not None]
    if len({number(r.get("prefix_chain")) or 0 for r in rows}) < 2:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    lines = defaultdict(list)
    for r in rows:
        lines[(r["agent"], shape_label(r))].append(r)
    for (agent, label), sub in sorted(lines.items(), key=lambda kv: (agent_rank(kv[0][0]), kv[0][1])):
        _band(ax, sub, lambda r: int(r["horizon"]), "mean_regret", label, MARKERS.get(agent, "o"))
    _finish(ax, "horizon H (chain-prefixed DO1: H grows with the chain)", "Regret vs horizon", "mean regret r* - r", None)
    return save_figure(fig, out / "horizon_ci.png", plt)


def _finish(ax, xlabel: str, title: str, ylabel: str = "mean approximation ratio r / r*", ylim=(-0.02, 1.05)) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


@dataclasses.dataclass(frozen=True)
class FigureOptions:
    """What `do1rl plot` passes every figure besides the rows: the ceiling line and the training depths."""

    ceiling: dict[int, float] | None = None
    train_depths: Sequence[int] | None = None


# A figure: (pooled and per-seed rows, output folder, pyplot, options) -> the files written (a Path, a list, or None).
Figure = Callable[[list[dict], Path, Any, FigureOptions], "Path | list[Path] | None"]
FIGURES: dict[str, Figure] = {}


def register_figure(name: str, figure: Figure) -> Figure:
    """Adds a figure that `plot_intervals` (and so `do1rl plot`) draws whenever the rows support it."""
    FIGURES[name] = figure
    return figure


register_figure("generalisation", lambda rows, out, plt, o: plot_generalisation(rows, out, plt, o.ceiling, o.train_depths))
register_figure("iterations", lambda rows, out, plt, o: plot_iterations(rows, out, plt))
register_figure("mcts_budget_ci", lambda rows, out, plt, o: plot_mcts_budget(rows, out, plt))
register_figure("horizon_ci", lambda rows, out, plt, o: plot_horizon_regret(rows, out, plt))
register_figure("frontier", lambda rows, out, plt, o: plot_frontier(rows, out, plt))


def plot_intervals(rows: list[dict], out: str | Path, *, ceiling=None, train_depths=None, log=print) -> list[Path]:
    """Writes every registered figure (`FIGURES`) the rows support into `out`; returns the files written."""
    plt = pyplot()
    out = Path(out)
    options = FigureOptions(ceiling, train_depths)
    written: list[Path] = []
    for name, figure in FIGURES.items():
        result = figure(rows, out, plt, options)
        paths = [] if result is None else [result] if isinstance(result, Path) else list(result)
        if not paths:
            log(f"skipped {name}: no pooled rows for it")
        for path in paths:
            log(f"wrote {path}")
        written.extend(paths)
    return written
