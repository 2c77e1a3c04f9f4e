"""do1rl: the DO1 environment and serial decision making, in JAX."""

from do1rl.circuit import AND, INPUT_0, INPUT_1, OR, PAD, Circuit
from do1rl.generators import Chains, CircuitPool, RandomAlternating, chain
from do1rl.solver import Solution, optimal_value, solve

__version__ = "0.1.0"

__all__ = [
    "AND",
    "INPUT_0",
    "INPUT_1",
    "OR",
    "PAD",
    "Chains",
    "Circuit",
    "CircuitPool",
    "RandomAlternating",
    "Solution",
    "chain",
    "optimal_value",
    "solve",
]

# Makes gymnasium.make("do1rl/DO1-v0") and "do1rl/AlternatingCircuit-v0" work
# after `import do1rl`. Cheap (no env is built) and idempotent.
from do1rl.envs.registration import register_envs as _register_envs  # noqa: E402

_register_envs()
