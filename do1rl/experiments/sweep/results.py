"""The results table of a sweep: one row per cell, seed and circuit depth; CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from do1rl.core import atomic
from do1rl.evaluation import METRIC_KEYS

# Leading columns of the results table, in order; the flattened config follows.
ROW_KEYS = (
    (
        "sweep",
        "cell_id",
        "agent",
        "seed_index",
        "depth_group",
        "circuit_depth",
        "prefix_chain",
        "horizon",
        "network_depth",
        "network_width",
        "simulations",
        "test_depth",
        "iterations",
        "iterations_per_depth",
        "param_count",
        "serial_depth",
        "flops_per_decision",
        "env_steps",
        "steps_to_plateau",
        "search_env_steps",
        "train_s",
        "eval_s",
        "wall_s",
    )
    + METRIC_KEYS
    + (
        "first_choice_accuracy",
        "mean_forced_regret",
        "mean_ratio_low",
        "mean_ratio_high",
        "first_choice_accuracy_low",
        "first_choice_accuracy_high",
        "mean_regret_low",
        "mean_regret_high",
    )
)
METRICS = METRIC_KEYS
POOLED = "all"  # seed_index of the row pooling every seed, which carries the intervals


def flatten(data: Any, prefix: str = "") -> dict:
    """Nested mappings -> {"a.b": value}; lists become JSON strings."""
    out = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
        if not data and prefix:
            out[prefix.rstrip(".")] = "{}"
        return out
    if isinstance(data, (list, tuple)):
        return {prefix.rstrip("."): json.dumps(list(data))}
    return {prefix.rstrip("."): data}


def rows_of(result: dict, sweep: str) -> list[dict]:
    """The table rows of one cell result.

    Per evaluation (test env x forced iterations, `iterations`, or T = ceil(x * D),
    `iterations_per_depth` x; both None: the trained rule): per seed, an "all" row then
    one per circuit depth; then one row with `seed_index` "all" pooling the
    seeds, with the 95% intervals (`*_low`, `*_high`) over seeds and episodes.
    On biregular DO1, `decisive_accuracy_L{L}` (per seed, and pooled with its
    interval) and `decisive_episodes_L{L}` (the decisive episodes per seed).
    `steps_to_plateau` (from a cell trained to a plateau): the seed's, and on
    the pooled row the mean over seeds, None unless every seed got there.
    """
    settings = result["settings"]
    train = settings["train"]
    args = train["env"].get("args", {})
    network = train.get("network", {})
    info = result["info"]
    base = {
        "sweep": sweep,
        "cell_id": result["cell_id"],
        "agent": result["agent"],
        "circuit_depth": args.get("depth"),
        "prefix_chain": int(args.get("prefix_chain", 0)),
        "horizon": info.get("horizon"),
        "network_depth": network.get("depth") if network.get("family") in ("mlp", "gnn") else None,
        "network_width": network.get("width"),
        "simulations": settings.get("simulations"),
    }
    base |= {key: info[key] for key in ROW_KEYS if key in info}
    plateau = info.get("steps_to_plateau")
    base.pop("steps_to_plateau", None)
    config_columns = flatten(settings, "config.")
    rows = []

    def add(row: dict) -> None:
        for key, value in config_columns.items():
            row.setdefault(key, value)
        rows.append({k: row.get(k) for k in ROW_KEYS} | {k: v for k, v in row.items() if k not in ROW_KEYS})

    for ev in evaluations_of(result):
        where = {k: ev.get(k) for k in ("test_depth", "iterations", "iterations_per_depth")}
        where |= {k: ev[k] for k in ("serial_depth", "flops_per_decision") if k in ev}  # at this test env and T
        where |= {f"decisive_episodes_L{b}": n for b, n in sorted((ev.get("decisive_episodes") or {}).items(), key=_blocks)}
        for seed_index, report in enumerate(ev["reports"]):
            groups = [("all", report)] + sorted(report.get("by_depth", {}).items(), key=lambda kv: int(kv[0]))
            for group, metrics in groups:
                row = base | where | {"seed_index": seed_index, "depth_group": group}
                row["steps_to_plateau"] = _seed_plateau(plateau, seed_index)
                row |= {key: metrics.get(key) for key in METRICS}
                choice = report.get("first_choice")
                if choice is not None:  # DO1's forced choice: overall, or this circuit depth's
                    choice = choice if group == "all" else choice.get("by_depth", {}).get(group)
                if choice is not None:
                    row["first_choice_accuracy"] = choice["accuracy"]
                    row["mean_forced_regret"] = choice["mean_forced_regret"]
                if group == "all":
                    for b, m in sorted((report.get("decisive") or {}).items(), key=_blocks):
                        row[f"decisive_accuracy_L{b}"] = m["accuracy"]
                add(row)
        intervals = ev.get("intervals") or {}
        if intervals:
            reports = ev["reports"]
            row = base | where | {"seed_index": POOLED, "depth_group": "all"}
            row["steps_to_plateau"] = _pooled_plateau(plateau)
            row["episodes"] = sum(r["episodes"] for r in reports)
            for key in ("mean_return", "mean_optimal", "mean_regret"):
                row[key] = sum(r[key] for r in reports) / len(reports)  # an interval below may refine it
            for name, interval in intervals.items():
                row[name], row[f"{name}_low"], row[f"{name}_high"] = interval["mean"], interval["low"], interval["high"]
            add(row)
    return rows


def trained_rule(row: dict) -> bool:
    """Whether a row evaluates the cell as trained (no forced T, no T = ceil(x * D))."""
    return row.get("iterations") is None and row.get("iterations_per_depth") is None


def _blocks(item: tuple[str, Any]) -> int:
    return int(item[0])


def _seed_plateau(plateau: Any, seed_index: int) -> Any:
    """One seed's steps to plateau from `info["steps_to_plateau"]` (a number for every seed, or one per seed)."""
    if isinstance(plateau, (list, tuple)):
        return plateau[seed_index] if seed_index < len(plateau) else None
    return plateau


