"""Pictures of one episode state: `ansi` text and an `rgb_array` / `figure` drawing.

Both show the circuit(s) layer by layer, the selected gates marked, and the
gate values only once the episode has terminated (they are hidden from the
agent until then). `figure` draws with matplotlib's object API and the Agg
canvas, so it needs no display and changes no global matplotlib state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from do1rl.core.circuit import AND, INPUT_0, INPUT_1, OR, PAD
from do1rl.envs.types import CHAIN, MAIN, NOT_CHOSEN

__all__ = ["ansi", "figure", "rgb_array", "save"]

_OP = {AND: "AND", OR: "OR"}
_CIRCUIT_NAMES = {MAIN: "C", CHAIN: "chain"}


class _View:
    """numpy copies of one (unbatched) state and the facts every drawing needs."""

    FIELDS = (
        "node_type",
        "fanin",
        "depth",
        "circuit_id",
        "value",
        "selected",
        "chosen",
        "steps_left",
        "terminated",
        "horizon",
        "chain_length",
    )

    def __init__(self, state: Any, show_values: bool | None):
        missing = [name for name in self.FIELDS if not hasattr(state, name)]
        if missing:
            raise TypeError(f"render: expected one env state (EnvState), got {type(state).__name__}")
        if np.ndim(state.chosen) != 0:
            raise TypeError(f"render: expected one env state, got a batch of shape {np.shape(state.chosen)}; index it first")
        get = lambda name: np.asarray(getattr(state, name))
        self.node_type, self.fanin, self.depth = get("node_type"), get("fanin"), get("depth")
        self.circuit_id, self.value, self.selected = get("circuit_id"), get("value"), get("selected")
        self.chosen, self.steps_left = int(get("chosen")), int(get("steps_left"))
        self.terminated, self.horizon = bool(get("terminated")), int(get("horizon"))
        self.chain_length = int(get("chain_length"))
        self.show_values = self.terminated if show_values is None else bool(show_values)
        self.is_gate = (self.node_type == AND) | (self.node_type == OR)
        self.circuits = [c for c in (MAIN, CHAIN) if np.any((self.circuit_id == c) & (self.node_type != PAD))]
        main_ones = self.is_gate & (self.circuit_id == MAIN) & self.value
        self.d1 = int(self.depth[main_ones].max()) if main_ones.any() else 0
        chosen_values = self.value[self.selected]
        self.reward = int(self.depth[self.selected].max()) if self.selected.any() and chosen_values.all() else 0

    def nodes(self, circuit: int) -> np.ndarray:
        return np.flatnonzero((self.circuit_id == circuit) & (self.node_type != PAD))

    def is_open(self, circuit: int) -> bool:
        return self.chosen in (NOT_CHOSEN, circuit)

    def title(self) -> str:
        t = self.horizon - self.steps_left if not self.terminated else self.horizon
        parts = [f"t={t}/{self.horizon}", f"{int(self.selected.sum())} selected"]
        if CHAIN in self.circuits:
            parts.append("choice: " + ("open" if self.chosen == NOT_CHOSEN else _CIRCUIT_NAMES[self.chosen]))
        if self.show_values:
            parts.append(f"d1(C,x)={self.d1}")
            if CHAIN in self.circuits:
                parts.append(f"k={self.chain_length}")
        if self.terminated:
            parts.append(f"return={self.reward}")
        return "  ".join(parts)


def _label(view: _View, i: int) -> str:
    kind = int(view.node_type[i])
    if kind in (INPUT_0, INPUT_1):
        text = f"x{i}={kind - INPUT_0}"
    else:
        reads = ",".join(str(j) for j in view.fanin[i] if j >= 0)
        text = f"{i}:{_OP[kind]}({reads})"
        if view.show_values:
            text += f"={int(view.value[i])}"
    return f"[{text}]" if view.selected[i] else text


def ansi(state: Any, show_values: bool | None = None) -> str:
    """Text: one line per layer (depth 0 = inputs), selected gates in [brackets].

    Gate values (`=0`/`=1`) and d1 appear when `show_values` is True, or by
    default once the episode has terminated.
    """
    view = _View(state, show_values)
    lines = [view.title()]
    for circuit in view.circuits:
        closed = "" if view.is_open(circuit) else "  (removed)"
        lines.append(f"{_CIRCUIT_NAMES[circuit]}:{closed}")
        nodes = view.nodes(circuit)
        for d in range(int(view.depth[nodes].max()) + 1 if nodes.size else 0):
            layer = [i for i in nodes if view.depth[i] == d]
            lines.append(f"  depth {d:>2}: " + " ".join(_label(view, i) for i in layer))
    return "\n".join(lines) + "\n"


def _positions(view: _View) -> dict[int, tuple[float, float]]:
    """Node -> (x, y): y = depth, x spread within the layer; the chain's column right of C."""
    pos: dict[int, tuple[float, float]] = {}
    x0 = 0.0
    for circuit in view.circuits:
        nodes = view.nodes(circuit)
        widest = max(np.bincount(view.depth[nodes]).max(), 1)
        for d in np.unique(view.depth[nodes]):
            layer = [i for i in nodes if view.depth[i] == d]
            offset = (widest - len(layer)) / 2
            for r, i in enumerate(layer):
                pos[int(i)] = (x0 + offset + r, float(d))
        x0 += widest + 1.5
    return pos


