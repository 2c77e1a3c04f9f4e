"""The problem core: circuits, the file format, generators and the serial solver."""

from do1rl.core.circuit import AND, INPUT_0, INPUT_1, OR, PAD, Circuit
from do1rl.core.generators import Chains, CircuitPool, RandomAlternating, chain
from do1rl.core.solver import Solution, optimal_value, solve, solve_batch

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
    "solve_batch",
]
