"""Checkpointed training runs (PPO or another registered algorithm): configs, run folders, resume, logging, evaluation.

A run folder holds:

- `config.yaml`: the resolved `TrainConfig` (file + overrides);
- `events.out.tfevents.*`: TensorBoard scalars, each (tag, step) once whatever the kills (`event_log.py`);
- `checkpoints/latest.msgpack`: the full training state of every seed
  (params, optimizer state, env states, PRNG keys, counters), rewritten
  atomically after every chunk of `log.updates_per_chunk` iterations, and
  the `log.keep_checkpoints - 1` before it as `checkpoints/update_<N>.msgpack`
  (resume and eval use the newest one that verifies: `global_checkpoint`);
- `eval.json` (at the end): the core evaluator's metrics for seed 0's
  greedy policy, with the keys of `do1rl eval --out`, plus `seeds` (one
  report per seed) when `num_seeds > 1`;
- with `plateau.enabled` (`do1rl.experiments.plateau`): `curve.json`, every
  seed's held-out evaluations so far, and at the end `plateau.json`, each
  seed's steps to plateau and whether the run stopped before the cap.

Training runs chunk by chunk: one jitted call runs `updates_per_chunk`
iterations for all seeds (vmapped) and returns summed metrics. Between
chunks the loop logs, checkpoints and checks for NaN/inf losses and
SIGINT/SIGTERM. A chunk whose losses or new state (params, optimizer state, ...)
hold NaN or inf stops the run (exit 3) before anything of it is saved. The
run folder is locked (`runs.lock_folder`) for the whole run, so a second
writer is refused at once. Resuming reloads the checkpoint and runs the same chunks,
so an interrupted and resumed run is bitwise equal (on CPU) to an
uninterrupted one. With `plateau.enabled` the loop also evaluates every
seed after every `plateau.eval_every` iterations, before that chunk's
checkpoint (which carries the evaluation history), and stops once every seed
has plateaued; disabled, the loop and its files are exactly as before.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from do1rl.agents.algorithms import ALGORITHMS
from do1rl.agents.networks import param_count
from do1rl.core import atomic, limits
from do1rl.evaluation import evaluate
from do1rl.evaluation.cost import check_node_steps
from do1rl.experiments import checkpoint
from do1rl.experiments import config as config_lib
from do1rl.experiments.curriculum_state import curriculum_levels, curriculum_report, curriculum_restarts
from do1rl.experiments.distributed import any_process, is_main_process, local_value
from do1rl.experiments.event_log import ScalarLog
from do1rl.experiments.global_checkpoint import RunCheckpoints, has_checkpoint
from do1rl.experiments.plateau import PlateauTracker
from do1rl.experiments.runs import RunFolderError, lock_folder
from do1rl.experiments.scalars import log_curriculum_scalars, log_eval_scalars, log_scalars, log_seed_scalars
from do1rl.experiments.signals import StopFlag, Stopped
from do1rl.experiments.train_config import TrainConfig
from do1rl.experiments.trainer import Trainer, seed_keys

# Exit codes of `train_run`.
OK, INTERRUPTED, DIVERGED = 0, 130, 3
# Largest training state plus rollout estimate (bytes) a run may ask for; checked before allocating.
MAX_TRAIN_BYTES = 64 << 30
MAX_SEEDS = 1024  # num_seeds trained at once
CURRICULUM_FILE = "curriculum.json"  # per seed: the level it ended at and its restarts


def train_run(
    config: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    devices: int = 1,
    progress: bool = True,
    log=None,
    trainer: Trainer | None = None,
    extend_from: TrainConfig | None = None,
) -> int:
    """Trains (or resumes) a run in `run_dir`; returns an exit code (OK, INTERRUPTED, DIVERGED).

    `extend_from` (with `resume`): the run's config.yaml before `config`
    raised its budget (the algorithm's `total_timesteps`, `extend_config`): the run goes
    on to the new budget, and its config.yaml becomes `config`.

    The config is checked (env, network, memory estimate) before the folder
    is made. Raises RunFolderError if the folder is locked by another
    process, cannot be made, already holds a run (without `resume`), or
    holds none to resume. `trainer`: a `Trainer` built for a config that
    differs from this one at most in `seed`, `eval`, `log` and `plateau`
    (its compiled code is reused; ValueError otherwise); by default one is built.
    """
    if log is None:  # printed lines reach a redirected log as they are written
        log = functools.partial(print, flush=True)
    # From the start, so no signal can tear a checkpoint write. Several processes stop together, between chunks.
    with StopFlag(abandon=jax.process_count() == 1) as stop:
        if trainer is None:
            trainer = build_trainer(config, devices)
        else:
            check_shared_trainer(trainer, config, devices)
        run_dir = Path(run_dir)
        # Process 0 alone holds the lock: the processes of one distributed run share the folder.
        with lock_folder(run_dir) if is_main_process() else contextlib.nullcontext():
            has_run = has_checkpoint(run_dir)
            if resume and not has_run:
                raise RunFolderError(f"{run_dir}: nothing to resume (no checkpoint)")
            if not resume and has_run:
                raise RunFolderError(f"{run_dir} already holds a run; use --resume {run_dir} or another --out")
            if resume or not is_main_process():
                return _train(trainer, config, run_dir, resume, progress, log, stop, extend_from=extend_from)
            before = set(run_dir.iterdir())  # the lock file, and whatever the folder held
            saved: list[int] = []  # the iterations this start checkpointed after training
            try:
                return _train(trainer, config, run_dir, resume, progress, log, stop, saved)
            except Stopped:  # before the first checkpoint
                _discard(run_dir, before)
                log(f"{stop.name}: stopped before the run's first checkpoint; removed what this start wrote")
                return INTERRUPTED
            except Exception:
                if not saved:  # failed before its first trained chunk: nothing worth resuming
                    _discard(run_dir, before)
                raise


def _discard(run_dir: Path, before: set[Path]) -> None:
    """Removes what a failed start wrote into `run_dir`, so the corrected rerun is not refused."""
    for path in set(run_dir.iterdir()) - before:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def build_trainer(config: TrainConfig, devices: int = 1) -> Trainer:
    """The run's `Trainer`, refused (ValueError, one line) before allocating if it would be too large."""
    if config.num_seeds > MAX_SEEDS:
        raise ValueError(f"num_seeds must be in 1..{MAX_SEEDS}, got {config.num_seeds}")
    try:
        trainer = Trainer(config, devices=devices)
    except (OverflowError, MemoryError) as err:  # sizes past what the arrays' index types hold
        raise ValueError(f"config too large to build ({limits.describe_error(err)})") from None
    check_memory(trainer)
    check_evaluations(trainer)
    return trainer


def check_evaluations(trainer: Trainer) -> None:
    """InputError (one line) if the final or plateau evaluations would pass `eval`'s node-step limit.

    Each plateau evaluation plays `plateau.episodes` per seed, at most once
    per chunk; their estimate counts one evaluation per seed.
    """
    config = trainer.config
    for what, episodes in (
        ("eval.episodes", config.eval.episodes * config.num_seeds),
        ("plateau.episodes", config.plateau.episodes * config.num_seeds if config.plateau.enabled else 0),
    ):
        if episodes:
            try:
                check_node_steps(trainer.env, episodes)
            except limits.InputError as err:
                raise limits.InputError(f"{what}: {err}".replace(", or raise --max-node-steps", "")) from None


def check_shared_trainer(trainer: Trainer, config: TrainConfig, devices: int) -> None:
    """ValueError unless `trainer` compiles what `config` on `devices` devices would."""
    same = ("algo", "env", "network", "num_seeds", "curriculum")
    if (
        trainer.devices != devices
        or trainer.config.learner != config.learner
        or any(getattr(trainer.config, f) != getattr(config, f) for f in same)
    ):
        raise ValueError(f"the trainer given was built for another {', '.join(same)}, algorithm settings or device count")


def _nbytes(tree: Any) -> int:
    return sum(int(np.prod(x.shape, dtype=object)) * getattr(x.dtype, "itemsize", 8) for x in jax.tree.leaves(tree))


def check_memory(trainer: Trainer) -> None:
    """ValueError (one line) if the run's state plus a rollout estimate passes `MAX_TRAIN_BYTES`."""
    shape = trainer.state_shape
    need = _nbytes(shape) + _nbytes(shape.env_state) * trainer.config.learner.num_steps
    if need > MAX_TRAIN_BYTES:
        raise ValueError(
            f"this config needs about {need / 2**30:,.1f} GiB for the training state and one rollout, "
            f"more than the limit of {MAX_TRAIN_BYTES >> 30} GiB (network width/depth, {trainer.config.algo}.num_envs, "
            f"{trainer.config.algo}.num_steps, num_seeds or the circuit size)"
        )


def extend_config(config: TrainConfig, total_timesteps: int) -> TrainConfig:
    """`config` with the larger budget `total_timesteps`; ValueError (one line) unless it is larger."""
    if total_timesteps <= config.learner.total_timesteps:
        raise ValueError(
            f"--extend {total_timesteps}: the run already trains to "
            f"{config.algo}.total_timesteps={config.learner.total_timesteps}; give a larger budget"
        )
    return config.with_budget(total_timesteps)


BUDGET_KEY = "total_timesteps"  # checkpoint metadata: the budget the run trained toward


def check_budget(run_dir: Path, meta: dict, config: TrainConfig, extend_from: TrainConfig | None = None) -> None:
    """ValueError (one line) unless the checkpoint was trained toward this config's budget (or, extending, the old one).

    The fingerprint leaves the budget out (so `--extend` keeps the
    checkpoints); this catches a config.yaml whose budget was edited, or a
    checkpoint copied from a run of another budget. Checkpoints written
    before the budget was recorded pass.
    """
    budget = meta.get(BUDGET_KEY)
    allowed = {config.learner.total_timesteps} | ({extend_from.learner.total_timesteps} if extend_from else set())
    if budget is not None and budget not in allowed:
        raise ValueError(
            f"{run_dir}: its checkpoint trained toward {config.algo}.total_timesteps={budget}, but config.yaml says "
            f"{config.learner.total_timesteps}; restore config.yaml, or continue to a larger budget with --extend TOTAL"
        )


EXTENDED_AWAY = ("eval.json", "plateau.json", CURRICULUM_FILE)  # a finished run's results, of the smaller budget


def _extend(checkpoints, state, meta, config, run_dir: Path, main: bool) -> None:
    """Makes a resumed run's folder one of the larger budget: checkpoint, then config.yaml, then old results gone.

    The checkpoint's fingerprint leaves the budget out, so a kill at any
    point leaves a run that resumes (with either config.yaml) or extends again.
    """
    checkpoints.save(state, meta | {BUDGET_KEY: config.learner.total_timesteps})  # re-stamped for `config`
    if main:
        config_lib.dump(config, run_dir / "config.yaml")
        for name in EXTENDED_AWAY:
            (run_dir / name).unlink(missing_ok=True)


def _train(trainer, config, run_dir, resume, progress, log, stop, saved=None, extend_from=None) -> int:
    main = is_main_process()  # with several processes, process 0 alone writes config, events and eval.json
    if not main:
        log, progress = (lambda *_: None), False
    settings = config.learner
    total_updates = settings.num_updates
    steps_per_update = settings.batch_size
    summarize = ALGORITHMS[config.algo].summarize
    plateau = PlateauTracker(trainer, config, run_dir, write=main) if config.plateau.enabled else None
    scalars = ScalarLog(run_dir) if main else None  # process 0 alone writes events

    def meta_at(update: int) -> dict:
        meta = {"update": update, "env_steps": update * steps_per_update, BUDGET_KEY: settings.total_timesteps}
        return meta | plateau.meta() if plateau is not None else meta

    new_evals = None
    if resume:
        checkpoints = RunCheckpoints.resume(run_dir, trainer)
        state, meta = checkpoints.restore(written_for=extend_from)
        check_budget(run_dir, meta, config, extend_from)
        log(f"resumed {run_dir} at iteration {meta.get('update', '?')} of {total_updates}")
        if plateau is not None:
            plateau.load(meta, int(local_value(state.update).reshape(-1)[0]))
            if extend_from is not None and any_process(plateau.all_plateaued):
                raise ValueError(f"{run_dir}: every seed has plateaued (plateau.json); extending it would train nothing")
            plateau.write_curve()
        if extend_from is not None:
            _extend(checkpoints, state, meta, config, run_dir, main)
            log(f"extended to {config.algo}.total_timesteps={settings.total_timesteps} ({total_updates} iterations)")
    else:
        if main:
            config_lib.dump(config, run_dir / "config.yaml")
        checkpoints = RunCheckpoints.start(run_dir, trainer)
        state = stop.run(trainer.init, seed_keys(config))
        if plateau is not None:  # the untrained policies: the first point of every curve
            new_evals = stop.run(_plateau_evaluation, plateau, state, 0, 0, main)
            if scalars is not None and new_evals:
                log_eval_scalars(scalars, new_evals, 0, plateau.plateaued_count(), plateau.evaluator.baselines())
        if scalars is not None:  # before the checkpoint that covers them
            scalars.add_text("config", config_lib.to_yaml(config), 0)  # TensorBoard's Text tab: the resolved config
            scalars.commit()
        checkpoints.save(state, meta_at(0))
        if plateau is not None:
            plateau.write_curve()
    ckpt_path = run_dir / "checkpoints"
    done_updates = int(local_value(state.update).reshape(-1)[0])
    params0 = jax.tree.map(lambda x: x[0], state.params)
    log(
        f"{config.network.family} network: {param_count(params0):,} parameters, "
        f"{config.num_seeds} seed(s), {total_updates} {config.algo} iterations of {settings.batch_size} env steps"
    )

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=total_updates * steps_per_update,
            initial=done_updates * steps_per_update,
            unit="step",
            unit_scale=True,
            desc="train",
        )
    status = OK
    first_chunk = True  # of this launch: its time includes compiling the chunk
    plateaued = plateau is not None and any_process(plateau.all_plateaued)  # a resumed run may be done
    while done_updates < total_updates and not plateaued:
        n = min(config.log.updates_per_chunk, total_updates - done_updates)
        start = time.perf_counter()
        try:
            new_state, totals = stop.run(trainer.run_chunk, state, n)
        except Stopped:
            log(_stopped_line(stop, done_updates, run_dir))
            status = INTERRUPTED
            break
        totals = local_value(totals)
        elapsed = time.perf_counter() - start
        stats = summarize(totals)
        if stats["nonfinite"] > 0 or not checkpoint.all_finite(new_state):  # what would be saved
            print(  # an error: stderr, whatever `log` writes to
                f"error: training diverged (NaN or inf in the loss or the parameters) between iterations "
                f"{done_updates} and {done_updates + n}; stopped, keeping the last good checkpoint ({ckpt_path})",
                file=sys.stderr,
                flush=True,
            )
            status = DIVERGED
            break
        env_steps = (done_updates + n) * steps_per_update
        if plateau is not None:
            try:
                new_evals = stop.run(_plateau_evaluation, plateau, new_state, done_updates + n, env_steps, main)
            except Stopped:
                log(_stopped_line(stop, done_updates, run_dir))
                status = INTERRUPTED
                break
        state = new_state
        done_updates += n
        if plateau is not None:
            plateaued = any_process(plateau.all_plateaued)  # every process stops after the same chunk
        steps_per_s = n * steps_per_update * config.num_seeds / max(elapsed, 1e-9)
        if scalars is not None:  # on disk before the checkpoint that covers them
            if first_chunk:  # compilation included: its time is logged, not as a rate
                scalars.add_scalar("perf/first_chunk_s", elapsed, env_steps)
            log_scalars(scalars, stats, None if first_chunk else steps_per_s, env_steps)
            if config.num_seeds > 1:
                log_seed_scalars(scalars, totals, env_steps, summarize)
            levels = curriculum_levels(state)  # None without a curriculum
            if levels is not None:
                log_curriculum_scalars(scalars, levels, curriculum_restarts(state), env_steps)
            if plateau is not None and new_evals:
                log_eval_scalars(scalars, new_evals, env_steps, plateau.plateaued_count(), plateau.evaluator.baselines())
            scalars.commit()
        checkpoints.save(state, meta_at(done_updates))
        if saved is not None:
            saved.append(done_updates)
        if plateau is not None:
            plateau.write_curve()
        first_chunk = False
        if bar is not None:
            bar.update(n * steps_per_update)
            bar.set_postfix(
                sps=f"{steps_per_s:,.0f}",
                ret=f"{stats['mean_return']:.2f}",
                ratio=f"{stats['mean_ratio']:.3f}",
                refresh=False,
            )
        else:  # one line per chunk, for logs that a bar would garble
            log(
                f"iteration {done_updates}/{total_updates}: {steps_per_s:,.0f} env-steps/s over {elapsed:.1f}s, "
                f"mean return {stats['mean_return']:.3f}, mean ratio {stats['mean_ratio']:.3f}"
            )
        if any_process(stop.signal is not None):  # every process stops after the same chunk
            name = signal.Signals(stop.signal).name if stop.signal is not None else "a signal to another process"
            log(f"{name}: saved a checkpoint at iteration {done_updates}; resume with --resume {run_dir}")
            status = INTERRUPTED
            break
    if bar is not None:
        bar.close()
    if scalars is not None:
        scalars.close()
    if status != OK:
        return status
    if state.curriculum is not None and main:
        atomic.write_json(run_dir / CURRICULUM_FILE, curriculum_report(state, config))
    if plateau is not None:
        summary = plateau.write_report(done_updates)
        how = "every seed plateaued" if summary["stopped_early"] else "the step cap"
        log(
            f"plateau: stopped at iteration {done_updates}/{total_updates} ({how}); steps to plateau per seed {summary['steps_to_plateau']}"
        )
    try:
        report = stop.run(evaluate_run, trainer, state, config)
    except Stopped:  # the checkpoint is saved, the evaluation is not
        print(
            f"{stop.name}: skipped the final evaluation (the checkpoint at iteration "
            f"{done_updates} is saved); resume with --resume {run_dir} to evaluate it",
            file=sys.stderr,
            flush=True,
        )
        return INTERRUPTED
    if main:
        atomic.write_json(run_dir / "eval.json", report)
    log(
        f"eval ({config.eval.episodes} episodes, {'greedy' if config.eval.greedy else 'sampled'}): "
        f"mean ratio {report['mean_ratio']:.4f}, mean regret {report['mean_regret']:.4f}"
    )
    return OK