def _pooled_plateau(plateau: Any) -> Any:
    """The mean over seeds of the steps to plateau; None unless every seed reached one."""
    if not isinstance(plateau, (list, tuple)):
        return plateau
    if not plateau or any(p is None for p in plateau):
        return None
    return sum(plateau) / len(plateau)


def evaluations_of(result: dict) -> list[dict]:
    """A result's evaluations (results written before test envs existed hold one, under `reports`)."""
    if "evaluations" in result:
        return result["evaluations"]
    return [{"test_depth": None, "iterations": None, "reports": result["reports"], "intervals": {}}]


def write_json(path: Path, data: Any) -> None:
    """Writes JSON atomically; numpy scalars become numbers."""
    atomic.write_json(path, data, default=_json_default)


def _json_default(x):
    try:
        return x.item()
    except AttributeError:
        return str(x)


def write_table(rows: list[dict], out_dir: Path) -> tuple[Path, Path]:
    """DIR/results.csv and DIR/results.json (atomic), columns ROW_KEYS then the config's."""
    columns = list(ROW_KEYS)
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    json_path = out_dir / "results.json"
    write_json(json_path, rows)
    csv_path = out_dir / "results.csv"
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    atomic.write_text(csv_path, text.getvalue())
    return csv_path, json_path


def read_results(path: str | Path) -> list[dict]:
    """Rows from results.json, results.csv, or a sweep folder holding them."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json" if (path / "results.json").exists() else path / "results.csv"
    if path.suffix == ".csv":
        with path.open(newline="") as f:
            return [{k: _parse_cell(v) for k, v in row.items()} for row in csv.DictReader(f)]
    rows = json.loads(path.read_text())
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a list of rows")
    return rows


def _parse_cell(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(text, text)
