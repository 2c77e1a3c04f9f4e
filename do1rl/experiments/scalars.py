"""TensorBoard scalars of a training chunk: tags and values, given to a `ScalarLog` (event_log.py)."""

from __future__ import annotations

import jax
import numpy as np


def log_scalars(writer, stats: dict, steps_per_s: float | None, step: int) -> None:
    """Writes the finite `stats` (an algorithm's `summarize` keys; absent ones are skipped) and the step rate.

    `steps_per_s` None: the chunk's time included compilation (a launch's
    first chunk), so no rate is logged for it.
    """
    names = {
        "loss/policy": "policy_loss",
        "loss/value": "value_loss",
        "loss/entropy": "entropy",
        "loss/aux": "aux_loss",  # the auxiliary node-value loss (0 when off)
        "train/approx_kl": "approx_kl",
        "train/kl_to_search": "kl_to_search",  # expert iteration: KL(search policy || network) before the update
        "train/clip_fraction": "clip_fraction",
        "train/explained_variance": "explained_variance",
        "train/grad_norm": "grad_norm",
        "train/learning_rate": "learning_rate",
        "episode/return": "mean_return",
        "episode/approx_ratio": "mean_ratio",
        "episode/regret": "mean_regret",
        "episode/count": "episodes",
        "curriculum/level": "curriculum_level",  # mean over seeds and the chunk's iterations
        "curriculum/greedy_ratio": "greedy_ratio",  # the gate's metric: greedy actions on the rollouts' circuits
    }
    for tag, key in names.items():
        value = stats.get(key, float("nan"))
        if np.isfinite(value):
            writer.add_scalar(tag, value, step)
    if steps_per_s is not None:
        writer.add_scalar("perf/steps_per_s", steps_per_s, step)


def log_seed_scalars(writer, totals, step: int, summarize) -> None:
    """Each seed's episode return and ratio over the chunk (`episode/return/seed_<i>`, `episode/approx_ratio/seed_<i>`).

    `summarize`: the algorithm's totals -> means (`agents.algorithms.AlgorithmSpec.summarize`).
    """
    seeds = jax.tree.leaves(totals)[0].shape[0]
    for i in range(seeds):
        stats = summarize(jax.tree.map(lambda x, i=i: x[i], totals))
        for tag, key in (("episode/return", "mean_return"), ("episode/approx_ratio", "mean_ratio")):
            if np.isfinite(stats[key]):
                writer.add_scalar(f"{tag}/seed_{i}", stats[key], step)


def log_curriculum_scalars(writer, levels: list[int], restarts: list[int], step: int) -> None:
    """Writes each seed's depth-curriculum level and restarts so far (`curriculum/level/seed_<i>`, `curriculum/restarts/seed_<i>`)."""
    for i, (level, count) in enumerate(zip(levels, restarts)):
        writer.add_scalar(f"curriculum/level/seed_{i}", level, step)
        writer.add_scalar(f"curriculum/restarts/seed_{i}", count, step)


def log_eval_scalars(writer, entries: list[dict], step: int, plateaued: int, baselines: dict[str, float]) -> None:
    """Writes one plateau evaluation (`do1rl.experiments.plateau`) at env step `step`.

    `eval/ratio` is the mean over seeds of their held-out mean ratios,
    `eval/ratio/seed_<i>` (with `eval/ratio_lo/seed_<i>`, `eval/ratio_hi/seed_<i>`)
    each seed's, and `eval/plateaued_seeds` how many seeds have plateaued.
    `eval/baseline/<name>` is each trivial baseline's mean ratio on the same
    episodes and `eval/best_trivial` the best of them: the line to beat.
    """
    for name, ratio in baselines.items():
        writer.add_scalar(f"eval/baseline/{name}", ratio, step)
    writer.add_scalar("eval/best_trivial", max(baselines.values()), step)
    writer.add_scalar("eval/ratio", float(np.mean([e["mean_ratio"] for e in entries])), step)
    for i, e in enumerate(entries):
        writer.add_scalar(f"eval/ratio/seed_{i}", e["mean_ratio"], step)
        writer.add_scalar(f"eval/ratio_lo/seed_{i}", e["lo"], step)
        writer.add_scalar(f"eval/ratio_hi/seed_{i}", e["hi"], step)
    writer.add_scalar("eval/plateaued_seeds", plateaued, step)
