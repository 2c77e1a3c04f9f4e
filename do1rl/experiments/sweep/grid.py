"""Sweep configs and their grids of cells (one agent on one environment each).

See docs/design/sweeps.md for the axes, cell ids and resumption.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from do1rl.agents.algorithms import ALGORITHMS
from do1rl.agents.mcts import MCTSConfig
from do1rl.agents.networks import FAMILIES, RECURRENT_FAMILIES, NetworkConfig
from do1rl.experiments import config as config_lib
from do1rl.experiments.agent_registry import REGISTRY
from do1rl.experiments.train_config import TrainConfig, stable_dict

# A network family (trained per cell) or a registered agent that needs no run folder.
AGENTS = (*FAMILIES, *(name for name in REGISTRY if not name.endswith(":")))
FAMILY_TRAIN_SECTIONS = (*ALGORITHMS, "curriculum")  # what family_train may change: each algorithm's settings, curriculum
BLOCK_FAMILIES = ("gnn",)  # families whose network.depth is a count L of message-passing blocks
DECISIVE_BLOCKS = (0, 3)  # grid.decisive_blocks' default
MAX_ITERATIONS_PER_DEPTH = 64  # bounds test-time compute: T = ceil(x * D) iterations per decision


def has_decisive_cases(env_id: str, args: dict) -> bool:
    """Whether an env has decisive cases (`do1rl.evaluation.decisive`): one-shot DO1 on biregular circuits."""
    return "DO1" in env_id and args.get("family") == "biregular" and args.get("max_selections") == 1


def _is_shape(shape) -> bool:
    return (
        isinstance(shape, (list, tuple))
        and len(shape) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in shape)
    )


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
    # evaluate every cell at these circuit depths: padded to the training env's pad_depth, or at their own
    # size beyond it (graph nets only: runs.retarget; an mlp skips depths whose shapes differ)
    test_depths: tuple[int, ...] = ()
    test_iterations: tuple[int, ...] = ()  # recurrent cells: also evaluate with T forced to each value
    # recurrent cells: also evaluate with T = ceil(x * D) for each x here (e.g. 4: "thinking 4x longer")
    test_iterations_per_depth: tuple[float, ...] = ()
    test_args: dict = dataclasses.field(default_factory=dict)  # env args the test envs change, e.g. stratify_d1
    # recurrent cells: the cap on T at test, lifting a training cap (network.max_iterations) that
    # only bounds training compute; None keeps the trained cap
    test_max_iterations: int | None = None
    # one-shot DO1 on biregular circuits: forced-choice accuracy on the episodes where the L-block ceiling's
    # choice is wrong, for each L here and each gnn's L in the sweep (`decisive_accuracy_L{L}`); [] for none
    decisive_blocks: tuple[int, ...] = DECISIVE_BLOCKS

    def __post_init__(self):
        if not self.agents:
            raise ValueError("grid.agents is empty")
        unknown = [a for a in self.agents if a not in AGENTS]
        if unknown:
            raise ValueError(f"unknown agent(s) {', '.join(unknown)}; choose from {', '.join(AGENTS)}")
        for name in ("circuit_depths", "network_depths", "network_widths", "simulations", "test_depths", "test_iterations"):
            if any(v < 1 for v in getattr(self, name)):
                raise ValueError(f"grid.{name}: values must be >= 1")
        if any(not 0 < x <= MAX_ITERATIONS_PER_DEPTH for x in self.test_iterations_per_depth):
            raise ValueError(f"grid.test_iterations_per_depth: values must be in (0, {MAX_ITERATIONS_PER_DEPTH}]")
        for name in ("prefix_chains", "decisive_blocks"):
            if any(v < 0 for v in getattr(self, name)):
                raise ValueError(f"grid.{name}: values must be >= 0")
        if self.test_max_iterations is not None and self.test_max_iterations < 1:
            raise ValueError("grid.test_max_iterations must be >= 1")
        if not self.simulations:
            raise ValueError("grid.simulations is empty")
        for shape in self.network_shapes:
            if not _is_shape(shape):
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
    family_env: dict = dataclasses.field(default_factory=dict)  # family -> training env args it overrides
    family_train: dict = dataclasses.field(default_factory=dict)  # family -> train sections it overrides (ppo, curriculum)
    family_shapes: dict = dataclasses.field(default_factory=dict)  # family -> [depth, width] pairs (its own grid.network_shapes)
    mcts: MCTSConfig = dataclasses.field(default_factory=lambda: MCTSConfig(gumbel_scale=0.0))

    def __post_init__(self):
        for family, fields in self.family_networks.items():
            if family not in FAMILIES:
                raise ValueError(f"family_networks: unknown family {family!r}; choose from {', '.join(FAMILIES)}")
            if not isinstance(fields, dict):
                raise ValueError(f"family_networks.{family}: expected a mapping of network fields")
        for family, fields in self.family_train.items():
            if family not in FAMILIES:
                raise ValueError(f"family_train: unknown family {family!r}; choose from {', '.join(FAMILIES)}")
            if not isinstance(fields, dict) or not set(fields) <= set(FAMILY_TRAIN_SECTIONS):
                raise ValueError(f"family_train.{family}: expected a mapping of {' and '.join(FAMILY_TRAIN_SECTIONS)} fields")
        for family, shapes in self.family_shapes.items():
            if family not in FAMILIES:
                raise ValueError(f"family_shapes: unknown family {family!r}; choose from {', '.join(FAMILIES)}")
            if not isinstance(shapes, (list, tuple)) or not shapes or not all(_is_shape(s) for s in shapes):
                raise ValueError(f"family_shapes.{family}: expected a non-empty list of [depth, width] pairs >= 1")
        for family, args in self.family_env.items():
            if family not in FAMILIES:
                raise ValueError(f"family_env: unknown family {family!r}; choose from {', '.join(FAMILIES)}")
            if not isinstance(args, dict):
                raise ValueError(f"family_env.{family}: expected a mapping of env args")
            env = dict(self.train.env.args) | dict(self.grid.test_args)
            same_k = env.get("chain_scale") == "circuit" or env.get("chain_length")
            if "pad_depth" in args and not same_k:
                raise ValueError(
                    f"family_env.{family}.pad_depth: with chain_scale max, k is drawn up to the padded depth, so this "
                    "family would play other episodes; set train.env.args.chain_scale: circuit (or a chain_length)"
                )


@dataclasses.dataclass(frozen=True)
class Cell:
    """One grid point: an agent and its fully resolved settings."""

    agent: str
    train: TrainConfig  # env, network (families), eval settings
    simulations: int | None = None  # mcts only
    test_depths: tuple[int, ...] = ()  # () = evaluate on the training env
    test_iterations: tuple[int, ...] = ()  # recurrent only
    test_iterations_per_depth: tuple[float, ...] = ()  # recurrent only
    test_args: dict = dataclasses.field(default_factory=dict)  # env args changed for testing
    test_max_iterations: int | None = None  # recurrent only: T's cap at test
    decisive_blocks: tuple[int, ...] = ()  # L of the decisive-case accuracies (biregular DO1 only)

    def test_envs(self) -> list[tuple[int | None, dict]]:
        """(test depth, env args) of every evaluation env: the training env's args (with `test_args`) at each test depth.

        A test depth beyond the training env's `pad_depth` drops the padding:
        that env has its own (larger) size.
        """
        base = dict(self.train.env.args) | dict(self.test_args)
        if not self.test_depths:
            return [(None, base)]
        args = {k: v for k, v in base.items() if k != "depths"}
        out: list[tuple[int | None, dict]] = []
        for depth in self.test_depths:
            test = args | {"depth": depth}
            if test.get("pad_depth") is not None and depth > int(test["pad_depth"]):
                del test["pad_depth"]
            out.append((depth, test))
        return out

    def iterations(self) -> tuple[int | None, ...]:
        """None (the trained rule) and, for recurrent cells, each forced T."""
        forced = self.test_iterations if self.recurrent else ()
        return (None, *forced)

    def iterations_per_depth(self) -> tuple[float, ...]:
        """For recurrent cells, each x of T = ceil(x * D) evaluated besides `iterations()`."""
        return tuple(float(x) for x in self.test_iterations_per_depth) if self.recurrent else ()

    @property
    def test_cap(self) -> int | None:
        """The cap on T at test for a trained recurrent cell (None: the trained cap)."""
        return self.test_max_iterations if self.recurrent else None

    @property
    def recurrent(self) -> bool:
        """A trained cell of a weight-tied family whose T can be forced at test (`RECURRENT_FAMILIES`)."""
        return self.trains and self.train.network.family in RECURRENT_FAMILIES

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
        train = stable_dict(self.train)  # fields added later, at their defaults, keep existing ids
        if self.trains:
            out["train"] = train
        else:  # only the env and evaluation matter
            out["train"] = {"env": train["env"], "eval": train["eval"]}
        if self.agent == "mcts":
            out["simulations"] = self.simulations
        if self.test_depths:
            out["test_depths"] = list(self.test_depths)
        if self.test_args:
            out["test_args"] = dict(self.test_args)
        if self.iterations()[1:]:
            out["test_iterations"] = list(self.iterations()[1:])
        if self.iterations_per_depth():
            out["test_iterations_per_depth"] = list(self.iterations_per_depth())
        if self.test_cap is not None:
            out["test_max_iterations"] = self.test_cap
        if self.decisive_blocks:
            out["decisive_blocks"] = list(self.decisive_blocks)
        return out

    def cell_id(self, mcts: MCTSConfig) -> str:
        settings = self.settings()
        if self.agent == "mcts":
            assert self.simulations is not None  # `cells` gives every mcts cell its count
            settings["mcts"] = dataclasses.asdict(dataclasses.replace(mcts, simulations=self.simulations))
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
        parts = [self.agent]
        if self.circuit_depth is not None:
            parts.append(f"cd{self.circuit_depth}")
        if self.prefix_chain:
            parts.append(f"pc{self.prefix_chain}")
        if self.trains:
            net = self.train.network
            parts.append(f"w{net.width}" if self.recurrent else f"d{net.depth}w{net.width}")
        if self.agent == "mcts":
            parts.append(f"s{self.simulations}")
        return "-".join(parts + [digest])


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> SweepConfig:
    """A SweepConfig from YAML plus dotted overrides; ConfigError if anything is wrong.

    The search is evaluated, so `mcts.gumbel_scale` defaults to 0 here (not
    MCTSConfig's 1.0, which is for policy improvement).
    """
    data = config_lib.merge({"mcts": {"gumbel_scale": 0.0}}, config_lib.read_yaml(path))
    data = config_lib.merge(data, config_lib.parse_overrides(list(overrides)))
    return config_lib.from_dict(SweepConfig, data)


def cells(config: SweepConfig) -> list[Cell]:
    """The grid's cells, in a fixed order (agents, then circuit depth, prefix, shape, budget).

    On DO1 with biregular circuits every cell scores the decisive cases of
    each L in `grid.decisive_blocks` and of every gnn's L in the sweep, so
    baselines and nets are compared on the same episodes.
    """
    grid = config.grid
    base = config.train
    tests: dict[str, Any] = {
        "test_depths": tuple(grid.test_depths),
        "test_iterations": tuple(grid.test_iterations),
        "test_iterations_per_depth": tuple(grid.test_iterations_per_depth),
        "test_args": dict(grid.test_args),
        "test_max_iterations": grid.test_max_iterations,
    }
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
                    own = train
                    if agent in config.family_env:
                        own_args = args | dict(config.family_env[agent])
                        own = dataclasses.replace(train, env=dataclasses.replace(train.env, args=own_args))
                    if agent in config.family_train:
                        own = _family_train(own, config.family_train[agent], agent)
                    for network in _networks(config, agent):
                        out.append(Cell(agent, dataclasses.replace(own, network=network), **tests))
                elif agent == "mcts":
                    out.extend(Cell(agent, train, simulations=s, **tests) for s in grid.simulations)
                else:
                    out.append(Cell(agent, train, **tests))
    nets = [c.train.network.depth for c in out if c.trains and c.train.network.family in BLOCK_FAMILIES]
    blocks = tuple(sorted({*grid.decisive_blocks, *nets})) if grid.decisive_blocks else ()  # []: none at all
    return [
        dataclasses.replace(c, decisive_blocks=blocks)
        if blocks and has_decisive_cases(c.train.env.id, dict(c.train.env.args) | dict(c.test_args))
        else c
        for c in out
    ]


def _family_train(train: TrainConfig, sections: dict, family: str) -> TrainConfig:
    fields = config_lib.merge(config_lib.to_dict(train), {k: dict(v) for k, v in sections.items()})
    try:
        return config_lib.from_dict(TrainConfig, fields)
    except config_lib.ConfigError as err:
        raise config_lib.ConfigError(f"family_train.{family}: {err}") from None


def _networks(config: SweepConfig, family: str) -> list[NetworkConfig]:
    grid = config.grid
    fields = config_lib.merge(config_lib.to_dict(config.train.network), dict(config.family_networks.get(family, {})))
    fields["family"] = family
    try:
        base = config_lib.from_dict(NetworkConfig, fields, "network.")
    except config_lib.ConfigError as err:
        raise config_lib.ConfigError(f"family_networks.{family}: {err}") from None
    if family in config.family_shapes:
        shapes = [tuple(s) for s in config.family_shapes[family]]
    elif grid.network_shapes:
        shapes = [tuple(s) for s in grid.network_shapes]
    else:
        shapes = [(d, w) for d in grid.network_depths or (base.depth,) for w in grid.network_widths or (base.width,)]
    if family in RECURRENT_FAMILIES:  # depth is ignored: one cell per width
        shapes = [(base.depth, w) for w in dict.fromkeys(w for _, w in shapes)]
    return [dataclasses.replace(base, depth=d, width=w) for d, w in shapes]


def check(config: SweepConfig) -> list[Cell]:
    """Builds every cell's env and network once (shapes only); ConfigError on the first bad one."""
    from do1rl.agents.networks import validate
    from do1rl.envs.make import EnvArgumentError, make

    out = cells(config)
    seen = set()
    for cell in out:
        env_key = (cell.train.env.id, json.dumps(cell.train.env.args, sort_keys=True))
        try:
            if env_key not in seen:
                make(cell.train.env.id, **cell.train.env.args)
                for _, args in cell.test_envs():
                    make(cell.train.env.id, **args)
                seen.add(env_key)
            if cell.trains:
                validate(cell.train.network)
        except (EnvArgumentError, ValueError) as err:
            raise config_lib.ConfigError(f"cell {cell.agent} ({cell.train.env.args}): {err}") from None
    return out
