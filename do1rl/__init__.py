"""do1rl: the DO1 environment and serial decision making, in JAX.

`import do1rl` registers the Gymnasium ids and imports no JAX module; the
names below load their modules on first use.
"""

import importlib

from do1rl.registration import register_envs as _register_envs

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

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'do1rl' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


_register_envs()
