"""Value checks shared by every layer that validates user input."""

from __future__ import annotations

from typing import Any

import numpy as np


def is_integer(x: Any) -> bool:
    """True for Python and NumPy integers, False for bools and everything else."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


# The rules of generator arguments, shared by the generator classes and `envs.make` (one rule, one message).
INT_MINIMUM = {"n_inputs": 1, "depth": 1, "width": 1, "max_fanin": 2, "prefix_chain": 0, "k": 1, "pad_depth": 1}
PROBABILITIES = ("skip_prob", "p_one", "input_prob")


def _concrete_number(x: Any) -> bool:
    """A value known now (not a tracer or a placeholder jax puts in a pytree): a Python or NumPy scalar."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def int_maximum(key: str) -> int:
    """The largest value of size argument `key` (`do1rl.core.limits`)."""
    from do1rl.core import limits

    return limits.MAX_FANIN if key in ("max_fanin", "k") else limits.MAX_NODES


def argument_problem(key: str, value: Any) -> str | None:
    """What is wrong with generator argument `key` = `value` (None if nothing, or if `key` has no rule here).

    Sizes (`INT_MINIMUM`) must be integers in [minimum, `int_maximum(key)`];
    probabilities (`PROBABILITIES`) numbers in [0, 1]. Probabilities that
    are arrays, tracers or the placeholders jax puts in a pytree (`None`,
    `object()`, and the bools of `custom_vmap`'s batched-leaf trees) are not
    checked: they are data, not arguments.
    """
    from do1rl.core import limits

    if key in INT_MINIMUM:
        minimum = INT_MINIMUM[key]
        if not is_integer(value) or not minimum <= value <= int_maximum(key):
            return f"{key} must be an integer in {minimum}..{int_maximum(key)}, got {limits.show(value)}"
    elif key in PROBABILITIES and (
        isinstance(value, str) or (_concrete_number(value) and not 0.0 <= float(value) <= 1.0)  # NaN fails too
    ):
        return f"{key} must be a probability in [0, 1], got {limits.show(value)}"
    return None


def check_generator(owner: Any, keys: tuple[str, ...]) -> None:
    """ValueError (one line, naming the class) for the first bad field among `keys` of generator `owner`."""
    for key in keys:
        problem = argument_problem(key, getattr(owner, key))
        if problem:
            raise ValueError(f"{type(owner).__name__}: {problem}")
