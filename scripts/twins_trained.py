"""Trained networks on twin pairs: does an L-block GNN answer both twins alike, and what does it cost?

For each trained run folder (every seed), on twin pairs of the run's own biregular family at one
test depth D (`do1rl.core.twins`, L = the GNN's block count) and every chain length k in 1..D,
plays DO1's forced choice on both twins and reports, with 95% bootstrap intervals over seeds and
episodes (do1rl.evaluation.stats):
  - same choice: the share of (pair, k) on which the net picks the same circuit for both twins
    (an L-block GNN must score 1: the twins have the same L-round colours);
  - accuracy on split cases: forced-choice accuracy over both twins of the (pair, k) with k
    strictly between the twins' d1, where one twin needs C and the other the chain (an
    L-block GNN scores at most 0.5 there);
  - accuracy over all twin episodes.

    python scripts/twins_trained.py runs/ssh/generalisation/runs/gnn-... runs/.../recurrent-... \\
        --depth 8 --pairs 40 --blocks 3 --json runs/ssh/twins.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import numpy as np

from do1rl.core import solver
from do1rl.core.circuit import stack
from do1rl.core.generators import CircuitPool
from do1rl.core.twins import twins
from do1rl.envs.instances import per_instance_params
from do1rl.envs.make import make
from do1rl.evaluation import play
from do1rl.evaluation.first_choice import forced_choice
from do1rl.evaluation.stats import seed_episode_interval
from do1rl.experiments.runs import load_run
from do1rl.experiments.sweep.evaluate import seed_players


def twin_pairs(generator, blocks: int, count: int, seed: int, tries: int) -> list[tuple]:
    """Up to `count` (circuit, twin) pairs for L = `blocks`, from the first `tries` draws of `generator`."""
    pairs = []
    for i in range(tries):
        circuit = jax.device_get(generator(jax.random.fold_in(jax.random.key(seed), i)))
        twin = twins(circuit, blocks, seed=i)
        if twin is not None:
            pairs.append((circuit, twin))
        if len(pairs) == count:
            break
    return pairs


def starts_of(env, pairs: list[tuple], depth: int):
    """(starts, d1 [P, 2, K], episodes): DO1 resets of both twins of every pair at every k in 1..depth.

    Episode order: pair-major, then twin (0, 1), then k.
    """
    ks = np.arange(1, depth + 1)
    circuits = [c for pair in pairs for c in pair for _ in ks]
    pool = CircuitPool(circuits=stack(circuits))
    lengths = np.tile(ks, 2 * len(pairs)).astype(np.int32)
    params = per_instance_params(pool, lengths)
    keys = jax.random.split(jax.random.key(0), len(circuits))
    starts = jax.device_get(jax.jit(jax.vmap(lambda key, p: env.reset(key, p), (0, 0)))(keys, params))
    d1 = np.array([int(solver.solve(c).d1) for c in circuits]).reshape(len(pairs), 2, depth)
    return starts, d1, len(circuits)


def run_report(run_dir: Path, depth: int, blocks: int, pairs: int, tries: int, max_iterations: int | None) -> dict:
    cap = max_iterations if load_run(run_dir).config.network.family == "recurrent" else None
    run = load_run(run_dir, max_iterations=cap)
    args = {k: v for k, v in run.config.env.args.items() if k != "depths"} | {"depth": depth, "stratify_d1": False}
    env, env_params = make(run.config.env.id, **args)
    found = twin_pairs(env_params.generator, blocks, pairs, seed=depth, tries=tries)
    if not found:
        return {"run": str(run_dir), "pairs": 0}
    starts, d1, episodes = starts_of(env, found, depth)
    ks = np.arange(1, depth + 1)
    split = (ks > d1.min(axis=1)) & (ks < d1.max(axis=1))  # [P, K]: the twins need different circuits
    same, split_right, all_right = [], [], []
    for player in seed_players(env, run.ppo, run.params):
        out = play(env, env_params, None, episodes=episodes, seed=0, player=player, starts=starts)
        right = forced_choice(out)[0].reshape(len(found), 2, depth)
        first = np.asarray(out.first_circuit).reshape(len(found), 2, depth)
        same.append((first[:, 0] == first[:, 1]).ravel().astype(np.float64))
        split_right.append(right.transpose(0, 2, 1)[split].ravel().astype(np.float64))
        all_right.append(right.ravel().astype(np.float64))
    net = run.config.network
    report = {
        "run": str(run_dir),
        "family": net.family,
        "network_depth": net.depth,
        "network_width": net.width,
        "test_depth": depth,
        "blocks": blocks,
        "pairs": len(found),
        "draws": tries,
        "split_cases": int(split.sum()),
        "same_choice": seed_episode_interval(same).as_dict(),
        "accuracy_all": seed_episode_interval(all_right).as_dict(),
    }
    if split.any():
        report["accuracy_split"] = seed_episode_interval(split_right).as_dict()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="trained run folders (each with its seeds)")
    parser.add_argument("--depth", type=int, default=8, help="test circuit depth D (default 8)")
    parser.add_argument("--blocks", type=int, default=3, help="L of the twins: the GNN's block count (default 3)")
    parser.add_argument("--pairs", type=int, default=40, help="twin pairs wanted (default 40)")
    parser.add_argument("--tries", type=int, default=400, help="instances drawn at most to find them (default 400)")
    parser.add_argument("--max-iterations", type=int, default=None, help="recurrent runs: cap on T at test")
    parser.add_argument("--json", type=Path, help="write the reports here")
    args = parser.parse_args()
    reports = [run_report(r, args.depth, args.blocks, args.pairs, args.tries, args.max_iterations) for r in args.runs]
    show = lambda iv: f"{iv['mean']:.3f} [{iv['low']:.3f}, {iv['high']:.3f}]" if iv else "n/a"
    print(f"twins for L = {args.blocks} at D = {args.depth}")
    for r in reports:
        print(
            f"{r.get('family', '?'):>10} {r['pairs']:>3} pairs, {r.get('split_cases', 0):>4} split (pair, k): "
            f"same choice {show(r.get('same_choice'))}, accuracy on split {show(r.get('accuracy_split'))}, "
            f"all {show(r.get('accuracy_all'))}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=1))


if __name__ == "__main__":
    main()
