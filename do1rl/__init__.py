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
