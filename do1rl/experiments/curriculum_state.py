"""What a training state says of its curriculum: each seed's level and restarts, and curriculum.json."""

from __future__ import annotations

from typing import Any

import numpy as np

from do1rl.experiments.distributed import local_value
from do1rl.experiments.train_config import TrainConfig


def curriculum_levels(state: Any) -> list[int] | None:
    """Each seed's curriculum level, None without a curriculum."""
    if state.curriculum is None:
        return None
    return [int(x) for x in np.asarray(local_value(state.curriculum.level)).reshape(-1)]


def curriculum_restarts(state: Any) -> list[int]:
    """Each seed's curriculum restarts so far."""
    return [int(x) for x in np.asarray(local_value(state.curriculum.restarts)).reshape(-1)]


def curriculum_report(state: Any, config: TrainConfig) -> dict:
    """curriculum.json: the levels, and per seed the level it ended at and its restarts."""
    return {
        "levels": [list(level) for level in config.curriculum.levels],
        "gate": config.curriculum.gate,
        "level": curriculum_levels(state),
        "restarts": curriculum_restarts(state),
    }
