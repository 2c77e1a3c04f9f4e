"""Train to plateau: a stopping rule on each seed's evaluation curve (`train.plateau`, issue 21).

With `plateau.enabled`, every `plateau.eval_every` PPO iterations (and at the
last iteration of the cap) the training loop plays every seed's greedy
policy on one FIXED held-out set of `plateau.episodes` episodes (episode
seed `plateau.seed`, by default `eval.seed + 1`, so neither the training
instances nor the final `eval.json` episodes are used to decide when to
stop). The resets are drawn once (`reset_starts`) and all seeds play them
in one jitted call (vmapped over seeds and episodes). Each evaluation gives
a seed its mean approximation ratio and a 95% percentile-bootstrap interval
over the episodes (`do1rl.evaluation.stats.seed_episode_interval` with one
stratum, 2000 resamples, resampling seed 0: the same curve always gives the
same intervals).

The rule (`plateau_point`), per seed, on its evaluations e_0, e_1, ... in order:

- the *best* starts as e_0; e_j *improves* when its mean exceeds the best's
  mean by more than the best's interval half-width ((hi - lo) / 2); an
  improving e_j becomes the best. A higher mean within that margin does not
  replace the best, so a slow creep of insignificant gains cannot postpone
  the verdict for ever;
- the seed *plateaus* at the first e_j with j - best >= `patience` (the last
  `patience` evaluations all failed to improve) and update(e_j) >=
  `min_updates`. Its steps to plateau are the env steps (per seed) of the
  best evaluation at that moment. The verdict is final: a seed that
  plateaued stays plateaued (later evaluations still join its curve).

With a depth curriculum (`curriculum.levels`), the held-out episodes are
the last level's, each evaluation records the seed's level, and the rule
reads only a seed's evaluations at the last level: a seed still climbing
the curriculum has not plateaued.

The run stops after the chunk at which every seed has plateaued, or at
`ppo.total_timesteps` (the cap). PPO anneals the learning rate linearly to
0 over `total_timesteps`, so a run that stops early stops mid-schedule (its
last learning rate was not 0); training up to the stop is bitwise the run
that would reach the cap, since evaluation uses none of the training keys.

Files (in the run folder, atomic): `curve.json` after every evaluation
(per seed, a list of {update, env_steps, mean_ratio, lo, hi}) and
`plateau.json` once training ends (see `plateau_report`). The evaluation
history also rides in each checkpoint's metadata (`plateau_curve`, JSON
text), written after the chunk's evaluation, so a killed and resumed run
holds exactly the evaluations of its checkpoint: none lost, none twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from do1rl.agents.baselines import BASELINES, TRIVIAL
from do1rl.core import atomic
from do1rl.core.solver import approximation_ratio
from do1rl.evaluation import episode_keys, make_player
from do1rl.evaluation.stats import seed_episode_interval
from do1rl.experiments.distributed import local_value

CURVE_FILE = "curve.json"
PLATEAU_FILE = "plateau.json"
META_KEY = "plateau_curve"  # checkpoint metadata: the evaluation history as JSON text
INTERVAL = "95% percentile bootstrap over the held-out episodes (2000 resamples)"


def half_width(entry: dict) -> float:
    """Half the width of an evaluation's interval."""
    return (float(entry["hi"]) - float(entry["lo"])) / 2.0


def plateau_point(curve: list[dict], patience: int, min_updates: int = 0, final_level: int | None = None) -> tuple[int, int] | None:
    """(index at which the seed plateaued, index of its best evaluation then) in `curve`, or None.

    `curve`: one seed's evaluations in order, each with `update`,
    `mean_ratio`, `lo` and `hi`. See the module docstring for the rule: the
    best is the last evaluation that beat the previous best's mean by more
    than that best's half-width; the seed plateaus at the first evaluation
    at or after iteration `min_updates` that is `patience` evaluations past
    the best. `final_level`: only the evaluations recorded at that curriculum
    level count (the others are skipped).
    """
    if patience < 1:
        raise ValueError(f"patience must be >= 1, got {patience}")
    counted = [j for j, e in enumerate(curve) if final_level is None or e.get("level", final_level) == final_level]
    best = 0
    for i, j in enumerate(counted):
        entry, top = curve[j], curve[counted[best]]
        if i > 0 and float(entry["mean_ratio"]) > float(top["mean_ratio"]) + half_width(top):
            best = i
        if i - best >= patience and int(entry["update"]) >= min_updates:
            return j, counted[best]
    return None


