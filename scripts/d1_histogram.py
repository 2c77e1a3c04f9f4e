"""Prints the d1 histogram of a generator's instances (docs/generators.md quotes it).

python scripts/d1_histogram.py --depth 16 --samples 2000 [--width 12 ...]
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

from do1rl.core.generators import RandomAlternating
from do1rl.core.solver import solve


def histogram(generator: RandomAlternating, samples: int, seed: int = 0) -> np.ndarray:
    """Fraction of `samples` instances at each d1 in 0..max_depth."""
    d1 = jax.jit(jax.vmap(lambda k: solve(generator(k)).d1))(jax.random.split(jax.random.key(seed), samples))
    return np.bincount(np.asarray(d1), minlength=generator.max_depth + 1) / samples


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    for name, kind in (
        ("depth", int),
        ("width", int),
        ("n_inputs", int),
        ("max_fanin", int),
        ("prefix_chain", int),
        ("p_one", float),
        ("skip_prob", float),
        ("input_prob", float),
    ):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind)
    args = vars(parser.parse_args(argv))
    samples, seed = args.pop("samples"), args.pop("seed")
    gen = RandomAlternating(**{k: v for k, v in args.items() if v is not None})
    hist = histogram(gen, samples, seed)
    print(f"{gen}\n{samples} samples, seed {seed}; largest bin {hist.max():.1%} (d1={hist.argmax()})")
    print("| d1 | " + " | ".join(str(d) for d in range(len(hist))) + " |")
    print("|---" * (len(hist) + 1) + "|")
    print("| share | " + " | ".join(f"{h:.1%}" for h in hist) + " |")


if __name__ == "__main__":
    main()
