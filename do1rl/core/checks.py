"""Value checks shared by every layer that validates user input."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from do1rl.core import limits


def is_integer(x: Any) -> bool:
    """True for Python and NumPy integers, False for bools and everything else."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


# The rules of generator arguments, by field name: shared by the generator classes and `envs.make` (one rule, one message).
INT_MINIMUM = {"n_inputs": 1, "depth": 1, "width": 1, "max_fanin": 2, "prefix_chain": 0, "k": 1, "pad_depth": 1}
PROBABILITIES = ("skip_prob", "p_one", "input_prob")


def _concrete_number(x: Any) -> bool:
    """A value known now (not a tracer or a placeholder jax puts in a pytree): a Python or NumPy scalar."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def int_maximum(key: str) -> int:
    """The largest value of size argument `key` (`do1rl.core.limits`)."""
    return limits.MAX_FANIN if key in ("max_fanin", "k") else limits.MAX_NODES


def argument_problem(key: str, value: Any) -> str | None:
    """What is wrong with generator argument `key` = `value` (None if nothing, or if `key` has no rule here).

    Sizes (`INT_MINIMUM`) must be integers in [minimum, `int_maximum(key)`];
    probabilities (`PROBABILITIES`) numbers in [0, 1]. Probabilities that
    are arrays, tracers or the placeholders jax puts in a pytree (`None`,
    `object()`, and the bools of `custom_vmap`'s batched-leaf trees) are not
    checked: they are data, not arguments.
    """
    if key in INT_MINIMUM:
        minimum = INT_MINIMUM[key]
        if not is_integer(value) or not minimum <= value <= int_maximum(key):
            return f"{key} must be an integer in {minimum}..{int_maximum(key)}, got {limits.show(value)}"
    elif key in PROBABILITIES and (
        isinstance(value, str) or (_concrete_number(value) and not 0.0 <= float(value) <= 1.0)  # NaN fails too
    ):
        return f"{key} must be a probability in [0, 1], got {limits.show(value)}"
    return None


def check_generator(owner: Any) -> None:
    """ValueError (one line, naming the class) for the first field of generator `owner` (a dataclass) that breaks its rule."""
    for field in dataclasses.fields(owner):
        value = getattr(owner, field.name)
        problem = argument_problem(field.name, value)
        static_flag = field.type in (bool, "bool") and not field.metadata.get("pytree_node", True)
        if problem is None and static_flag and not isinstance(value, (bool, np.bool_)):  # "no" would be True
            problem = f"{field.name} must be true or false, got {limits.show(value)}"
        if problem:
            raise ValueError(f"{type(owner).__name__}: {problem}")


def check_flag(value: Any, name: str) -> bool:
    """`value` as a bool, or ValueError (one line): a string such as "no" must not be taken as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be true or false, got {limits.show(value)}")
    return bool(value)


class Range:
    """The interval a numeric config field must lie in: one rule for its check and its help line."""

    def __init__(self, low: float | None = None, high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False, integer: bool = False):
        self.low, self.high, self.low_open, self.high_open, self.integer = low, high, low_open, high_open, integer

    def holds(self, value: Any) -> bool:
        if self.integer and not is_integer(value):
            return False
        if not _concrete_number(value) or (not is_integer(value) and not np.isfinite(value)):  # NaN and inf: in none
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def __str__(self) -> str:
        kind = "an integer " if self.integer else ""
        low, high = _number(self.low), _number(self.high)
        if self.high is None:
            return f"{kind}{'>' if self.low_open else '>='} {low}"
        if self.low is None:
            return f"{kind}{'<' if self.high_open else '<='} {high}"
        if self.integer:
            return f"{kind}in {low}..{high}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{kind}in {left}{low}, {high}{right}"


def _number(x: float | None) -> str:
    """1 for 1.0, 0.5 for 0.5, every digit of a large integer."""
    return str(int(x)) if x is not None and float(x).is_integer() else str(x)


SEED = Range(0, limits.MAX_SEED, integer=True)
"""Every seed's rule: `jax.random.key` keeps 32 bits without x64, so larger seeds would collide (`limits.MAX_SEED`)."""


class OneOf:
    """The values a string config field may take."""

    def __init__(self, choices: tuple[str, ...]):
        self.choices = tuple(choices)

    def holds(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.choices

    def __str__(self) -> str:
        return f"one of {', '.join(self.choices)}"


def check_fields(owner: Any, rules: dict[str, Range | OneOf]) -> None:
    """ValueError (one line) for the first field of `owner` that breaks its rule in `rules`."""
    for name, rule in rules.items():
        value = getattr(owner, name)
        if not rule.holds(value):
            raise ValueError(f"{name} must be {rule}, got {limits.show(value)}")
