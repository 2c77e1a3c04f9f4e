"""do1rl benchmarks: solver and environment throughput, with compile times.

    python scripts/bench.py            # full sizes, writes docs/benchmarks.{json,md}
    python scripts/bench.py --smoke    # tiny sizes, seconds; what CI runs

Each figure is the median of --repeats timed runs after a warm-up run, with
min and max. The solver is checked against a NumPy level-by-level evaluation
and a plain-Python topological evaluation on the same circuits.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from do1rl import reference
from do1rl.circuit import AND, INPUT_1
from do1rl.generators import RandomAlternating
from do1rl.solver import solve


def timed(fn, repeats: int) -> dict:
    """Median/min/max seconds of `fn()` over `repeats` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


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


def bench_solver(gates: int, depth: int, batch: int, repeats: int, python_circuits: int) -> dict:
    width = gates // depth
    gen = RandomAlternating(n_inputs=width, depth=depth, width=width)
    circuits = jax.jit(jax.vmap(gen))(jax.random.split(jax.random.key(0), batch))
    jax.block_until_ready(circuits)
    run = jax.jit(jax.vmap(solve))
    t0 = time.perf_counter()
    compiled = run.lower(circuits).compile()
    compile_s = time.perf_counter() - t0
    out = compiled(circuits)
    jax_t = timed(lambda: jax.block_until_ready(compiled(circuits)), repeats)

    nt, fi, dp = (np.asarray(x) for x in (circuits.node_type, circuits.fanin, circuits.depth))
    np_value = numpy_levels(nt, fi, dp)
    numpy_t = timed(lambda: numpy_levels(nt, fi, dp), repeats)

    lists = [reference.circuit_to_lists(nt[i], fi[i]) for i in range(python_circuits)]
    py_t = timed(lambda: [reference.evaluate(*lst[:3]) for lst in lists], max(1, repeats // 2))
    # Agreement: JAX vs NumPy on the whole batch, JAX vs Python on its subset.
    agree = bool(np.array_equal(np.asarray(out.value), np_value))
    for i, (inputs, ops, fanins, new_id) in enumerate(lists):
        values, _, d1 = reference.evaluate(inputs, ops, fanins)
        agree &= d1 == int(out.d1[i])
        agree &= all(values[new_id[j]] == bool(out.value[i, j]) for j in new_id)

    evals = batch * width * depth
    per_py = py_t["median_s"] / python_circuits * batch
    return {
        "gates": width * depth,
        "depth": depth,
        "batch": batch,
        "compile_s": compile_s,
        "jax": jax_t,
        "numpy": numpy_t,
        "python_per_batch_s": per_py,
        "gate_evals_per_s": evals / jax_t["median_s"],
        "numpy_gate_evals_per_s": evals / numpy_t["median_s"],
        "python_gate_evals_per_s": evals / per_py,
        "vs_numpy": numpy_t["median_s"] / jax_t["median_s"],
        "vs_python": per_py / jax_t["median_s"],
        "agree": agree,
    }


def uniform_legal_actions(key: jax.Array, action_mask: jax.Array) -> jax.Array:
    """One uniformly random legal action per env, from a single PRNG call for the batch."""
    rank = jax.random.randint(key, action_mask.shape[:1], 0, jnp.maximum(action_mask.sum(-1), 1))
    return jnp.argmax(jnp.cumsum(action_mask, -1) > rank[:, None], -1).astype(jnp.int32)


def bench_env(num_envs: int, gates: int, steps: int, repeats: int) -> dict:
    """Steps/s of the vmapped DO1 step inside lax.scan, observations materialised.

    Actions are uniformly random legal actions drawn for the whole batch at
    once, so the figure measures the environment rather than per-env PRNG
    splitting.
    """
    from do1rl.envs.do1 import DO1

    width = 8
    env = DO1(generator=RandomAlternating(n_inputs=8, depth=gates // width, width=width))
    params = env.default_params()
    keys = jax.random.split(jax.random.key(0), num_envs)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    step = jax.vmap(env.step, in_axes=(None, 0, 0, None))

    def rollout(state, obs, key):
        def one(carry, key):
            state, obs = carry
            actions = uniform_legal_actions(key, obs["action_mask"])
            obs, state, reward, _, _, _ = step(key, state, actions, params)
            # Materialise the observation as an agent sees it.
            checksum = sum(jnp.sum(x.astype(jnp.int32)) for x in jax.tree.leaves(obs))
            return (state, obs), reward.sum() + checksum

        (state, obs), out = jax.lax.scan(one, (state, obs), jax.random.split(key, steps))
        return state, out.sum()

    run = jax.jit(rollout)
    t0 = time.perf_counter()
    compiled = run.lower(state, obs, jax.random.key(1)).compile()
    compile_s = time.perf_counter() - t0
    t = timed(lambda: jax.block_until_ready(compiled(state, obs, jax.random.key(1))), repeats)
    return {
        "num_envs": num_envs,
        "nodes": env.num_nodes,
        "steps": steps,
        "compile_s": compile_s,
        "time": t,
        "env_steps_per_s": num_envs * steps / t["median_s"],
    }


def markdown(report: dict) -> str:
    """docs/benchmarks.md: the report as tables."""
    m, v = report["machine"], report["versions"]
    lines = [
        "# do1rl benchmarks",
        "",
        "Written by `python scripts/bench.py` (median of repeats after warm-up; min and max in",
        "docs/benchmarks.json).",
        "",
        f"Machine: {m['platform']}, {m['processor']}, {m['cpu_count']} cores, device {m['device']}.",
        f"Versions: python {v['python']}, jax {v['jax']}, jaxlib {v['jaxlib']}, numpy {v['numpy']}.",
        "",
        "## Solver (batch of random alternating circuits, depth 64)",
        "",
        "| gates | batch | JAX gate-evals/s | NumPy level-by-level | plain Python | vs NumPy | vs Python | compile s | agree |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in report["solver"].values():
        lines.append(
            f"| {s['gates']} | {s['batch']} | {s['gate_evals_per_s']:.3g} | {s['numpy_gate_evals_per_s']:.3g} "
            f"| {s['python_gate_evals_per_s']:.3g} | {s['vs_numpy']:.1f}x | {s['vs_python']:.0f}x "
            f"| {s['compile_s']:.2f} | {s['agree']} |"
        )
    e = report["env"]
    lines += [
        "",
        f"Scaling 1k -> 16k gates: time ratio {report['solver_scaling']:.1f} (16 would be linear).",
        "",
        "## Environment (DO1, uniform random legal actions, vmapped step inside lax.scan, observations materialised)",
        "",
        "| envs | nodes | steps per run | env steps/s | compile s |",
        "|---|---|---|---|---|",
        f"| {e['num_envs']} | {e['nodes']} | {e['steps']} | {e['env_steps_per_s']:.3g} | {e['compile_s']:.2f} |",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    repeats = 2 if args.smoke else args.repeats

    if args.smoke:
        solver = {"1k": bench_solver(64, 8, 8, repeats, 2), "16k": bench_solver(256, 8, 8, repeats, 2)}
        env = bench_env(64, 16, 8, repeats)
    else:
        solver = {
            "1k": bench_solver(1024, 64, 256, repeats, 8),
            "16k": bench_solver(16384, 64, 256, repeats, 2),
        }
        env = bench_env(4096, 64, 64, repeats)
    report = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "device": str(jax.devices()[0]),
            "cpu_count": __import__("os").cpu_count(),
        },
        "versions": {
            "python": sys.version.split()[0],
            "jax": jax.__version__,
            "jaxlib": __import__("jaxlib").__version__,
            "numpy": np.__version__,
        },
        "smoke": args.smoke,
        "solver": solver,
        "solver_vs_numpy": solver["16k"]["vs_numpy"],
        "solver_vs_python": solver["16k"]["vs_python"],
        "solver_scaling": solver["16k"]["jax"]["median_s"] / solver["1k"]["jax"]["median_s"],
        "env": env,
        "env_steps_per_s": env["env_steps_per_s"],
    }
    ok = all(s["agree"] for s in solver.values())
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, dict)}, indent=1))
    for name, s in solver.items():
        print(
            f"solver {name}: {s['gate_evals_per_s']:.3g} gate-evals/s "
            f"(numpy x{s['vs_numpy']:.1f}, python x{s['vs_python']:.0f}), compile {s['compile_s']:.2f}s, agree={s['agree']}"
        )
    print(f"env: {env['env_steps_per_s']:.3g} steps/s ({env['num_envs']} envs), compile {env['compile_s']:.2f}s")
    if not args.smoke:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "benchmarks.json").write_text(json.dumps(report, indent=1) + "\n")
        (args.out / "benchmarks.md").write_text(markdown(report))
    if not ok:
        print("error: solver disagrees with the NumPy or Python reference", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
