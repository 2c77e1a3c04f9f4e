"""Figures of sweep results (`do1rl plot`), drawn with matplotlib's Agg backend.

Each panel uses the rows it understands and is skipped (with a note) when
the results hold none:

- `families_vs_depth.png`: mean approximation ratio vs circuit depth, one
  line per agent (mlp, gnn, recurrent, mcts at its largest budget, baselines);
  from sweeps whose rows span >= 2 circuit depths (no prefix chain).
- `deep_vs_wide.png`: ratio vs network depth at the most common width, and
  ratio vs width at the most common depth, points labelled with the
  parameter count (mlp and gnn cells of sweeps with >= 2 network shapes).
- `mcts_budget.png`: ratio and regret vs MCTS simulations (log axis), one
  line per circuit depth (like Figure 6a of the paper).
- `horizon.png`: mean regret (and ratio) vs horizon H on chain-prefixed
  circuits, one line per agent (sweeps with >= 2 prefix-chain lengths).

Points are means over seeds; error bars show the spread (min to max) over
seeds when there are several.

`learning_curves.png` (`plot_learning_curves`) reads cell results instead
of rows: for sweeps whose trained cells ran to plateau (`info["curve"]`),
one panel per cell, held-out mean ratio vs env steps, one line per seed
with its 95% band, and each seed's plateau point (its best evaluation when
it plateaued, `info["steps_to_plateau"]`) marked.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from pathlib import Path

from do1rl.core import atomic

NETWORK_AGENTS = ("mlp", "gnn", "recurrent")
ORDER = ("mlp", "gnn", "recurrent", "mcts", "greedy", "random", "oracle")
MARKERS = {"mlp": "s", "gnn": "o", "recurrent": "^", "mcts": "D", "greedy": "x", "random": "v", "oracle": "*"}


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def number(x):
    try:
        return None if x is None or x == "" else float(x)
    except (TypeError, ValueError):
        return None


def _agg(rows, key, metric):
    """{key(row): (mean, lo, hi)} of `metric` over rows grouped by key."""
    groups = defaultdict(list)
    for r in rows:
        v = number(r.get(metric))
        if v is not None:
            groups[key(r)].append(v)
    return {k: (sum(v) / len(v), min(v), max(v)) for k, v in groups.items()}


def _line(ax, points, label, marker="o", annotate=None):
    xs = sorted(points)
    means = [points[x][0] for x in xs]
    lo = [points[x][0] - points[x][1] for x in xs]
    hi = [points[x][2] - points[x][0] for x in xs]
    ax.errorbar(xs, means, yerr=[lo, hi], marker=marker, capsize=3, label=label)
    if annotate:
        for x, m in zip(xs, means):
            if annotate.get(x) is not None:
                ax.annotate(annotate[x], (x, m), textcoords="offset points", xytext=(4, 4), fontsize=7)


def agent_rank(agent):
    return ORDER.index(agent) if agent in ORDER else len(ORDER)


def shape_label(r):
    if r["agent"] in ("mlp", "gnn"):
        return f"{r['agent']} (depth {r.get('network_depth')}, width {r.get('network_width')})"
    if r["agent"] == "recurrent":
        return f"recurrent (width {r.get('network_width')})"
    if r["agent"] == "mcts":
        return f"mcts ({r.get('simulations')} sims)"
    return r["agent"]


def _by_sweep(rows):
    out = defaultdict(list)
    for r in rows:
        out[r.get("sweep")].append(r)
    return out


def plot_families(rows, out: Path, plt) -> Path | None:
    candidates = [r for r in rows if r.get("depth_group") != "all" and not number(r.get("prefix_chain"))]
    lines: dict[tuple, list[dict]] = {}
    for sweep, sub in _by_sweep(candidates).items():
        if len({r["depth_group"] for r in sub}) < 2:
            continue
        best_sims = max((number(r.get("simulations")) or 0 for r in sub if r["agent"] == "mcts"), default=0)
        sub = [r for r in sub if r["agent"] != "mcts" or (number(r.get("simulations")) or 0) == best_sims]
        for r in sub:
            lines.setdefault((sweep, r["agent"], shape_label(r)), []).append(r)
    if not lines:
        return None
    sweeps = {k[0] for k in lines}
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for (sweep, agent, label), sub in sorted(lines.items(), key=lambda kv: (kv[0][0], agent_rank(kv[0][1]), kv[0][2])):
        points = _agg(sub, lambda r: int(r["depth_group"]), "mean_ratio")
        _line(ax, points, label + (f" [{sweep}]" if len(sweeps) > 1 else ""), MARKERS.get(agent, "o"))
    ax.set_xlabel("circuit depth D")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # depths are integers
    ax.set_ylabel("mean approximation ratio r / r*")
    ax.set_title("Agents vs circuit depth")
    ax.set_ylim(-0.02, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, out / "families_vs_depth.png", plt)


def plot_deep_wide(rows, out: Path, plt) -> Path | None:
    rows = [r for r in rows if r.get("depth_group") == "all" and r.get("agent") in ("mlp", "gnn")]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r.get("sweep"), r["agent"], r.get("circuit_depth"), r.get("prefix_chain"))].append(r)
    groups = {k: v for k, v in groups.items() if len({(r["network_depth"], r["network_width"]) for r in v}) >= 2}
    if not groups:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    drawn = [False, False]
    for (_sweep, agent, cd, pc), sub in sorted(groups.items(), key=lambda kv: str(kv[0])):
        label = f"{agent}, circuit depth {cd}" + (f", chain {pc}" if number(pc) else "")
        width = Counter(r["network_width"] for r in sub).most_common(1)[0][0]
        depth = Counter(r["network_depth"] for r in sub).most_common(1)[0][0]
        deep = [r for r in sub if r["network_width"] == width]
        wide = [r for r in sub if r["network_depth"] == depth]
        for i, (ax, part, x_key, fixed) in enumerate(
            ((left, deep, "network_depth", f"width {width}"), (right, wide, "network_width", f"depth {depth}"))
        ):
            points = _agg(part, lambda r, x_key=x_key: int(r[x_key]), "mean_ratio")
            if len(points) < 2:
                continue
            params = {int(r[x_key]): f"{int(r['param_count']):,} p" for r in part if r.get("param_count") is not None}
            _line(ax, points, f"{label} ({fixed})", MARKERS.get(agent, "o"), annotate=params)
            drawn[i] = True
    for ax, xlabel, title, ok in (
        (left, "network depth (message-passing blocks / MLP layers)", "Deeper at fixed width", drawn[0]),
        (right, "network width (hidden units)", "Wider at fixed depth", drawn[1]),
    ):
        ax.set_xlabel(xlabel)
        ax.set_ylabel("mean approximation ratio r / r*")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if ok:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", transform=ax.transAxes)
    right.set_xscale("log", base=2)
    return save_figure(fig, out / "deep_vs_wide.png", plt)


def plot_mcts(rows, out: Path, plt) -> Path | None:
    rows = [r for r in rows if r.get("agent") == "mcts" and r.get("depth_group") == "all"]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r.get("sweep"), r.get("circuit_depth"), r.get("prefix_chain"))].append(r)
    groups = {k: v for k, v in groups.items() if len({r.get("simulations") for r in v}) >= 2}
    if not groups:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    for (_sweep, cd, pc), sub in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        label = f"circuit depth {cd}" + (f", chain {pc}" if number(pc) else "")
        _line(left, _agg(sub, lambda r: int(r["simulations"]), "mean_ratio"), label, "o")
        _line(right, _agg(sub, lambda r: int(r["simulations"]), "mean_regret"), label, "o")
    left.set_xscale("log", base=2)
    right.set_xscale("log", base=2)
    _label_axes(((left, "mean approximation ratio r / r*"), (right, "mean regret r* - r")), "MCTS simulations per decision (serial depth)")
    left.set_title("MCTS on the true model: ratio vs search")
    right.set_title("MCTS on the true model: regret vs search")
    return save_figure(fig, out / "mcts_budget.png", plt)


def _label_axes(axes_ylabels, xlabel: str) -> None:
    for ax, ylabel in axes_ylabels:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)


def plot_horizon(rows, out: Path, plt) -> Path | None:
    rows = [r for r in rows if r.get("depth_group") == "all"]
    lines: dict[tuple, list[dict]] = {}
    for sweep, sub in _by_sweep(rows).items():
        if len({number(r.get("prefix_chain")) or 0 for r in sub}) < 2:
            continue
        for r in sub:
            lines.setdefault((sweep, r["agent"], shape_label(r), r.get("circuit_depth")), []).append(r)
    if not lines:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    for (_sweep, agent, label, cd), sub in sorted(lines.items(), key=lambda kv: (str(kv[0][0]), agent_rank(kv[0][1]), kv[0][2])):
        name = f"{label}, C depth {cd}"
        _line(left, _agg(sub, lambda r: int(r["horizon"]), "mean_regret"), name, MARKERS.get(agent, "o"))
        _line(right, _agg(sub, lambda r: int(r["horizon"]), "mean_ratio"), name, MARKERS.get(agent, "o"))
    _label_axes(
        ((left, "mean regret r* - r"), (right, "mean approximation ratio r / r*")),
        "horizon H (chain-prefixed circuits: H grows with the chain length)",
    )
    left.set_title("Regret vs horizon")
    right.set_title("Ratio vs horizon")
    return save_figure(fig, out / "horizon.png", plt)


def save_figure(fig, path: Path, plt) -> Path:
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=120)
    plt.close(fig)
    atomic.write_bytes(path, image.getvalue())
    return path


def plot_learning_curves(cells: list[dict], path: str | Path, title: str | None = None) -> Path | None:
    """learning_curves.png of cell results (`do1rl sweep`'s cells/*.json); None if no cell carries a curve."""
    cells = [c for c in cells if (c.get("info") or {}).get("curve")]
    if not cells:
        return None
    plt = pyplot()
    cells = sorted(cells, key=lambda c: (agent_rank(c.get("agent")), str(c.get("cell_id"))))
    cols = min(3, len(cells))
    rows = -(-len(cells) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.4 * rows), squeeze=False)
    for ax, cell in zip(axes.ravel(), cells):
        info = cell["info"]
        stops = info.get("steps_to_plateau") or []
        for i, seed in enumerate(info["curve"]):
            xs = [e["env_steps"] for e in seed]
            (line,) = ax.plot(xs, [e["mean_ratio"] for e in seed], marker=".", label=f"seed {i}")
            ax.fill_between(xs, [e["lo"] for e in seed], [e["hi"] for e in seed], color=line.get_color(), alpha=0.15)
            stop = stops[i] if i < len(stops) else None
            if stop is not None:
                at = next((e for e in seed if e["env_steps"] == stop), None)
                if at is not None:
                    ax.plot(
                        [stop],
                        [at["mean_ratio"]],
                        marker="*",
                        markersize=12,
                        color=line.get_color(),
                        markeredgecolor="black",
                        linestyle="none",
                    )
        how = "stopped at plateau" if info.get("stopped_early") else "ran to the step cap"
        ax.set_title(f"{cell.get('cell_id')}\n({how})", fontsize=8)
        ax.set_xlabel("env steps per seed")
        ax.set_ylabel("held-out mean ratio")
        ax.set_ylim(-0.02, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in axes.ravel()[len(cells) :]:
        ax.axis("off")
    fig.suptitle((title + ": " if title else "") + "learning curves (\u2605 plateau: best evaluation when it plateaued)", fontsize=9)
    return save_figure(fig, Path(path), plt)


PANELS = (
    ("families_vs_depth", plot_families, "no sweep spans >= 2 circuit depths"),
    ("deep_vs_wide", plot_deep_wide, "no mlp/gnn sweep with >= 2 network shapes"),
    ("mcts_budget", plot_mcts, "no mcts rows with >= 2 simulation budgets"),
    ("horizon", plot_horizon, "no sweep with >= 2 prefix-chain lengths"),
)


def plot_all(rows: list[dict], out: str | Path, log=print) -> list[Path]:
    """Writes every panel the rows support into `out`; returns the files written.

    These panels read per-seed rows evaluated on the training env; rows of
    test depths and pooled rows are drawn by `do1rl.experiments.interval_plots`.
    """
    plt = pyplot()
    out = Path(out)
    rows = [r for r in rows if str(r.get("seed_index")) != "all" and r.get("test_depth") is None]
    written = []
    for name, fn, why in PANELS:
        path = fn(rows, out, plt)
        if path is None:
            log(f"skipped {name}: {why}")
        else:
            log(f"wrote {path}")
            written.append(path)
    return written
