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

from do1rl.envs.make import make
from do1rl.evaluation.twin_choices import twin_choice_report, twin_pairs
from do1rl.experiments.runs import load_config, load_run
from do1rl.experiments.sweep.evaluate import seed_players


def run_report(run_dir: Path, depth: int, blocks: int, pairs: int, tries: int, max_iterations: int | None) -> dict:
    """`twin_choice_report` of every seed of a run, on its own family's twins at `depth`."""
    cap = max_iterations if load_config(run_dir).network.family == "recurrent" else None
    run = load_run(run_dir, max_iterations=cap)
    args = {k: v for k, v in run.config.env.args.items() if k != "depths"} | {"depth": depth, "stratify_d1": False}
    env, env_params = make(run.config.env.id, **args)
    net = run.config.network
    report = {
        "run": str(run_dir),
        "family": net.family,
        "network_depth": net.depth,
        "network_width": net.width,
        "test_depth": depth,
        "blocks": blocks,
        "draws": tries,
    }
    found = twin_pairs(env_params.generator, blocks, pairs, seed=depth, tries=tries)
    if not found:
        return report | {"pairs": 0}
    return report | twin_choice_report(env, env_params, seed_players(env, run.learner, run.params), found, depth)


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
