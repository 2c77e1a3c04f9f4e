"""cert(d1) against circuit depth D for every shipped generator setting (configs/*.yaml).

Prints, per setting: D, the mean cert(d1), its quantiles, and the share of
instances whose d1 is settled within 3 fan-in hops (cert(d1) <= 3); then the
d1 histogram of the d1-stratified biregular family at D = 16.
Numbers quoted in docs/hard-instances.md come from this script.

Usage: python scripts/cert_depth_table.py [--instances 2000] [--configs configs/*.yaml]
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import jax
import numpy as np
import yaml

from do1rl.core import solver
from do1rl.core.biregular import LayeredBiregular
from do1rl.envs.make import make


def settings_of(path: Path) -> list[tuple[str, dict]]:
    """(label, env args) of one config: a training config's env, or a sweep's per circuit depth."""
    data = yaml.safe_load(path.read_text())
    if "grid" in data:
        args = dict(data["train"]["env"].get("args", {}))
        depths = data["grid"].get("circuit_depths") or [args.get("depth")]
        return [(f"{path.stem} (depth {d})", {**args, "depth": d}) for d in depths if d is not None]
    return [(path.stem, dict(data["env"].get("args", {})))]


def cert_and_depth(args: dict, instances: int, seed: int):
    env_args = {k: v for k, v in args.items() if k not in ("stop_action", "max_selections", "chain_length")}
    env, _ = make("AlternatingCircuit", **env_args)
    gen = env.generator
    run = jax.jit(jax.vmap(lambda key: (lambda c: (solver.solve(c), c.circuit_depth))(gen(key))))
    sol, depth = jax.device_get(run(jax.random.split(jax.random.key(seed), instances)))
    return np.asarray(sol.cert_d1), np.asarray(depth), np.asarray(sol.d1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--configs", nargs="+", default=sorted(glob.glob("configs/*.yaml")))
    args = parser.parse_args()
    seen: dict[str, str] = {}
    print(f"{args.instances} instances per setting, seed {args.seed}")
    print(f"{'setting':<40} {'D':>3} {'mean cert':>9} {'p10':>4} {'p50':>4} {'p90':>4} {'cert<=3':>8}  env args")
    for path in args.configs:
        for label, env_args in settings_of(Path(path)):
            key = repr(sorted((k, v) for k, v in env_args.items() if k != "stop_action"))
            if key in seen:
                print(f"{label:<40} same generator as {seen[key]}")
                continue
            seen[key] = label
            cert, depth, _ = cert_and_depth(env_args, args.instances, args.seed)
            p10, p50, p90 = np.percentile(cert, [10, 50, 90]).astype(int)
            print(
                f"{label:<40} {int(depth.max()):>3} {cert.mean():>9.2f} {p10:>4} {p50:>4} {p90:>4} {(cert <= 3).mean():>8.3f}  {env_args}"
            )
    for depth in (8, 16):
        gen = LayeredBiregular(width=4, depth=depth, k=2, p_one=0.6)
        cert_only, _, d1 = cert_and_depth({"family": "biregular", "depth": depth, "width": 4, "k": 2}, args.instances, args.seed)
        freq = np.bincount(d1, minlength=depth + 1) / d1.size
        print(
            f"biregular width 4, k 2, p_one 0.6, D={depth}, d1-stratified ({gen.candidates} x {gen.max_rounds} "
            f"rejection draws): d1 bins {np.round(freq, 3).tolist()}; rarest {freq.min():.3f} "
            f"(uniform {1 / (depth + 1):.3f}); cert(d1) = D on {(cert_only == depth).mean():.3f}"
        )


if __name__ == "__main__":
    main()
