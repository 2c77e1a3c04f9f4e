"""Over twin pairs of the biregular family: the error any L-block policy is forced to make.

An L-block message-passing net gives the same outputs on both twins (same L-round colours), so
on a pair with d1 values a != b: its value estimate is off by >= |a - b| / 2 on one twin, and in
DO1 with k strictly between a and b its forced choice is wrong on one twin. Prints, per L: the
share of instances with a twin found, mean |a - b|, and the share of (pair, k) with k uniform in
1..D where one forced choice must be wrong. See docs/hard-instances.md.

Usage: python scripts/twins_report.py [--depth 8] [--width 4] [--instances 100] [--blocks 1 2 3]
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

from do1rl.core import solver
from do1rl.core.biregular import LayeredBiregular
from do1rl.core.twins import twins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    gen = LayeredBiregular(width=args.width, depth=args.depth, k=args.k, stratify_d1=False)
    keys = jax.random.split(jax.random.key(0), args.instances)
    batch = jax.device_get(jax.jit(jax.vmap(gen))(keys))
    circuits = [jax.tree.map(lambda x, i=i: x[i], batch) for i in range(args.instances)]
    ks = np.arange(1, args.depth + 1)
    print(f"biregular width {args.width}, k {args.k}, D {args.depth}, {args.instances} unstratified instances")
    print(f"{'L':>3} {'twin found':>11} {'mean |d1a-d1b|':>15} {'forced wrong (k ~ U)':>21}")
    for blocks in args.blocks:
        gaps, wrong = [], []
        for i, c in enumerate(circuits):
            twin = twins(c, blocks, seed=i)
            if twin is None:
                continue
            a, b = int(solver.solve(c).d1), int(solver.solve(twin).d1)
            gaps.append(abs(a - b))
            wrong.append(np.mean((ks > min(a, b)) & (ks < max(a, b))))
        found = len(gaps) / args.instances
        print(f"{blocks:>3} {found:>11.2f} {np.mean(gaps) if gaps else 0:>15.2f} {np.mean(wrong) if wrong else 0:>21.3f}")


if __name__ == "__main__":
    main()