def final_level(config: Any) -> int | None:
    """The last curriculum level of a run's config, None without a curriculum."""
    levels = getattr(getattr(config, "curriculum", None), "levels", ())
    return len(levels) - 1 if levels else None


def is_due(update: int, eval_every: int, total_updates: int) -> bool:
    """Whether the loop evaluates after iteration `update`: every `eval_every`, and at the cap."""
    return update % eval_every == 0 or update == total_updates


class Evaluator:
    """Plays every seed's greedy policy on the fixed held-out episodes; one jitted call for all seeds.

    The compiled player and the episodes' resets are the trainer's
    (`Trainer.greedy_player`, `Trainer.held_out_starts`), made once per trainer.
    """

    def __init__(self, trainer: Any, config: Any):
        cfg = config.plateau
        self.episodes = cfg.episodes
        self.seed = config.plateau_seed
        self.starts = trainer.held_out_starts(cfg.episodes, self.seed)
        self.keys = episode_keys(self.seed, 0, cfg.episodes)
        self._play = trainer.greedy_player()
        self._env, self._env_params = trainer.env, trainer.env_params
        self._baselines: dict[str, float] | None = None

    def baselines(self) -> dict[str, float]:
        """Mean ratio of each trivial baseline (`TRIVIAL`) on the same held-out episodes, played once."""
        if self._baselines is None:
            self._baselines = {}
            for name in TRIVIAL:
                out = make_player(self._env, BASELINES[name])(self._env_params, self.keys, self.starts)
                ratios = approximation_ratio(np.asarray(out.returns, np.float64), np.asarray(out.optimal, np.float64))
                self._baselines[name] = float(np.mean(ratios))
        return self._baselines

    def __call__(self, params: Any, update: int, env_steps: int) -> list[dict]:
        """One evaluation per seed of `params` (leading seed axis)."""
        out = self._play(local_value(params), self.keys, self.starts)
        returns = np.asarray(out.returns, np.float64)
        optimal = np.asarray(out.optimal, np.float64)
        ratios = approximation_ratio(returns, optimal)
        entries = []
        for row in ratios:
            interval = seed_episode_interval([row])
            entries.append(
                {
                    "update": int(update),
                    "env_steps": int(env_steps),
                    "mean_ratio": interval.mean,
                    "lo": interval.low,
                    "hi": interval.high,
                }
            )
        return entries


