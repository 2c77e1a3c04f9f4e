"""Upper bounds on the mean ratio of any L-block message-passing policy on the biregular family.

Derivation and the numbers: docs/hard-instances.md ("The message-passing ceiling").
Three bounds, each an upper bound (not the exact optimum), averaged over the
d1-stratified family by reweighting unconditioned draws with
(1 / (D + 1)) / P(d1) (the rejection sampler's law, in expectation):

- one-shot (AlternatingCircuit, max_selections=1), one-shot DO1 (k uniform
  in 1..D) and DO1's forced choice (the full game, scratchpad after the
  choice): the best policy that knows layers 0..2L (up to relabelling the
  gates of layers > L, which no L-block net can tell apart) and k. That is
  more than the L-round colours show, so each figure is an upper bound.
  Beyond layer 2L only the count of 1s at layer 2L and the gate kind
  matter (fresh permutations make the count a Markov chain), so conditional
  expectations there come from the draws in the same (count, kind) cell.

With --exact-paths N it also prints the exact one-shot DO1 ceiling of
`do1rl.evaluation.decisive` (exact expectations from the count chain,
averaged over N stratified count paths x every k in 1..D); --blocks 0 (the
policy that knows the inputs, D, k and the kinds) has only that column.

Usage: python scripts/ceiling.py [--depths 8 12 16] [--blocks 1 2 3 4] [--samples 200000] [--exact-paths 0]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import numpy as np

from do1rl.core import count_chain, solver
from do1rl.core.biregular import LayeredBiregular
from do1rl.core.circuit import AND


def draws(width: int, depth: int, k: int, p_one: float, samples: int, seed: int):
    """(ones per layer [S, D], d1 [S], layer 1 is AND [S]) of unconditioned draws."""
    gen = LayeredBiregular(width=width, depth=depth, k=k, p_one=p_one, stratify_d1=False)

    def one(key):
        circuit = gen.sample(key)
        return solver.solve(circuit).value, circuit.node_type[width]

    values, first = [], []
    run = jax.jit(jax.vmap(one))
    for start in range(0, samples, 20000):
        keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), start), min(20000, samples - start))
        v, t = jax.device_get(run(keys))
        values.append(v)
        first.append(t)
    value = np.concatenate(values)[:, width:].reshape(-1, depth, width)
    ones = value.sum(-1)
    layer = np.arange(1, depth + 1)
    d1 = np.max(np.where(ones > 0, layer, 0), axis=1)
    return ones, d1, np.concatenate(first) == AND


def stratified_weights(d1: np.ndarray, depth: int) -> np.ndarray:
    freq = np.bincount(d1, minlength=depth + 1) / d1.size
    weight = (1.0 / (depth + 1)) / freq[d1]
    return weight / weight.sum()


def known_numerator(ones: np.ndarray, width: int, blocks: int) -> np.ndarray:
    """Best one-shot reward visible through layers <= 2L: an exact 1-gate at depth <= L,
    or l * f_l for a uniformly picked gate of a layer L < l <= 2L."""
    depth = ones.shape[1]
    layer = np.arange(1, depth + 1)
    shallow = np.max(np.where((ones > 0) & (layer <= blocks), layer, 0), axis=1)
    middle = (layer > blocks) & (layer <= 2 * blocks)
    uniform = np.max(np.where(middle, layer * ones / width, 0.0), axis=1)
    return np.maximum(shallow, uniform)


def bounds(ones, d1, first_and, weight, width: int, blocks: int) -> tuple[float, float, float]:
    """(one-shot, one-shot DO1, DO1 forced choice) bounds for L = `blocks`, k ~ U{1..D} for DO1.

    The policy is granted layers 0..2L up to relabelling of layers > L (more
    than its L-round colours show). Beyond layer 2L only the count of 1s at
    layer 2L and the gate kind matter; conditional expectations there are
    taken over the draws in the same (count, kind) cell.
    """
    depth = ones.shape[1]
    ks = np.arange(1, depth + 1)
    layer = np.arange(1, depth + 1)
    seen = min(2 * blocks, depth)
    known_num = known_numerator(ones, width, blocks)
    count = ones[:, seen - 1]
    known = (count == 0) | (seen == depth)  # d1 is then known from layers <= 2L
    kk = np.maximum(d1[:, None], ks[None, :])
    one_shot = np.where(d1 == 0, 1.0, known_num / np.maximum(d1, 1))
    do1 = (np.maximum(ks[None, :], known_num[:, None]) / kk).mean(1)
    forced = np.ones(d1.size)
    deep = layer > seen
    gain = np.where(deep, layer * ones / width, 0.0)  # [S, D]: l * f_l beyond 2L
    for c in np.unique(count[~known]):
        for kind in (False, True):
            cell = (~known) & (count == c) & (first_and == kind)
            if not cell.any():
                continue
            w = weight[cell] / weight[cell].sum()
            dd = d1[cell]
            inv = w @ (1.0 / dd)
            deep_best = (w @ (gain[cell] / dd[:, None])).max()
            one_shot[cell] = np.maximum(known_num[cell] * inv, deep_best)
            inv_k = w @ (1.0 / kk[cell])  # [K]
            deep_k = np.einsum("s,sl,sk->lk", w, gain[cell], 1.0 / kk[cell]).max(0)  # [K]
            visible = np.maximum(ks[None, :], known_num[cell][:, None]) * inv_k[None, :]
            do1[cell] = np.maximum(visible, deep_k[None, :]).mean(1)
            take_c = w @ (dd[:, None] / kk[cell])
            take_chain = w @ (ks[None, :] / kk[cell])
            forced[cell] = float(np.maximum(take_c, take_chain).mean())
    return float(weight @ one_shot), float(weight @ do1), float(weight @ forced)


def exact_one_shot_do1(width: int, depth: int, k: int, p_one: float, blocks: int, paths: int, seed: int) -> float:
    """The exact one-shot DO1 ceiling (decisive.ceiling_ratio) over `paths` stratified count paths x k in 1..D."""
    from do1rl.evaluation.decisive import ceiling_ratio

    counts, kinds, _ = count_chain.sample_paths(width, depth, k, p_one, paths, np.random.default_rng(seed))
    ks = np.tile(np.arange(1, depth + 1), paths)
    ones, inputs_one, first_and = (np.repeat(x, depth, axis=0) for x in (counts[:, 1:], counts[:, 0], kinds))
    return ceiling_ratio(ones, inputs_one, first_and, ks, width, k, p_one, blocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[8, 12, 16])
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--p-one", type=float, default=0.6)
    parser.add_argument("--samples", type=int, default=200000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exact-paths", type=int, default=0, help="also the exact one-shot DO1 ceiling over this many count paths")
    parser.add_argument("--json", type=Path, help="also write {D: {L: {one_shot, one_shot_do1, forced_choice}}} here")
    args = parser.parse_args()
    table: dict = {}
    print(f"width {args.width}, k {args.k}, p_one {args.p_one}, d1-stratified, {args.samples} draws per depth")
    print(f"{'D':>3} {'L':>3} {'one-shot':>9} {'one-shot DO1':>13} {'DO1 forced choice':>18} {'exact one-shot DO1':>19}")
    for depth in args.depths:
        ones, d1, first_and = draws(args.width, depth, args.k, args.p_one, args.samples, args.seed)
        weight = stratified_weights(d1, depth)
        missing = sorted(set(range(depth + 1)) - set(d1.tolist()))
        if missing:  # reweighting cannot stand for a stratum it never drew: those bounds would be biased
            print(
                f"  D = {depth}: no draw has d1 in {missing[:8]}{' ...' if len(missing) > 8 else ''}; "
                "sampled bounds skipped (use --exact-paths)"
            )
        for blocks in args.blocks:
            row = {}
            if blocks >= 1 and not missing:
                one_shot, do1, forced = bounds(ones, d1, first_and, weight, args.width, blocks)
                row = {"one_shot": one_shot, "one_shot_do1": do1, "forced_choice": forced}
            if args.exact_paths:
                row["exact_one_shot_do1"] = exact_one_shot_do1(args.width, depth, args.k, args.p_one, blocks, args.exact_paths, args.seed)
            cells = [row.get(n) for n in ("one_shot", "one_shot_do1", "forced_choice", "exact_one_shot_do1")]
            shown = [f"{v:.3f}" if v is not None else "-" for v in cells]
            print(f"{depth:>3} {blocks:>3} {shown[0]:>9} {shown[1]:>13} {shown[2]:>18} {shown[3]:>19}")
            table.setdefault(str(depth), {})[str(blocks)] = row
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
