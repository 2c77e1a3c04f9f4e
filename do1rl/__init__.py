"""do1rl: the DO1 environment and serial decision making, in JAX.

`import do1rl` registers the Gymnasium ids and imports no JAX module; the
names below load their modules on first use.
"""

import importlib
from typing import TYPE_CHECKING

from do1rl.registration import register_envs as _register_envs

if TYPE_CHECKING:  # what the lazy names are, for type checkers (at run time `__getattr__` loads them)
    from do1rl.core.circuit import AND, INPUT_0, INPUT_1, OR, PAD, Circuit
    from do1rl.core.generators import Chains, CircuitPool, RandomAlternating, chain
    from do1rl.core.solver import Solution, optimal_value, solve, solve_batch

__version__ = "0.1.0"

_LAZY = {
    "AND": "do1rl.core.circuit",
    "INPUT_0": "do1rl.core.circuit",
    "INPUT_1": "do1rl.core.circuit",
    "OR": "do1rl.core.circuit",
    "PAD": "do1rl.core.circuit",
    "Circuit": "do1rl.core.circuit",
    "Chains": "do1rl.core.generators",
    "CircuitPool": "do1rl.core.generators",
    "RandomAlternating": "do1rl.core.generators",
    "chain": "do1rl.core.generators",
    "Solution": "do1rl.core.solver",
    "optimal_value": "do1rl.core.solver",
    "solve": "do1rl.core.solver",
    "solve_batch": "do1rl.core.solver",
}

# The names of _LAZY, sorted (tests/test_layers.py checks).
__all__ = [
    "AND",
    "Chains",
    "Circuit",
    "CircuitPool",
    "INPUT_0",
    "INPUT_1",
    "OR",
    "PAD",
    "RandomAlternating",
    "Solution",
    "chain",
    "optimal_value",
    "solve",
    "solve_batch",
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'do1rl' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


_register_envs()
