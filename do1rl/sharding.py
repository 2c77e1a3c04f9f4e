"""Device meshes: the one rule for how many devices a run may use, on one process or several."""

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


def global_mesh(devices_per_process: int, axis: str) -> jax.sharding.Mesh:
    """A one-axis mesh over the first `devices_per_process` devices of every process, process by process.

    With one process it is `local_mesh`. ValueError if some process has fewer devices.
    """
    if jax.process_count() == 1:
        return local_mesh(devices_per_process, axis)
    check_device_count(devices_per_process)
    by_process: dict[int, list] = {}
    for device in jax.devices():
        by_process.setdefault(device.process_index, []).append(device)
    fewest = min(len(v) for v in by_process.values())
    if fewest < devices_per_process:
        raise ValueError(f"devices must be in 1..{fewest} (devices of the smallest process), got {devices_per_process}")
    chosen = [d for p in sorted(by_process) for d in sorted(by_process[p], key=lambda d: d.id)[:devices_per_process]]
    return jax.sharding.Mesh(np.array(chosen), (axis,))
