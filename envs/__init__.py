"""Environments: AlternatingCircuit and DO1, functional (gymnax / Jumanji style) and Gymnasium.

`make(id, **kwargs) -> (env, params)` builds a functional env as `gymnax.make`
does; the Gymnasium front ends live in `do1rl.envs.gym_env` (made by
`gymnasium.make` after `import do1rl`); `register_family` adds a circuit
family `make` can build (docs/extending.md); `GymnaxAdapter` gives gymnax's step
contract (auto-reset) and spaces; `do1rl.envs.render` draws states.
"""

from do1rl.core.families import CIRCUIT_FAMILIES, register_family
from do1rl.core.generators import Generator
from do1rl.envs.alternating import AlternatingCircuit
from do1rl.envs.do1 import DO1
from do1rl.envs.gymnax import GymnaxAdapter
from do1rl.envs.make import EnvArgumentError, make
from do1rl.envs.types import CHAIN, MAIN, NOT_CHOSEN, EnvParams, EnvState, Observation
from do1rl.envs.wrappers import AutoReset

# A functional env as `make` builds it (`env.reset(key, params)`, `env.step(key, state, action, params)`).
Env = DO1 | AlternatingCircuit

__all__ = [
    "CHAIN",
    "CIRCUIT_FAMILIES",
    "DO1",
    "MAIN",
    "NOT_CHOSEN",
    "AlternatingCircuit",
    "AutoReset",
    "Env",
    "EnvArgumentError",
    "EnvParams",
    "EnvState",
    "Generator",
    "GymnaxAdapter",
    "Observation",
    "make",
    "register_family",
]
