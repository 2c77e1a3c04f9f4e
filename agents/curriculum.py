"""A depth curriculum: which circuit depths PPO trains on, level by level.

    curriculum = CurriculumConfig(levels=((2,), (2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 6), (4, 5, 6, 7), (4, 5, 6, 7, 8)))
    ppo = PPO(env, env_params, network, PPOConfig(...), curriculum=curriculum)

The training env's generator must be a `Mixture` (`make(..., depths=[...])`)
holding every depth a level names; a level draws its depths uniformly. The
gate reads a metric of the rollouts (never a gradient): docs/design/curriculum.md.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from do1rl.core.checks import OneOf, Range, check_fields

GATES = ("greedy_ratio", "schedule")


@dataclasses.dataclass(frozen=True)
class CurriculumConfig:
    """When PPO moves to the next level of circuit depths.

    Attributes:
      levels: the depths each level draws, easiest first; empty = no curriculum.
      gate: "greedy_ratio" steps once the moving greedy ratio of the rollouts
        reaches `threshold` (after `min_updates` at the level); "schedule"
        steps every `min_updates` PPO iterations.
      threshold: the greedy ratio that opens the gate.
      min_updates: PPO iterations at a level before it may step.
      smoothing: weight of the newest iteration in the moving ratio (an EMA).
      restart_after: a seed whose moving greedy ratio stays below `threshold`
        for this many PPO iterations in a row at one level (the last
        included: a collapse) starts again from fresh parameters at level 0;
        each restart is counted. 0 = never.
      max_restarts: restarts per seed at most; their initial parameters are
        drawn with the run's (an in-loop init would put the initialisers'
        QR decompositions inside the jitted training loop).
      last_level_lr_scale: multiplies the learning rate once a seed is at
        the last level (1 = unchanged). At a solved level the policy
        gradient is mostly noise, and Adam turns noise into steps of the
        full learning rate: docs/design/curriculum.md.
      last_level_lr_decay: PPO iterations at the last level over which the
        factor falls linearly from 1 to `last_level_lr_scale` (0 = at once),
        so a seed keeps refining at the full rate before the cut.
    """

    levels: tuple[tuple[int, ...], ...] = ()
    gate: str = "greedy_ratio"
    threshold: float = 0.95
    min_updates: int = 100
    smoothing: float = 0.1
    restart_after: int = 0
    max_restarts: int = 3
    last_level_lr_scale: float = 1.0
    last_level_lr_decay: int = 0

    RULES: ClassVar[dict] = {
        "gate": OneOf(GATES),
        "threshold": Range(0, 1, low_open=True),
        "min_updates": Range(1),
        "smoothing": Range(0, 1, low_open=True),
        "restart_after": Range(0),
        "max_restarts": Range(0),
        "last_level_lr_scale": Range(0, 1, low_open=True),
        "last_level_lr_decay": Range(0),
    }
    NOTES: ClassVar[tuple[str, ...]] = (
        "levels: lists of depths >= 1, each non-empty, all among the env's depths",
        "restart_after, when not 0, must exceed min_updates",
    )

    def __post_init__(self):
        check_fields(self, self.RULES)
        if any(not level for level in self.levels):
            raise ValueError("every curriculum level needs at least one depth")
        if any(d < 1 for level in self.levels for d in level):
            raise ValueError("curriculum depths must be >= 1")
        if self.restart_after and self.restart_after <= self.min_updates:
            raise ValueError(f"restart_after ({self.restart_after}) must exceed min_updates ({self.min_updates})")

    @property
    def enabled(self) -> bool:
        return bool(self.levels)

    def level_weights(self, component_depths: tuple[int, ...]) -> np.ndarray:
        """float32[levels, components]: the mixture weights of each level (1 for the level's depths, else 0)."""
        missing = sorted({d for level in self.levels for d in level} - set(component_depths))
        if missing:
            raise ValueError(f"curriculum depths {missing} are not in the training env's depths {sorted(set(component_depths))}")
        return np.array([[float(d in level) for d in component_depths] for level in self.levels], np.float32)


def lr_scale(config: CurriculumConfig, state: CurriculumState) -> jax.Array:
    """float32[]: the factor on the learning rate at the current level and iteration."""
    last = state.level == len(config.levels) - 1
    decay = config.last_level_lr_decay
    progress = jnp.minimum(state.updates / decay, 1.0) if decay else 1.0
    factor = 1.0 + (config.last_level_lr_scale - 1.0) * progress
    return jnp.where(last, factor, 1.0).astype(jnp.float32)


class CurriculumState(struct.PyTreeNode):
    """Where a run stands.

    Attributes:
      level: the current level; updates: PPO iterations at it; ratio: the
      moving greedy ratio at it; below: iterations in a row at it with that
      ratio under the threshold; restarts: restarts so far.
    """

    level: jax.Array
    updates: jax.Array
    ratio: jax.Array
    below: jax.Array
    restarts: jax.Array

    @classmethod
    def start(cls) -> CurriculumState:
        zero = jnp.int32(0)
        return cls(level=zero, updates=zero, ratio=jnp.float32(0.0), below=zero, restarts=zero)


def stalled(config: CurriculumConfig, state: CurriculumState) -> jax.Array:
    """bool[]: the moving ratio stayed under the threshold `restart_after` iterations, and a restart is left."""
    if not config.restart_after:
        return jnp.bool_(False)
    return (state.below >= config.restart_after) & (state.restarts < config.max_restarts)


def restart(state: CurriculumState, where: jax.Array) -> CurriculumState:
    """Back to level 0 with one more restart, where `where`; unchanged elsewhere."""
    fresh = CurriculumState.start().replace(restarts=state.restarts + 1)
    return jax.tree.map(lambda new, old: jnp.where(where, new, old), fresh, state)


def advance(config: CurriculumConfig, state: CurriculumState, greedy_ratio: jax.Array) -> CurriculumState:
    """The state after one PPO iteration whose rollouts scored `greedy_ratio` (a metric: no gradient flows)."""
    greedy_ratio = jax.lax.stop_gradient(greedy_ratio)
    updates = state.updates + 1
    first = state.updates == 0
    ratio = jnp.where(first, greedy_ratio, (1.0 - config.smoothing) * state.ratio + config.smoothing * greedy_ratio)
    below = jnp.where(ratio >= config.threshold, 0, state.below + 1)
    ready = updates >= config.min_updates
    if config.gate == "greedy_ratio":
        ready = ready & (ratio >= config.threshold)
    last = len(config.levels) - 1
    step = ready & (state.level < last)
    return CurriculumState(
        level=jnp.where(step, state.level + 1, state.level).astype(jnp.int32),
        updates=jnp.where(step, 0, updates).astype(jnp.int32),
        ratio=jnp.where(step, 0.0, ratio).astype(jnp.float32),
        below=jnp.where(step, 0, below).astype(jnp.int32),
        restarts=state.restarts,
    )
