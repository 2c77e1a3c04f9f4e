"""Part 1, solver: gate-evals/s of the batch paths against NumPy and plain Python, and memory bandwidth."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from do1rl.core import reference
from do1rl.core.circuit import AND, INPUT_1
from do1rl.core.generators import RandomAlternating
from do1rl.core.solver import solve_batch, solve_chunked

from .harness import side_by_side, timed


def numpy_levels(node_type: np.ndarray, fanin: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Level-by-level NumPy evaluation of a batch [B, N] (vectorised per layer)."""
    value = node_type == INPUT_1
    b = np.arange(node_type.shape[0])[:, None, None]
    for d in range(1, int(depth.max()) + 1):
        # The generator's layers are contiguous and equal across the batch.
        cols = np.flatnonzero(depth[0] == d)
        fin = fanin[:, cols]
        read = value[b, np.maximum(fin, 0)]
        real = fin >= 0
        is_and = node_type[:, cols] == AND
        value[:, cols] = np.where(is_and, np.all(read | ~real, -1), np.any(read & real, -1))
    return value


def memory_bandwidth(megabytes: int, repeats: int) -> dict:
    """Read bytes/s of a jitted max over a float32 array: the solver's reference rate (it mostly reads).

    A reduction, so no output buffer is written (a fresh one per call would
    time page faults rather than memory).
    """
    x = jnp.ones(megabytes * 2**20 // 4, jnp.float32)
    run = jax.jit(jnp.max)
    t = timed(lambda: jax.block_until_ready(run(x)), repeats)
    return {"megabytes": megabytes, "time": t, "bytes_per_s": x.nbytes / t["median_s"]}


# The solver's batch paths, timed side by side; the bench circuits have a layout.
SOLVER_PATHS = {
    "layer_major": solve_batch,
    "generic": lambda circuits: solve_batch(circuits.replace(layers=None)),
    "vmap_chunked": jax.vmap(solve_chunked),  # the path before layouts
}


def bench_solver(gates: int, depth: int, batch: int, repeats: int, python_circuits: int, bytes_per_s: float) -> dict:
    """Gate-evals/s of every path in `SOLVER_PATHS` and of NumPy, timed side by side; Python apart.

    `bandwidth_fraction`: bytes of node_type, fanin and depth over the time,
    as a share of `bytes_per_s` (each path reads each array about once).
    """
    width = gates // depth
    gen = RandomAlternating(n_inputs=width, depth=depth, width=width)
    circuits = jax.jit(jax.vmap(gen))(jax.random.split(jax.random.key(0), batch))
    jax.block_until_ready(circuits)
    compiled, compile_s = {}, {}
    for name, fn in SOLVER_PATHS.items():
        t0 = time.perf_counter()
        compiled[name] = jax.jit(fn).lower(circuits).compile()
        compile_s[name] = time.perf_counter() - t0
    outs = {name: jax.device_get(run(circuits)) for name, run in compiled.items()}
    out = outs["vmap_chunked"]
    same = all(np.array_equal(a, b) for o in outs.values() for a, b in zip(o, out))

    nt, fi, dp = (np.asarray(x) for x in (circuits.node_type, circuits.fanin, circuits.depth))
    np_value = numpy_levels(nt, fi, dp)
    runs = {name: lambda run=run: jax.block_until_ready(run(circuits)) for name, run in compiled.items()}
    t = side_by_side({**runs, "numpy": lambda: numpy_levels(nt, fi, dp)}, repeats)
    numpy_t = t.pop("numpy")

    lists = [reference.circuit_to_lists(nt[i], fi[i]) for i in range(python_circuits)]
    py_t = timed(lambda: [reference.evaluate(*lst[:3]) for lst in lists], max(1, repeats // 2))
    # Agreement: the paths with each other, JAX vs NumPy on the whole batch, JAX vs Python on its subset.
    agree = same and bool(np.array_equal(out.value, np_value))
    for i, (inputs, ops, fanins, new_id) in enumerate(lists):
        values, _, d1 = reference.evaluate(inputs, ops, fanins)
        agree &= d1 == int(out.d1[i])
        agree &= all(values[new_id[j]] == bool(out.value[i, j]) for j in new_id)

    evals = batch * width * depth
    bytes_read = nt.nbytes + fi.nbytes + dp.nbytes
    per_py = py_t["median_s"] / python_circuits * batch
    paths = {
        name: {
            "time": t[name],
            "compile_s": compile_s[name],
            "gate_evals_per_s": evals / t[name]["median_s"],
            "vs_numpy": numpy_t["median_s"] / t[name]["median_s"],
            "vs_vmap_chunked": t["vmap_chunked"]["median_s"] / t[name]["median_s"],
            "bandwidth_fraction": bytes_read / t[name]["median_s"] / bytes_per_s,
        }
        for name in SOLVER_PATHS
    }
    fastest = min(paths, key=lambda name: t[name]["median_s"])
    best = paths[fastest]
    return {
        "gates": width * depth,
        "depth": depth,
        "batch": batch,
        "bytes_read": bytes_read,
        "paths": paths,
        "fastest": fastest,
        "compile_s": best["compile_s"],
        "jax": best["time"],
        "numpy": numpy_t,
        "python_per_batch_s": per_py,
        "gate_evals_per_s": best["gate_evals_per_s"],
        "numpy_gate_evals_per_s": evals / numpy_t["median_s"],
        "python_gate_evals_per_s": evals / per_py,
        "vs_numpy": best["vs_numpy"],
        "vs_python": per_py / best["time"]["median_s"],
        "agree": agree,
    }


def run(report: dict, smoke: bool, repeats: int, log) -> dict:
    """Part 1's report entries: memory bandwidth, the solver at 1k and 16k gates, and its target figures."""
    bandwidth = memory_bandwidth(4 if smoke else 256, repeats)
    log(f"memory bandwidth (max over {bandwidth['megabytes']} MB): {bandwidth['bytes_per_s'] / 1e9:.1f} GB/s")
    rate = bandwidth["bytes_per_s"]
    if smoke:
        solver = {"1k": bench_solver(64, 8, 8, repeats, 2, rate), "16k": bench_solver(256, 8, 8, repeats, 2, rate)}
    else:
        solver = {
            "1k": bench_solver(1024, 64, 256, repeats, 8, rate),
            "16k": bench_solver(16384, 64, 256, repeats, 2, rate),
        }
    for name, s in solver.items():
        paths = ", ".join(
            f"{path} {p['gate_evals_per_s']:.3g} (numpy x{p['vs_numpy']:.1f}, {100 * p['bandwidth_fraction']:.1f}% of"
            f" memory bandwidth, compile {p['compile_s']:.2f}s)"
            for path, p in s["paths"].items()
        )
        log(f"solver {name} gate-evals/s: {paths}; fastest {s['fastest']}, python x{s['vs_python']:.0f}, agree={s['agree']}")
    return {
        "memory_bandwidth": bandwidth,
        "solver": solver,
        "solver_vs_numpy": solver["16k"]["vs_numpy"],
        "solver_vs_python": solver["16k"]["vs_python"],
        "solver_scaling": solver["16k"]["jax"]["median_s"] / solver["1k"]["jax"]["median_s"],
    }
