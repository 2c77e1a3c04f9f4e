"""Value checks shared by every layer that validates user input."""

from __future__ import annotations

import dataclasses
import sys
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


def _is_tracer(x: Any) -> bool:
    """True for a JAX tracer (a value under jit, vmap or grad); JAX is not imported to find out."""
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(x, jax.core.Tracer)


def _is_array(x: Any) -> bool:
    """True for a concrete NumPy or JAX array (not a tracer)."""
    jax = sys.modules.get("jax")
    return isinstance(x, np.ndarray) or (jax is not None and isinstance(x, jax.Array) and not _is_tracer(x))


def _probability(x: Any) -> float | None:
    """`x` as a float if it is one number (a Python or NumPy scalar, or a 0-d numeric array), else None."""
    if _concrete_number(x):
        return float(x)
    if _is_array(x) and np.ndim(x) == 0 and _numeric(x.dtype):
        return float(x)
    return None


def _numeric(dtype: Any) -> bool:
    """An integer or floating dtype, JAX's own floats (bfloat16, ...) included; not bool."""
    if np.dtype(dtype).kind in "iuf":
        return True
    jax = sys.modules.get("jax")
    return jax is not None and bool(jax.numpy.issubdtype(dtype, jax.numpy.floating))


def int_maximum(key: str) -> int:
    """The largest value of size argument `key` (`do1rl.core.limits`)."""
    return limits.MAX_FANIN if key in ("max_fanin", "k") else limits.MAX_NODES


def argument_problem(key: str, value: Any, placeholders: bool = False) -> str | None:
    """What is wrong with generator argument `key` = `value` (None if nothing, or if `key` has no rule here).

    Sizes (`INT_MINIMUM`) must be integers in [minimum, `int_maximum(key)`];
    probabilities (`PROBABILITIES`) one number in [0, 1]: a Python or NumPy
    scalar or a 0-d array, or a tracer (a value under jit or vmap, not
    checked). None, strings, bools, lists and arrays of several values are
    refused (a batch of generators is built under `jax.vmap`, or with
    `jax.tree.map`, not by passing an array).

    `placeholders=True` is for a generator that jax rebuilds through its
    constructor (a plain `flax.struct` dataclass): such a rebuild passes
    placeholders (`None`, `object()`, the bools of `custom_vmap`'s
    batched-leaf trees, shardings) and batched arrays, so only strings and
    numbers out of range are refused. `generators.generator_dataclass`
    rebuilds without the constructor and gets the full rule.
    """
    if key in INT_MINIMUM:
        minimum = INT_MINIMUM[key]
        if not is_integer(value) or not minimum <= value <= int_maximum(key):
            return f"{key} must be an integer in {minimum}..{int_maximum(key)}, got {limits.show(value)}"
    elif key in PROBABILITIES and not _is_tracer(value):
        number = (float(value) if _concrete_number(value) else None) if placeholders else _probability(value)
        if number is None and _is_array(value) and np.ndim(value) > 0 and not placeholders:
            return f"{key} must be a probability in [0, 1] (one number), got an array of shape {np.shape(value)}"
        if number is None and (isinstance(value, str) or not placeholders):
            return f"{key} must be a probability in [0, 1], got {limits.show(value)}"
        if number is not None and not 0.0 <= number <= 1.0:  # NaN fails too
            return f"{key} must be a probability in [0, 1], got {limits.show(value)}"
    return None


def check_generator(owner: Any) -> None:
    """ValueError (one line, naming the class) for the first field of generator `owner` (a dataclass) that breaks its rule.

    A class made by `generators.generator_dataclass` is checked in full; a
    plain `flax.struct` dataclass lets pytree placeholders through
    (`argument_problem`), since jax rebuilds it through its constructor.
    """
    # The class's own mark: a `flax.struct` subclass of a `generator_dataclass` is rebuilt through its constructor.
    placeholders = not vars(type(owner)).get("_rebuilt_without_checks", False)
    for field in dataclasses.fields(owner):
        value = getattr(owner, field.name)
        problem = argument_problem(field.name, value, placeholders)
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

    def __init__(
        self, low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False, integer: bool = False
    ):
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
