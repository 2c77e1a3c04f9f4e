"""Trainable algorithms by name: what a training config's `algo` picks, and the interface the training loop drives.

A learner (e.g. `PPO`) is built as `make(env, env_params, network, settings,
curriculum=...)` and offers what `do1rl.experiments.training` calls:

- `init_seeds(keys) -> state` and `run(state, n) -> (state, totals)` (one
  seed; the loop vmaps `run` over seeds). The state is a `ppo.TrainState`
  (its field names are what checkpoints and device sharding read);
- `policy(params, greedy) -> Policy`, `apply(params, obs)`, `network`,
  `final_params` (the env params evaluations play), `reward_scale`;
- the spec's `summarize(totals) -> dict`, with at least `nonfinite`,
  `mean_return`, `mean_ratio` and `episodes`.

Its settings are a frozen dataclass with `total_timesteps`, `num_envs`,
`num_steps`, `batch_size` and `num_updates`, held in the config section
named like the algorithm. Adding one: docs/extending.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from do1rl.agents import expert_iteration
from do1rl.agents.ppo import PPO, PPOConfig, summarize


@dataclasses.dataclass(frozen=True)
class AlgorithmSpec:
    """One trainable algorithm.

    Attributes:
      name: `algo: NAME` in a training config, and the config section of its settings.
      settings: its settings class (the section's type).
      make: `make(env, env_params, network, settings, curriculum=...)` -> the learner.
      summarize: its totals -> scalar means (`do1rl.experiments.scalars`).
      node_values: whether its settings ask the network for a node-value head.
    """

    name: str
    settings: type
    make: Callable[..., Any]
    summarize: Callable[[Any], dict[str, float]]
    node_values: Callable[[Any], bool] = lambda settings: False


ALGORITHMS: dict[str, AlgorithmSpec] = {}


def register_algorithm(spec: AlgorithmSpec) -> AlgorithmSpec:
    """Adds `spec` to `ALGORITHMS` (ValueError if the name is taken)."""
    if spec.name in ALGORITHMS:
        raise ValueError(f"algorithm {spec.name!r} is already registered")
    ALGORITHMS[spec.name] = spec
    return spec


register_algorithm(AlgorithmSpec("ppo", PPOConfig, PPO, summarize, node_values=lambda settings: settings.aux_coef > 0))
register_algorithm(
    AlgorithmSpec(
        "expert_iteration",
        expert_iteration.ExpertIterationConfig,
        expert_iteration.ExpertIteration,
        expert_iteration.summarize,
        node_values=lambda settings: settings.aux_coef > 0,
    )
)
