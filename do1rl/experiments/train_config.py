"""`TrainConfig`: a whole training run as a typed config (`do1rl train --config`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import ClassVar

from do1rl.agents.algorithms import ALGORITHMS
from do1rl.agents.curriculum import CurriculumConfig
from do1rl.agents.expert_iteration import ExpertIterationConfig
from do1rl.agents.networks import NetworkConfig
from do1rl.agents.ppo import PPOConfig
from do1rl.core import limits
from do1rl.core.checks import SEED, OneOf, Range, check_fields


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """Which environment to train on: a registered id and its keyword arguments."""

    id: str = "do1rl/AlternatingCircuit-v0"
    args: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """The final evaluation written to `eval.json`."""

    episodes: int = 1000
    seed: int = 10_000  # instances apart from those of training seeds
    greedy: bool = True

    RULES: ClassVar[dict] = {"episodes": Range(1, limits.MAX_EPISODES, integer=True), "seed": SEED}

    def __post_init__(self):
        check_fields(self, self.RULES)


@dataclasses.dataclass(frozen=True)
class LogConfig:
    """How often the loop reports and checkpoints (in PPO iterations), and how many checkpoints it keeps."""

    updates_per_chunk: int = 10
    keep_checkpoints: int = 2  # the newest checkpoints kept; a damaged newest one falls back to the next

    RULES: ClassVar[dict] = {"updates_per_chunk": Range(1), "keep_checkpoints": Range(1)}

    def __post_init__(self):
        check_fields(self, self.RULES)


@dataclasses.dataclass(frozen=True)
class PlateauConfig:
    """Train to plateau (`do1rl.experiments.plateau`): stop when every seed's evaluation curve is flat.

    Disabled (the default), nothing is evaluated during training and a run
    is bitwise what it was without this section. Enabled, every seed's greedy
    policy plays the same `episodes` held-out episodes (seed `seed`, or
    `eval.seed + 1` when null) after every `eval_every` PPO iterations (a
    multiple of `log.updates_per_chunk`, so evaluations fall on chunk ends)
    and at the last one; the run stops once every seed has plateaued, or at
    `ppo.total_timesteps` (the cap). A seed plateaus at the first evaluation,
    at or after iteration `min_updates`, that ends `patience` evaluations in a
    row none of which beat its best by more than the best's 95% half-width.
    """

    enabled: bool = False
    eval_every: int = 10  # PPO iterations between evaluations
    episodes: int = 256  # held-out episodes per seed and evaluation
    patience: int = 3  # evaluations without a significant improvement
    min_updates: int = 0  # no plateau is declared before this iteration
    seed: int | None = None  # episode seed of the held-out set; null: eval.seed + 1

    RULES: ClassVar[dict] = {
        **dict.fromkeys(("eval_every", "patience"), Range(1)),
        "episodes": Range(1, limits.MAX_EPISODES, integer=True),
        "min_updates": Range(0),
    }
    NOTES: ClassVar[tuple[str, ...]] = (
        "eval_every must be a multiple of log.updates_per_chunk",
        f"seed: null or {SEED}",
    )

    def __post_init__(self):
        check_fields(self, self.RULES)
        if self.seed is not None:
            check_fields(self, {"seed": SEED})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A whole training run (`do1rl train --config`)."""

    seed: int = 0
    num_seeds: int = 1  # seeds trained at once (vmapped)
    algo: str = "ppo"  # the algorithm (`agents.algorithms.ALGORITHMS`); its settings are the section of that name
    env: EnvConfig = dataclasses.field(default_factory=EnvConfig)
    network: NetworkConfig = dataclasses.field(default_factory=NetworkConfig)
    ppo: PPOConfig = dataclasses.field(default_factory=PPOConfig)
    expert_iteration: ExpertIterationConfig = dataclasses.field(default_factory=ExpertIterationConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    log: LogConfig = dataclasses.field(default_factory=LogConfig)
    plateau: PlateauConfig = dataclasses.field(default_factory=PlateauConfig)
    curriculum: CurriculumConfig = dataclasses.field(default_factory=CurriculumConfig)  # none by default

    RULES: ClassVar[dict] = {"seed": SEED, "num_seeds": Range(1), "algo": OneOf(tuple(ALGORITHMS))}

    def __post_init__(self):
        check_fields(self, self.RULES)
        if self.plateau.enabled and self.plateau.eval_every % self.log.updates_per_chunk:
            raise ValueError(
                f"plateau.eval_every ({self.plateau.eval_every}) must be a multiple of log.updates_per_chunk "
                f"({self.log.updates_per_chunk}): evaluations happen between chunks"
            )

    @property
    def learner(self):
        """The settings of the run's algorithm: the section named by `algo` (e.g. `ppo`)."""
        return getattr(self, self.algo)

    def with_budget(self, total_timesteps: int) -> TrainConfig:
        """This config with the algorithm's `total_timesteps` replaced."""
        return dataclasses.replace(self, **{self.algo: dataclasses.replace(self.learner, total_timesteps=total_timesteps)})

    @property
    def plateau_seed(self) -> int:
        """The episode seed of the plateau rule's held-out evaluations."""
        return self.eval.seed + 1 if self.plateau.seed is None else self.plateau.seed


FINGERPRINT_FIELDS = ("seed", "num_seeds", "algo", "env", "network", *ALGORITHMS, "curriculum")  # make the training state
# fields added later: left out of the fingerprint at their defaults, so existing runs keep theirs
_LATER_FIELDS = ("algo", "curriculum", *(name for name in ALGORITHMS if name != "ppo"))
# Every field added after runs and sweep cells existed: left out of `stable_dict` at its default.
ADDED_FIELDS = (
    "algo",
    "log.keep_checkpoints",
    "expert_iteration.aux_coef",  # before their section, which is left out whole at its defaults
    "expert_iteration.aux_target",
    *(name for name in ALGORITHMS if name != "ppo"),
)
BUDGET_FIELDS = ("total_timesteps",)  # of each algorithm: how long a run trains, not its state (`--extend` changes it)


def fingerprint(config: TrainConfig) -> str:
    """SHA-256 (hex) of the config fields that make a run's training state: a checkpoint carries it, loads check it.

    Only values that differ from the defaults count, so a field added later
    (with a default) leaves the fingerprints of existing runs unchanged. The
    budget (the algorithm's `total_timesteps`) does not count, so a run extended to a
    larger budget keeps its checkpoints.
    """
    return _digest(config, drop_budget=True)


def legacy_fingerprint(config: TrainConfig) -> str:
    """The fingerprint of checkpoints written before the budget was left out (`ppo.total_timesteps` counted)."""
    return _digest(config, drop_budget=False)


def _digest(config: TrainConfig, drop_budget: bool) -> str:
    given, default = dataclasses.asdict(config), dataclasses.asdict(TrainConfig())
    if drop_budget:
        for section in ALGORITHMS:
            for name in BUDGET_FIELDS:
                given[section].pop(name)
                default[section].pop(name)
    fields = {name: _changed(given[name], default[name]) for name in FINGERPRINT_FIELDS}
    fields = {name: v for name, v in fields.items() if name not in _LATER_FIELDS or given[name] != default[name]}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def stable_dict(config: TrainConfig) -> dict:
    """The config as plain data without the `ADDED_FIELDS` left at their defaults: what sweep cell ids hash.

    So a field added later leaves the ids of existing cells, and their finished runs, unchanged.
    """
    from do1rl.experiments.config import to_dict

    data, default = to_dict(config), to_dict(TrainConfig())
    for path in ADDED_FIELDS:
        *parents, name = path.split(".")
        here, base = data, default
        for part in parents:
            here, base = here[part], base[part]
        if here.get(name) == base.get(name):
            del here[name]
            base.pop(name, None)  # so that a section holding it still compares equal to its default
    return data


def _changed(given, default):
    if isinstance(given, dict) and isinstance(default, dict):
        return {k: _changed(v, default.get(k)) for k, v in given.items() if k not in default or v != default[k]}
    return given
