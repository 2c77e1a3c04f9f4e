"""Environments: AlternatingCircuit and DO1 (functional JAX API and Gymnasium).

Functional (gymnax / Jumanji style): `DO1`, `AlternatingCircuit`, their
`EnvState` / `EnvParams`, and `AutoReset`. Gymnasium front ends live in
`do1rl.envs.gym_env` (imported on demand, as is `do1rl.envs.instances`).
"""

from do1rl.envs.alternating import AlternatingCircuit
from do1rl.envs.do1 import DO1
from do1rl.envs.types import CHAIN, MAIN, NOT_CHOSEN, EnvParams, EnvState
from do1rl.envs.wrappers import AutoReset

__all__ = [
    "CHAIN",
    "DO1",
    "MAIN",
    "NOT_CHOSEN",
    "AlternatingCircuit",
    "AutoReset",
    "EnvParams",
    "EnvState",
]
