"""Value checks shared by every layer that validates user input."""

from __future__ import annotations

from typing import Any

import numpy as np


def is_integer(x: Any) -> bool:
    """True for Python and NumPy integers, False for bools and everything else."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))
