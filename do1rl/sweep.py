"""Serial-scaling sweeps: grids of agents x circuit depth x network shape x search budget x horizon.

    do1rl sweep --config configs/sweep_families.yaml --out runs/sweeps/families

A `SweepConfig` (YAML, loaded with `do1rl.config`) names a grid. Each point
of the grid is a *cell*: one agent on one environment. Agents are

- a network family, "mlp", "gnn" or "recurrent": a PPO run (`do1rl.training.
  train_run`, in DIR/runs/<cell-id>/) of `train` with the cell's network and
  environment, `train.num_seeds` seeds trained at once (vmapped), then the
  run's own greedy evaluation of every seed;
- "mcts": `do1rl.agents.mcts` on the true model with uniform priors, at each
  of `grid.simulations`;
- a baseline, "greedy", "random" or "oracle" (`do1rl.agents.baselines`).

The grid's axes (an empty list keeps the base config's value):

- `circuit_depths`: the generator's `depth` (`train.env.args.depth`);
- `prefix_chains`: the generator's `prefix_chain` L (a chain of L gates
  beneath the circuit; on `AlternatingCircuit` the horizon H = |C| grows
  with L, on DO1 H = max(k, |C|));
- `network_depths` x `network_widths`, or the explicit `[depth, width]` pairs
  of `network_shapes` (network agents only; "recurrent" ignores depth);
- `simulations` (mcts only).

`family_networks` sets per-family network fields (e.g. `mlp: {depth: 8}`)
on top of `train.network`; the grid's depth and width axes win over both.

Every cell evaluates on the same instances (`train.eval.episodes` episodes
of seed `train.eval.seed`). A finished cell is written atomically to
DIR/cells/<cell-id>.json and never recomputed; the cell id names the cell's
axes plus a hash of its whole resolved config, so editing the base config
makes new cells rather than reusing stale ones. An interrupted PPO cell
resumes from its run folder's checkpoint. After every cell the results
table is rewritten: DIR/results.csv and DIR/results.json, one row per cell,
per seed and per circuit depth (`depth_group` = the evaluator's `by_depth`
key, plus one "all" row).

Accounting columns (per decision, i.e. per action taken):

- `param_count`: network parameters (0 for mcts and the baselines).
- `serial_depth`: sequentially dependent layer applications
  (`do1rl.agents.networks.serial_depth` at the first observation of a
  reset; for "recurrent" T follows the observation's depth) and, for mcts,
  `simulations` (each simulation one env step; see `do1rl.agents.mcts`).
- `flops_per_decision`: XLA's cost analysis (`jax.jit(f).lower(...).compile()
  .cost_analysis()["flops"]`) of one network apply on one observation. For
  "recurrent" the scan is a loop, which XLA counts once, so it is
  flops(gnn, 1 block) + (T - 1) x (flops(gnn, 2 blocks) - flops(gnn, 1 block)),
  the blocks having the same shapes. For mcts with uniform priors it is
  `simulations` x flops(one `env.step`) (the prior costs 0; the tree
  bookkeeping, argmax and adds, is not counted). None for the baselines.
- `env_steps`: training env steps per seed (0 without training);
  `search_env_steps`: model steps spent by mcts over the whole evaluation.
- `train_s`, `eval_s`, `wall_s`: wall-clock seconds, compilation included.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from do1rl import atomic
from do1rl import config as config_lib
from do1rl.agents.mcts import MCTSConfig
from do1rl.agents.networks import FAMILIES, NetworkConfig, param_count
from do1rl.evaluation import METRIC_KEYS
from do1rl.training import TrainConfig

BASELINE_AGENTS = ("greedy", "random", "oracle")
AGENTS = (*FAMILIES, "mcts", *BASELINE_AGENTS)

# Leading columns of the results table, in order; the flattened config follows.
ROW_KEYS = (
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
    "param_count",
    "serial_depth",
    "flops_per_decision",
    "env_steps",
    "search_env_steps",
    "train_s",
    "eval_s",
    "wall_s",
) + METRIC_KEYS
METRICS = ROW_KEYS[ROW_KEYS.index("episodes") :]


@dataclasses.dataclass(frozen=True)
class GridConfig:
    """The axes of a sweep (an empty list keeps the base config's value)."""

    agents: tuple[str, ...] = ("gnn",)
    circuit_depths: tuple[int, ...] = ()
    prefix_chains: tuple[int, ...] = ()
    network_depths: tuple[int, ...] = ()
    network_widths: tuple[int, ...] = ()
    network_shapes: tuple[tuple[int, ...], ...] = ()  # explicit [depth, width] pairs
    simulations: tuple[int, ...] = (64,)

    def __post_init__(self):
        if not self.agents:
            raise ValueError("grid.agents is empty")
        unknown = [a for a in self.agents if a not in AGENTS]
        if unknown:
            raise ValueError(f"unknown agent(s) {', '.join(unknown)}; choose from {', '.join(AGENTS)}")
        for name in ("circuit_depths", "network_depths", "network_widths", "simulations"):
            if any(v < 1 for v in getattr(self, name)):
                raise ValueError(f"grid.{name}: values must be >= 1")
        if any(v < 0 for v in self.prefix_chains):
            raise ValueError("grid.prefix_chains: values must be >= 0")
        if not self.simulations:
            raise ValueError("grid.simulations is empty")
        for shape in self.network_shapes:
            if len(shape) != 2 or min(shape) < 1:
                raise ValueError(f"grid.network_shapes: expected [depth, width] pairs >= 1, got {list(shape)}")
        if self.network_shapes and (self.network_depths or self.network_widths):
            raise ValueError("grid: give network_shapes or network_depths/network_widths, not both")


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A whole sweep (`do1rl sweep --config`)."""

    name: str = "sweep"
    grid: GridConfig = dataclasses.field(default_factory=GridConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    family_networks: dict = dataclasses.field(default_factory=dict)  # family -> NetworkConfig fields
    mcts: MCTSConfig = dataclasses.field(default_factory=lambda: MCTSConfig(gumbel_scale=0.0))

    def __post_init__(self):
        for family, fields in self.family_networks.items():
            if family not in FAMILIES:
                raise ValueError(f"family_networks: unknown family {family!r}; choose from {', '.join(FAMILIES)}")
            if not isinstance(fields, dict):
                raise ValueError(f"family_networks.{family}: expected a mapping of network fields")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One grid point: an agent and its fully resolved settings."""

    agent: str
    train: TrainConfig  # env, network (families), eval settings
    simulations: int | None = None  # mcts only

    @property
    def circuit_depth(self) -> int | None:
        return self.train.env.args.get("depth")

    @property
    def prefix_chain(self) -> int:
        return int(self.train.env.args.get("prefix_chain", 0))

    @property
    def trains(self) -> bool:
        return self.agent in FAMILIES

    def settings(self) -> dict:
        """The cell's resolved config as plain data (what its id hashes)."""
        out: dict[str, Any] = {"agent": self.agent}
        train = config_lib.to_dict(self.train)
        if self.trains:
            out["train"] = train
        else:  # only the env and evaluation matter
            out["train"] = {"env": train["env"], "eval": train["eval"]}
        if self.agent == "mcts":
            out["simulations"] = self.simulations
        return out

    def cell_id(self, mcts: MCTSConfig) -> str:
        settings = self.settings()
        if self.agent == "mcts":
            settings["mcts"] = dataclasses.asdict(dataclasses.replace(mcts, simulations=self.simulations))
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
        parts = [self.agent]
        if self.circuit_depth is not None:
            parts.append(f"cd{self.circuit_depth}")
        if self.prefix_chain:
            parts.append(f"pc{self.prefix_chain}")
        if self.trains:
            net = self.train.network
            parts.append(f"w{net.width}" if net.family == "recurrent" else f"d{net.depth}w{net.width}")
        if self.agent == "mcts":
            parts.append(f"s{self.simulations}")
        return "-".join(parts + [digest])


def load_config(path: str | Path, overrides: list[str] = ()) -> SweepConfig:
    """A SweepConfig from YAML plus dotted overrides; ConfigError if anything is wrong.

    The search is evaluated, so `mcts.gumbel_scale` defaults to 0 here (not
    MCTSConfig's 1.0, which is for policy improvement).
    """
    data = config_lib.merge({"mcts": {"gumbel_scale": 0.0}}, config_lib.read_yaml(path))
    data = config_lib.merge(data, config_lib.parse_overrides(list(overrides)))
    return config_lib.from_dict(SweepConfig, data)


def cells(config: SweepConfig) -> list[Cell]:
    """The grid's cells, in a fixed order (agents, then circuit depth, prefix, shape, budget)."""
    grid = config.grid
    base = config.train
    out = []
    for agent in grid.agents:
        for cd in grid.circuit_depths or (None,):
            for pc in grid.prefix_chains or (None,):
                args = dict(base.env.args)
                if cd is not None:
                    args["depth"] = cd
                if pc is not None:
                    args["prefix_chain"] = pc
                train = dataclasses.replace(base, env=dataclasses.replace(base.env, args=args))
                if agent in FAMILIES:
                    for network in _networks(config, agent):
                        out.append(Cell(agent, dataclasses.replace(train, network=network)))
                elif agent == "mcts":
                    out.extend(Cell(agent, train, simulations=s) for s in grid.simulations)
                else:
                    out.append(Cell(agent, train))
    return out


def _networks(config: SweepConfig, family: str) -> list[NetworkConfig]:
    grid = config.grid
    fields = config_lib.merge(config_lib.to_dict(config.train.network), dict(config.family_networks.get(family, {})))
    fields["family"] = family
    try:
        base = config_lib.from_dict(NetworkConfig, fields, "network.")
    except config_lib.ConfigError as err:
        raise config_lib.ConfigError(f"family_networks.{family}: {err}") from None
    if grid.network_shapes:
        shapes = [tuple(s) for s in grid.network_shapes]
    else:
        shapes = [(d, w) for d in grid.network_depths or (base.depth,) for w in grid.network_widths or (base.width,)]
    if family == "recurrent":  # depth is ignored: one cell per width
        shapes = [(base.depth, w) for w in dict.fromkeys(w for _, w in shapes)]
    return [dataclasses.replace(base, depth=d, width=w) for d, w in shapes]


def check(config: SweepConfig) -> list[Cell]:
    """Builds every cell's env and network once (shapes only); ConfigError on the first bad one."""
    from do1rl.agents.networks import validate
    from do1rl.envs.registration import EnvArgumentError, make_functional

    out = cells(config)
    seen = set()
    for cell in out:
        env_key = (cell.train.env.id, json.dumps(cell.train.env.args, sort_keys=True))
        try:
            if env_key not in seen:
                make_functional(cell.train.env.id, **cell.train.env.args)
                seen.add(env_key)
            if cell.trains:
                validate(cell.train.network)
        except (EnvArgumentError, ValueError) as err:
            raise config_lib.ConfigError(f"cell {cell.agent} ({cell.train.env.args}): {err}") from None
    return out


# ----- accounting ----------------------------------------------------------------
def _flops(fn: Callable, *args) -> float | None:
    import jax

    try:
        cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    except Exception:  # noqa: BLE001 - cost analysis is best effort on every backend
        return None
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    if not cost or "flops" not in cost:
        return None
    return float(cost["flops"])


def network_flops(network_config: NetworkConfig, env, obs) -> float | None:
    """FLOPs of one network apply on one observation (see the module docstring for "recurrent")."""
    import jax

    from do1rl.agents.networks import make_network, num_iterations

    def apply_flops(cfg: NetworkConfig) -> float | None:
        net = make_network(cfg, env)
        params = jax.eval_shape(net.init, jax.random.key(0), obs)
        return _flops(net.apply, params, obs)

    if network_config.family != "recurrent":
        return apply_flops(network_config)
    one = apply_flops(dataclasses.replace(network_config, family="gnn", depth=1))
    two = apply_flops(dataclasses.replace(network_config, family="gnn", depth=2))
    if one is None or two is None:
        return None
    t = int(num_iterations(network_config, env, obs))
    return one + (t - 1) * (two - one)


def env_step_flops(env, params, obs_state) -> float | None:
    import jax

    _, state = obs_state
    action = jax.numpy.int32(0)
    return _flops(lambda s, a: env.step(jax.random.key(0), s, a, params)[:3], state, action)


# ----- running cells -------------------------------------------------------------
class CellFailed(RuntimeError):
    """A cell that could not finish (e.g. PPO diverged); the sweep goes on without it."""


class Interrupted(RuntimeError):
    """SIGINT/SIGTERM during a PPO cell: its checkpoint is saved; rerun to resume."""


def run_cell(cell: Cell, config: SweepConfig, out_dir: Path) -> dict:
    """Runs one cell; returns its result: {"cell_id", "agent", "settings", "info", "reports"}.

    `reports` holds one evaluator report per seed (`do1rl.evaluation.metrics`);
    `info` the accounting columns shared by the cell's rows.
    """
    import jax

    from do1rl.envs.registration import make_functional
    from do1rl.evaluation import metrics, play

    cell_id = cell.cell_id(config.mcts)
    start = time.perf_counter()
    info: dict[str, Any] = {"param_count": 0, "env_steps": 0, "search_env_steps": 0, "train_s": 0.0}
    train = cell.train
    if cell.trains:
        from do1rl import training

        run_dir = out_dir / "runs" / cell_id
        resume = (run_dir / training.CHECKPOINT).exists()
        status = training.train_run(train, run_dir, resume=resume, progress=False, log=lambda *a, **k: None)
        if status == training.INTERRUPTED:
            raise Interrupted(f"{cell_id}: interrupted; checkpoint saved in {run_dir}")
        if status != training.OK:
            raise CellFailed(f"{cell_id}: training stopped with exit status {status} (see {run_dir})")
        info["train_s"] = time.perf_counter() - start
        report = json.loads((run_dir / "eval.json").read_text())
        reports = report.get("seeds") or [report]
        agent = training.load_agent(run_dir)
        env, env_params = agent.env, agent.env_params
        obs, _ = jax.jit(env.reset)(jax.random.key(0), env_params)
        info["param_count"] = int(param_count(agent.params))
        info["serial_depth"] = int(agent.serial_depth(obs))
        info["flops_per_decision"] = network_flops(train.network, env, obs)
        info["env_steps"] = train.ppo.num_updates * train.ppo.batch_size
        info["eval_s"] = time.perf_counter() - start - info["train_s"]
    else:
        env, env_params = make_functional(train.env.id, **train.env.args)
        reset = jax.jit(env.reset)(jax.random.key(0), env_params)
        t0 = time.perf_counter()
        if cell.agent == "mcts":
            from do1rl.agents.mcts import make_mcts_policy

            mcts = dataclasses.replace(config.mcts, simulations=cell.simulations)
            policy = make_mcts_policy(env, env_params, mcts)
            info["serial_depth"] = int(policy.describe()["serial_depth_per_decision"])
            step = env_step_flops(env, env_params, reset)
            info["flops_per_decision"] = None if step is None else cell.simulations * step
        else:
            from do1rl.agents.baselines import BASELINES

            policy = BASELINES[cell.agent]
            info["serial_depth"] = None
            info["flops_per_decision"] = None
        episodes = play(env, env_params, policy, episodes=train.eval.episodes, seed=train.eval.seed)
        reports = [metrics(episodes)]
        if cell.agent == "mcts":
            info["search_env_steps"] = int(episodes.length.sum()) * int(cell.simulations)
        info["eval_s"] = time.perf_counter() - t0
    info["horizon"] = int(env.max_horizon)
    info["wall_s"] = time.perf_counter() - start
    return {
        "cell_id": cell_id,
        "agent": cell.agent,
        "settings": cell.settings() | ({"mcts": dataclasses.asdict(config.mcts)} if cell.agent == "mcts" else {}),
        "info": info,
        "reports": reports,
    }


# ----- results table -------------------------------------------------------------
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
    """The table rows of one cell result: per seed, an "all" row then one per circuit depth."""
    settings = result["settings"]
    train = settings["train"]
    args = train["env"].get("args", {})
    network = train.get("network", {})
    info = result["info"]
    rows = []
    for seed_index, report in enumerate(result["reports"]):
        groups = [("all", report)] + sorted(report.get("by_depth", {}).items(), key=lambda kv: int(kv[0]))
        for group, metrics in groups:
            row = {
                "sweep": sweep,
                "cell_id": result["cell_id"],
                "agent": result["agent"],
                "seed_index": seed_index,
                "depth_group": group,
                "circuit_depth": args.get("depth"),
                "prefix_chain": int(args.get("prefix_chain", 0)),
                "horizon": info.get("horizon"),
                "network_depth": network.get("depth") if network.get("family") in ("mlp", "gnn") else None,
                "network_width": network.get("width"),
                "simulations": settings.get("simulations"),
            }
            for key in ROW_KEYS:
                if key in info:
                    row[key] = info[key]
            for key in METRICS:
                row[key] = metrics.get(key)
            for key, value in flatten(settings, "config.").items():
                row.setdefault(key, value)
            rows.append({k: row.get(k) for k in ROW_KEYS} | {k: v for k, v in row.items() if k not in ROW_KEYS})
    return rows


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


# ----- the sweep -----------------------------------------------------------------
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
    reports = result["reports"]
    ratio = sum(r["mean_ratio"] for r in reports) / len(reports)
    regret = sum(r["mean_regret"] for r in reports) / len(reports)
    wall = result["info"].get("wall_s", math.nan)
    return f"{result['cell_id']}: mean ratio {ratio:.4f}, mean regret {regret:.4f} ({wall:.0f} s)"
