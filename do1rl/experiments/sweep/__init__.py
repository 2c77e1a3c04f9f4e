"""Serial-scaling sweeps: grids of agents x circuit depth x network shape x search budget x horizon."""

from do1rl.experiments.sweep.cells import CellFailed, Interrupted, run_cell
from do1rl.experiments.sweep.grid import AGENTS, Cell, GridConfig, SweepConfig, cells, check, load_config
from do1rl.experiments.sweep.results import ROW_KEYS, read_results, rows_of, write_table
from do1rl.experiments.sweep.run import run_sweep

__all__ = [
    "AGENTS",
    "ROW_KEYS",
    "Cell",
    "CellFailed",
    "GridConfig",
    "Interrupted",
    "SweepConfig",
    "cells",
    "check",
    "load_config",
    "read_results",
    "rows_of",
    "run_cell",
    "run_sweep",
    "write_table",
]
