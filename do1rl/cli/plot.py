"""`do1rl plot RESULTS... [--out DIR]`: PNG figures of sweep results.

RESULTS are results.json / results.csv files written by `do1rl sweep`, or
sweep folders holding them; rows of several sweeps are plotted together.
Panels (see `do1rl.experiments.plotting`): ratio vs circuit depth per agent family,
deep vs wide networks, ratio and regret vs MCTS simulations, regret vs
horizon on chain-prefixed circuits. A panel with no matching rows is
skipped with a note. Sweeps whose cells trained to plateau (their
`cells/*.json` carry learning curves) also get `learning_curves.png`
(`learning_curves_<folder>.png` each when several sweeps do). Exit 2 if a
results file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "plot sweep results (PNG figures)"
_MAX_RESULTS_BYTES = 256 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", type=Path, metavar="RESULTS", help="results.json/.csv or sweep folders")
    parser.add_argument("--out", type=Path, default=Path("figures"), help="folder for the PNGs (default: %(default)s)")
    parser.add_argument("--ceiling", type=Path, help="scripts/ceiling.py --json output: draw the L = 3 one-shot DO1 bound")
    parser.add_argument("--train-depths", type=int, nargs=2, metavar=("LO", "HI"), help="shade the training depths")


def run(args: argparse.Namespace) -> int:
    from do1rl.core import limits
    from do1rl.core.atomic import WriteError
    from do1rl.experiments.interval_plots import plot_intervals, read_ceiling
    from do1rl.experiments.plotting import plot_all
    from do1rl.experiments.sweep import read_results

    rows = []
    for path in args.results:
        try:
            if not path.is_dir():  # a regular file of bounded size, checked before it is read
                limits.read_regular(path, _MAX_RESULTS_BYTES, "results")
            got = read_results(path)
            if not all(isinstance(row, dict) for row in got):
                raise ValueError("expected a list of rows (objects)")
            rows.extend(got)
        except (OSError, ValueError, RecursionError) as err:  # InputError and JSONDecodeError are ValueErrors
            print(f"error: {path}: cannot read results ({limits.cut(str(err), 200)})", file=sys.stderr)
            return 2
    if not rows:
        print("error: no result rows to plot", file=sys.stderr)
        return 2
    try:
        ceiling = read_ceiling(args.ceiling) if args.ceiling else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        print(f"error: {args.ceiling}: not a scripts/ceiling.py --json table ({limits.describe_error(err)})", file=sys.stderr)
        return 2
    try:
        plot_all(rows, args.out)
        plot_intervals(rows, args.out, ceiling=ceiling, train_depths=args.train_depths)
        _plot_curves(args.results, args.out)
    except WriteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _sweep_cells(path: Path) -> list[dict]:
    """The cell results (cells/*.json) beside a results file or in a sweep folder; unreadable ones skipped."""
    import json

    from do1rl.core import limits

    folder = path if path.is_dir() else path.parent
    cells = []
    for cell in sorted((folder / "cells").glob("*.json")) if (folder / "cells").is_dir() else []:
        try:
            data = json.loads(limits.read_regular(cell, _MAX_RESULTS_BYTES, "cell result"))
        except (OSError, ValueError, RecursionError):
            continue
        if isinstance(data, dict) and isinstance(data.get("info"), dict):
            cells.append(data)
    return cells


def _plot_curves(paths: list[Path], out: Path) -> None:
    """learning_curves.png per sweep whose cells carry curves (named by folder when several do)."""
    from do1rl.experiments.plotting import plot_learning_curves

    sweeps = {}
    for path in paths:
        folder = (path if path.is_dir() else path.parent).resolve()
        cells = [c for c in _sweep_cells(folder) if c["info"].get("curve")]
        if cells:
            sweeps[folder] = cells
    for folder, cells in sweeps.items():
        name = "learning_curves.png" if len(sweeps) == 1 else f"learning_curves_{folder.name}.png"
        written = plot_learning_curves(cells, out / name, title=folder.name)
        if written is not None:
            print(f"wrote {written}")
