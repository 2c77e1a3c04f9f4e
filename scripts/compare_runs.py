"""Trained runs side by side: every seed of each run folder on the same evaluation episodes.

For each run (all of its seeds, greedy), plays the run's own `eval.episodes` episodes of
`eval.seed` (the first run's, so every run plays the same ones on the same env) and prints the
mean approximation ratio and regret with 95% bootstrap intervals over seeds and episodes
(do1rl.evaluation.stats), and each seed's mean ratio. Runs must share the env.

    python scripts/compare_runs.py runs/gnn-means runs/gnn-no-means [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from do1rl.core.solver import approximation_ratio
from do1rl.evaluation.play import play
from do1rl.evaluation.stats import seed_episode_interval
from do1rl.experiments.checkpoint import CheckpointError
from do1rl.experiments.config import ConfigError
from do1rl.experiments.runs import load_config, load_run
from do1rl.experiments.sweep.evaluate import seed_players


def run_rows(run_dir: Path, episodes: int, seed: int) -> dict:
    """Per-episode ratios and regrets of every seed of `run_dir` on `episodes` episodes of `seed`."""
    run = load_run(run_dir)
    ratios, regrets = [], []
    for player in seed_players(run.env, run.learner, run.params):
        out = play(run.env, run.env_params, None, episodes=episodes, seed=seed, player=player)
        returns, optimal = out.returns, out.optimal
        ratios.append(np.asarray(approximation_ratio(returns, optimal)))
        regrets.append(optimal - returns)
    return {"config": run.config, "ratios": ratios, "regrets": regrets}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (do1rl train --out)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    try:
        first = load_config(args.runs[0])
        rows = [{"run": str(run_dir), **run_rows(run_dir, first.eval.episodes, first.eval.seed)} for run_dir in args.runs]
    except (ConfigError, CheckpointError, OSError) as err:  # not a run folder, or an unreadable checkpoint
        print(f"error: {err}", file=sys.stderr)
        return 2
    envs = {(r["config"].env.id, json.dumps(r["config"].env.args, sort_keys=True)) for r in rows}
    if len(envs) > 1:
        print(f"error: the runs were trained on different envs: {sorted(envs)}", file=sys.stderr)
        return 2
    out = []
    for row in rows:
        ratio, regret = seed_episode_interval(row["ratios"]), seed_episode_interval(row["regrets"])
        seeds = [float(r.mean()) for r in row["ratios"]]
        out.append(
            {
                "run": row["run"],
                "network": dataclasses.asdict(row["config"].network),
                "episodes_per_seed": len(row["ratios"][0]),
                "mean_ratio": ratio.as_dict(),
                "mean_regret": regret.as_dict(),
                "seed_mean_ratios": seeds,
            }
        )
        print(
            f"{row['run']}: mean ratio {ratio.mean:.4f} [{ratio.low:.4f}, {ratio.high:.4f}], mean regret"
            f" {regret.mean:.3f} [{regret.low:.3f}, {regret.high:.3f}]; seeds " + ", ".join(f"{s:.4f}" for s in seeds)
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
