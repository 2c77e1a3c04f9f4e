"""`do1rl sweep`: run a grid of agents x circuit depth x network shape x budget x horizon.

    do1rl sweep --config configs/sweep_families.yaml --out runs/sweeps/families
    do1rl sweep --config configs/sweep_mcts.yaml train.eval.episodes=128

Writes DIR/cells/<cell-id>.json per finished cell (never recomputed: rerun
the same command after a crash or Ctrl-C to resume), DIR/runs/<cell-id>/
for PPO cells, and the results table DIR/results.csv and DIR/results.json
(one row per cell, seed and circuit depth, plus an "all" row). See
`do1rl.experiments.sweep` for the config and the columns. Bad configs exit 2 with one
line; exit 3 if some cell failed (the rest are kept), 130 if interrupted.
The sweep folder is locked (an OS lock) while the sweep runs: a second
sweep on the same folder exits 2 with one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "run a serial-scaling sweep (families, depth x width, MCTS budget, horizon); resumable"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="sweep YAML: a file, or the name of a shipped config (do1rl config list)")
    parser.add_argument("--out", type=Path, help="sweep folder (default: runs/sweeps/<config name>)")
    parser.add_argument("--list", action="store_true", help="print the cell ids and exit")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.ppo.total_timesteps=8192")


def run(args: argparse.Namespace) -> int:
    from do1rl.experiments import config as config_lib
    from do1rl.experiments import sweep
    from do1rl.experiments.shipped import find_config

    try:
        path = find_config(args.config)
        config = sweep.load_config(path, args.overrides)
        grid = sweep.check(config)
    except config_lib.ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.list:
        for cell in grid:
            print(cell.cell_id(config.mcts))
        return 0
    from do1rl.core.atomic import WriteError
    from do1rl.experiments.runs import RunFolderError, lock_folder

    out = args.out or Path("runs") / "sweeps" / path.stem
    try:
        with lock_folder(out):
            return sweep.run_sweep(config, out, progress=not args.no_progress)
    except (RunFolderError, WriteError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
