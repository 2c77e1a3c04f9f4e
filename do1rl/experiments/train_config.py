"""`TrainConfig`: a whole training run as a typed config (`do1rl train --config`)."""

from __future__ import annotations

import dataclasses

from do1rl.agents.networks import NetworkConfig
from do1rl.agents.ppo import PPOConfig


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


@dataclasses.dataclass(frozen=True)
class LogConfig:
    """How often the loop reports and checkpoints (in PPO iterations)."""

    updates_per_chunk: int = 10


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A whole training run (`do1rl train --config`)."""

    seed: int = 0
    num_seeds: int = 1  # seeds trained at once (vmapped)
    env: EnvConfig = dataclasses.field(default_factory=EnvConfig)
    network: NetworkConfig = dataclasses.field(default_factory=NetworkConfig)
    ppo: PPOConfig = dataclasses.field(default_factory=PPOConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    log: LogConfig = dataclasses.field(default_factory=LogConfig)

    def __post_init__(self):
        if self.num_seeds < 1:
            raise ValueError(f"num_seeds must be >= 1, got {self.num_seeds}")
        if self.log.updates_per_chunk < 1:
            raise ValueError(f"log.updates_per_chunk must be >= 1, got {self.log.updates_per_chunk}")
        if self.eval.episodes < 1:
            raise ValueError(f"eval.episodes must be >= 1, got {self.eval.episodes}")
