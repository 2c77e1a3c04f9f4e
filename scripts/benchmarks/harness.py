"""The timing harness: warm-up and repeats (median/min/max), side-by-side runs, the machine and its load."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time

import jax
import numpy as np


def timed(fn, repeats: int) -> dict:
    """Median/min/max seconds of `fn()` over `repeats` runs after one warm-up."""
    return side_by_side({"fn": fn}, repeats)["fn"]


def side_by_side(fns: dict, repeats: int) -> dict:
    """`timed` for several functions, interleaved run by run so load changes hit them alike."""
    for fn in fns.values():
        fn()
    times: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: {"median_s": statistics.median(t), "min_s": min(t), "max_s": max(t)} for name, t in times.items()}


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as one string."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine(load_before: str) -> dict:
    """The report's "machine": platform, processor, device, backend, cores, load before and now."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "device": str(jax.devices()[0]),
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "load_before": load_before,
        "load_after": load_average(),
    }


def versions() -> dict:
    """The report's "versions": python, jax, jaxlib, numpy."""
    return {
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "jaxlib": __import__("jaxlib").__version__,
        "numpy": np.__version__,
    }
