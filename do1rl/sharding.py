"""Local device meshes: the one rule for how many devices a run may use."""

from __future__ import annotations

import jax
import numpy as np

from do1rl.core.checks import is_integer


def check_device_count(devices: int) -> None:
    """ValueError unless 1 <= `devices` <= the number of local devices."""
    available = jax.local_device_count()
    if not is_integer(devices) or not 1 <= devices <= available:
        raise ValueError(f"devices must be in 1..{available} (local devices), got {devices!r}")


def local_mesh(devices: int, axis: str) -> jax.sharding.Mesh:
    """A one-axis mesh over the first `devices` local devices (ValueError if too many)."""
    check_device_count(devices)
    return jax.sharding.Mesh(np.array(jax.local_devices()[:devices]), (axis,))
