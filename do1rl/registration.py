"""Gymnasium ids of the do1rl environments, registered by string entry points.

Importing this module imports only gymnasium: the environments are built
when `gymnasium.make` first calls an entry point (`do1rl.envs.gym_env`).
"""

from __future__ import annotations

import gymnasium

DO1_ID = "do1rl/DO1-v0"
ALTERNATING_ID = "do1rl/AlternatingCircuit-v0"

# id -> (entry point, vector entry point)
ENV_IDS = {
    DO1_ID: ("do1rl.envs.gym_env:make_do1", "do1rl.envs.gym_env:make_do1_vector"),
    ALTERNATING_ID: ("do1rl.envs.gym_env:make_alternating", "do1rl.envs.gym_env:make_alternating_vector"),
}


def register_envs() -> None:
    """Registers both ids with Gymnasium; calling it again does nothing.

    `gymnasium.make(id)` returns the env itself, without `OrderEnforcing` and
    `PassiveEnvChecker` (the env enforces reset before step, action_masks and render, and passes
    `check_env` in the tests), so `gymnasium.make(id).action_masks()` works
    as sb3-contrib's `get_action_masks` calls it.
    """
    for env_id, (entry_point, vector_entry_point) in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point=entry_point,
                vector_entry_point=vector_entry_point,
                order_enforce=False,
                disable_env_checker=True,
            )