def _plateau_evaluation(plateau: PlateauTracker, state: Any, update: int, env_steps: int, main: bool) -> list[dict] | None:
    """`plateau.evaluate_if_due`, and the trivial baselines logged beside it (played once, on the first evaluation)."""
    evals = plateau.evaluate_if_due(state.params, update, env_steps, curriculum_levels(state))
    if evals and main:
        plateau.evaluator.baselines()
    return evals


def _stopped_line(stop: StopFlag, kept: int, run_dir: Path) -> str:
    """What a stop inside a chunk or its evaluation says: the newest checkpoint is the one kept."""
    return f"{stop.name}: stopped; kept the checkpoint at iteration {kept}; resume with --resume {run_dir}"


def evaluate_run(trainer: Trainer, state: Any, config: TrainConfig) -> dict:
    """eval.json: seed 0's metrics at top level, every seed's under `seeds` if several."""
    reports = []
    for i in range(config.num_seeds):
        params = jax.tree.map(lambda x, i=i: x[i], local_value(state.params))
        reports.append(
            evaluate(
                trainer.env,
                trainer.env_params,
                trainer.learner.policy(params, greedy=config.eval.greedy),
                episodes=config.eval.episodes,
                seed=config.eval.seed,
            )
        )
    head = {
        "env": config.env.id,
        "agent": config.algo,
        "seed": config.eval.seed,
        "greedy": config.eval.greedy,
        "network": config.network.family,
    }
    out = {**head, **reports[0]}
    if config.num_seeds > 1:
        out["seeds"] = reports
    return out