class PlateauTracker:
    """The evaluation history of a run and its stopping verdict (`train.plateau` enabled)."""

    def __init__(self, trainer: Any, config: Any, run_dir: str | Path, *, write: bool = True):
        self.config = config
        self.cfg = config.plateau
        self.run_dir = Path(run_dir)
        self.write = write  # process 0 alone writes the run folder's files
        self.total_updates = config.learner.num_updates
        self.curves: list[list[dict]] = [[] for _ in range(config.num_seeds)]
        self._evaluator: Evaluator | None = None
        self._trainer = trainer

    @property
    def evaluator(self) -> Evaluator:
        if self._evaluator is None:  # built on first use: a finished run resumed needs none
            self._evaluator = Evaluator(self._trainer, self.config)
        return self._evaluator

    def load(self, meta: dict, update: int) -> None:
        """The history saved with a checkpoint at iteration `update` (entries past it dropped)."""
        text = meta.get(META_KEY)
        curves = json.loads(text) if isinstance(text, str) else []
        if len(curves) != self.config.num_seeds:
            curves = [[] for _ in range(self.config.num_seeds)]
        self.curves = [[e for e in c if int(e["update"]) <= update] for c in curves]

    def meta(self) -> dict:
        return {META_KEY: json.dumps(self.curves)}

    def evaluate_if_due(self, params: Any, update: int, env_steps: int, levels=None) -> list[dict] | None:
        """Evaluates (and records) every seed after iteration `update` if one is due and not yet recorded.

        `levels`: each seed's curriculum level (recorded with its evaluation), or None.

        The caller saves the checkpoint (with `meta()`) and then `write_curve()`.
        """
        if not is_due(update, self.cfg.eval_every, self.total_updates):
            return None
        if any(e["update"] == update for e in self.curves[0]):
            return None
        entries = self.evaluator(params, update, env_steps)
        if levels is not None:
            entries = [dict(e, level=int(level)) for e, level in zip(entries, levels)]
        for curve, entry in zip(self.curves, entries):
            curve.append(entry)
        return entries

    def points(self) -> list[tuple[int, int] | None]:
        last = final_level(self.config)
        return [plateau_point(c, self.cfg.patience, self.cfg.min_updates, last) for c in self.curves]

    @property
    def all_plateaued(self) -> bool:
        return all(p is not None for p in self.points())

    def plateaued_count(self) -> int:
        return sum(p is not None for p in self.points())

    def write_curve(self) -> None:
        if self.write:
            atomic.write_json(self.run_dir / CURVE_FILE, curve_document(self.curves, self.cfg, self.config.plateau_seed))

    def write_report(self, done_updates: int) -> dict:
        report = plateau_report(self.curves, self.config, done_updates)
        if self.write:
            atomic.write_json(self.run_dir / PLATEAU_FILE, report)
        return report


def curve_document(curves: list[list[dict]], cfg: Any, seed: int) -> dict:
    """curve.json: how the evaluations were made, then per seed its list of evaluations."""
    return {"episodes": cfg.episodes, "episode_seed": seed, "interval": INTERVAL, "seeds": curves}


def plateau_report(curves: list[list[dict]], config: Any, done_updates: int) -> dict:
    """plateau.json of a finished run.

    Keys: the rule's settings; `stopped_early` (training ended before the
    cap because every seed plateaued); `updates` and `env_steps` trained (per
    seed); `cap_updates`, `cap_env_steps`; per seed `steps_to_plateau` (env
    steps of the best evaluation when the seed plateaued, null if it never
    did before the cap), `plateau_update` (the iteration of the evaluation
    that declared it) and `best_mean_ratio` (that best's mean).
    """
    cfg = config.plateau
    batch = config.learner.batch_size
    points = [plateau_point(c, cfg.patience, cfg.min_updates, final_level(config)) for c in curves]
    total = config.learner.num_updates
    return {
        "patience": cfg.patience,
        "min_updates": cfg.min_updates,
        "eval_every": cfg.eval_every,
        "episodes": cfg.episodes,
        "stopped_early": done_updates < total,
        "updates": done_updates,
        "env_steps": done_updates * batch,
        "cap_updates": total,
        "cap_env_steps": total * batch,
        "steps_to_plateau": [None if p is None else int(c[p[1]]["env_steps"]) for c, p in zip(curves, points)],
        "plateau_update": [None if p is None else int(c[p[0]]["update"]) for c, p in zip(curves, points)],
        "best_mean_ratio": [None if p is None else float(c[p[1]]["mean_ratio"]) for c, p in zip(curves, points)],
    }


def read_run(run_dir: str | Path) -> tuple[dict, dict] | None:
    """(plateau.json, curve.json) of a run folder, or None when the run did not train to plateau."""
    run_dir = Path(run_dir)
    if not (run_dir / PLATEAU_FILE).exists():
        return None
    return json.loads((run_dir / PLATEAU_FILE).read_text()), json.loads((run_dir / CURVE_FILE).read_text())