def figure(state: Any, show_values: bool | None = None, title: str | None = None):
    """A matplotlib `Figure` of `state`: gates placed by depth (inputs at the bottom),
    DO1's chain beside C, selected gates outlined in red; once terminated
    (or with `show_values`) gates are filled green (1) or grey (0) and the
    title gives d1 and the return (after `title`, if given)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    view = _View(state, show_values)
    pos = _positions(view)
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    fig = Figure(figsize=(min(2 + 0.7 * (max(xs) - min(xs) + 1), 16), min(2 + 0.8 * (max(ys) + 1), 12)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, (x, y) in pos.items():
        for j in view.fanin[i]:
            if j >= 0 and int(j) in pos:
                ax.plot([pos[int(j)][0], x], [pos[int(j)][1], y], color="0.7", lw=0.8, zorder=1)
    for i, (x, y) in pos.items():
        kind = int(view.node_type[i])
        faded = not view.is_open(int(view.circuit_id[i]))
        if kind in (INPUT_0, INPUT_1):
            face, marker, text = "white", "v", str(kind - INPUT_0)
        else:
            face = ("#7fc97f" if view.value[i] else "0.75") if view.show_values else "#cfe2f3"
            marker, text = ("s", "∧") if kind == AND else ("o", "∨")
        edge, width = ("red", 3.0) if view.selected[i] else ("black", 1.0)
        ax.scatter([x], [y], s=420, marker=marker, c=[face], edgecolors=edge, linewidths=width, alpha=0.35 if faded else 1.0, zorder=2)
        ax.annotate(text, (x, y), ha="center", va="center", fontsize=9, zorder=3)
        ax.annotate(str(i), (x + 0.22, y + 0.22), fontsize=6, color="0.35", zorder=3)
    for circuit in view.circuits:
        nodes = view.nodes(circuit)
        left = min(pos[int(i)][0] for i in nodes)
        ax.annotate(_CIRCUIT_NAMES[circuit], (left, -0.8), fontsize=10, fontweight="bold")
    _legend(ax, view.show_values, bool(np.any(view.selected)))
    ax.set_ylabel("depth")
    ax.set_ylim(-1.1, max(ys) + 0.6)
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_xticks([])
    ax.set_yticks(range(int(max(ys)) + 1))
    ax.set_title(f"{title}  {view.title()}" if title else view.title(), fontsize=9)
    fig.tight_layout()
    return fig


def _legend(ax, show_values: bool, any_selected: bool) -> None:
    """What the shapes and colours on the figure mean."""
    from matplotlib.lines import Line2D

    def mark(marker, face, label, edge="black"):
        return Line2D([], [], marker=marker, linestyle="", markersize=9, markerfacecolor=face, markeredgecolor=edge, label=label)

    handles = [mark("v", "white", "input (0 or 1)"), mark("s", "#cfe2f3", "AND gate (∧)"), mark("o", "#cfe2f3", "OR gate (∨)")]
    if show_values:
        handles += [mark("o", "#7fc97f", "gate = 1"), mark("o", "0.75", "gate = 0")]
    if any_selected:
        handles.append(mark("o", "white", "selected", edge="red"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


def rgb_array(state: Any, show_values: bool | None = None) -> np.ndarray:
    """uint8[H, W, 3]: `figure(state)` rasterised."""
    fig = figure(state, show_values)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def save(state: Any, path: str, show_values: bool | None = None, title: str | None = None) -> None:
    """Writes `figure(state)` to `path` (format from the suffix: .png, .svg, .pdf)."""
    figure(state, show_values, title).savefig(path)
