"""`run_sweep`: every unfinished cell of a grid, resumably, then the results table."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from do1rl.experiments import config as config_lib
from do1rl.experiments.sweep.cells import CellFailed, Interrupted, run_cell
from do1rl.experiments.sweep.grid import Cell, SweepConfig, check
from do1rl.experiments.sweep.results import evaluations_of, rows_of, write_json, write_table


def run_sweep(
    config: SweepConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
    runner: Callable[[Cell, SweepConfig, Path], dict] | None = None,
) -> int:
    """Runs every unfinished cell, then writes the results table; returns an exit status.

    0 when every cell finished, 3 when some failed (the others are kept),
    130 when interrupted (rerun the same command to resume).
    """
    runner = runner or run_cell
    out_dir = Path(out_dir)
    cell_dir = out_dir / "cells"
    cell_dir.mkdir(parents=True, exist_ok=True)
    config_lib.dump(config, out_dir / "sweep.yaml")
    grid = check(config)
    ids = [c.cell_id(config.mcts) for c in grid]
    todo = [(c, i) for c, i in zip(grid, ids) if not (cell_dir / f"{i}.json").exists()]
    log(f"sweep {config.name}: {len(grid)} cells, {len(grid) - len(todo)} already done, {len(todo)} to run -> {out_dir}")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(grid), initial=len(grid) - len(todo), unit="cell", desc=config.name)
    say = (lambda m: bar.write(m)) if bar is not None else log
    failed = []
    status = 0
    try:
        for cell, cell_id in todo:
            if bar is not None:
                bar.set_postfix_str(cell_id, refresh=True)
            try:
                result = runner(cell, config, out_dir)
            except CellFailed as err:
                failed.append(cell_id)
                say(f"failed: {err}")
                continue
            except Interrupted as err:
                say(str(err))
                status = 130
                break
            write_json(cell_dir / f"{cell_id}.json", result)
            say(_summary_line(result))
            if bar is not None:
                bar.update(1)
            _write_all(config, grid, ids, out_dir)
    except KeyboardInterrupt:
        status = 130
    finally:
        if bar is not None:
            bar.close()
    csv_path, json_path = _write_all(config, grid, ids, out_dir)
    if status == 130:
        log(f"interrupted; rerun the same command to resume ({out_dir})")
        return status
    log(f"results: {csv_path} and {json_path}")
    if failed:
        log(f"{len(failed)} cell(s) failed: {', '.join(failed)}")
        return 3
    return 0


def _write_all(config: SweepConfig, grid: list[Cell], ids: list[str], out_dir: Path):
    rows = []
    for cell_id in ids:
        path = out_dir / "cells" / f"{cell_id}.json"
        if path.exists():
            rows.extend(rows_of(json.loads(path.read_text()), config.name))
    return write_table(rows, out_dir)


def _summary_line(result: dict) -> str:
    """The cell id, then mean ratio over seeds per evaluation (test depth / forced iterations)."""
    parts = []
    for ev in evaluations_of(result):
        reports = ev["reports"]
        ratio = sum(r["mean_ratio"] for r in reports) / len(reports)
        label = "".join(f"{tag}{ev[key]} " for key, tag in (("test_depth", "D="), ("iterations", "T=")) if ev.get(key) is not None)
        if ev.get("iterations_per_depth") is not None:
            label += f"T={ev['iterations_per_depth']:g}D "
        parts.append(f"{label}{ratio:.3f}")
    wall = result["info"].get("wall_s", math.nan)
    return f"{result['cell_id']}: mean ratio {', '.join(parts)} ({wall:.0f} s)"
