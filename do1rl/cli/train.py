"""`do1rl train`: train a PPO agent from a YAML config.

    do1rl train                            # the shipped ppo_alternating_small
    do1rl train --config ppo_do1_small --out runs/do1 ppo.num_envs=128 network.width=256
    do1rl train --config my.yaml           # a file: start from `do1rl config show NAME`
    do1rl train --resume runs/do1          # continue an interrupted run exactly
    do1rl train --resume runs/do1 --extend 1000000   # go on to a larger ppo.total_timesteps
    do1rl train --distributed --coordinator host0:8476 --num-processes 2 --process-id 0 --config ... --out shared/run

Several processes (hosts) train one run with `--distributed` (or the
DO1RL_COORDINATOR_ADDRESS variables, or `srun` with 2+ tasks); see
docs/distributed.md.

`--config` takes a file or a shipped config's name (`do1rl config list`);
`do1rl config show NAME --resolved` prints every key with its value or
default. Overrides are dotted `key=value` pairs (values parsed as YAML). The run
folder gets `config.yaml`, TensorBoard event files, `checkpoints/` and, at
the end, `eval.json`. Ctrl-C or SIGTERM saves a checkpoint after the current
chunk and exits 130; a NaN/inf loss stops with exit 3 and keeps the last
good checkpoint; bad configs and options exit 2 with one line, as does a
run folder that another process is writing (each run holds an OS lock on
its folder) or that cannot be written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from do1rl.cli._args import int_in

HELP = "train a PPO agent from a YAML config (checkpoints, TensorBoard, exact resume)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        help="YAML config: a file, or the name of a shipped config (do1rl config list); default: the shipped ppo_alternating_small",
    )
    parser.add_argument("--out", type=Path, help="run folder (default: runs/<config name>-<time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in this folder")
    parser.add_argument(
        "--extend",
        type=int_in(1, 1 << 62),
        metavar="TOTAL",
        help="with --resume: continue a finished (or interrupted) run to ppo.total_timesteps=TOTAL, a larger budget "
        "(bitwise the run that asked for TOTAL from the start when ppo.anneal_lr is false; see docs)",
    )
    parser.add_argument(
        "--devices",
        type=int_in(1, 4096),
        default=None,
        help="shard each seed's envs across N local devices (default: 1; all local devices with --distributed)",
    )
    group = parser.add_argument_group("several processes or hosts (docs/distributed.md)")
    group.add_argument(
        "--distributed",
        action="store_true",
        help="join a multi-process run with jax.distributed (automatic under srun with 2+ tasks or with DO1RL_COORDINATOR_ADDRESS)",
    )
    group.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address and a free port (or DO1RL_COORDINATOR_ADDRESS)")
    group.add_argument("--num-processes", type=int_in(1, 1 << 16), metavar="N", help="processes in the run (or DO1RL_NUM_PROCESSES)")
    group.add_argument("--process-id", type=int_in(0, 1 << 16), metavar="I", help="this process, 0..N-1 (or DO1RL_PROCESS_ID)")
    group.add_argument(
        "--init-timeout",
        type=int_in(1, 86400),
        default=300,
        metavar="S",
        help="seconds to wait for the coordinator and every process (default: 300)",
    )
    parser.add_argument("--no-progress", action="store_true", help="print one line per logged chunk instead of a progress bar")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. ppo.num_envs=32")
    usage = parser.format_help
    parser.format_help = lambda: usage() + "\n" + config_keys_help()  # type: ignore[method-assign]  # built only when asked: it imports jax


def config_keys_help() -> str:
    """Every config key with its type, default and rule, then the rules that tie keys together."""
    from do1rl.experiments import config as config_lib
    from do1rl.experiments.train_config import TrainConfig

    rows = config_lib.key_table(TrainConfig)
    width, kind_width = (max(len(row[i]) for row in rows) for i in (0, 1))
    lines = [
        "config keys, as KEY=VALUE overrides or YAML (key, type, default when a file leaves it out, rule);",
        "env.args are the env's keyword arguments (as gym.make takes them); `do1rl config show NAME --resolved` prints a whole config:",
    ]
    for key, kind, default, rule in rows:
        lines.append(f"  {key:<{width}}  {kind:<{kind_width}}  {default}" + (f"  ({rule})" if rule else ""))
    lines.append("rules across keys:")
    lines += [f"  {note}" for note in config_lib.key_notes(TrainConfig)]
    return "\n".join(lines) + "\n"


# Status codes that open the messages of XLA runtime errors (gloo/NCCL collectives, barriers).
_RUNTIME_STATUSES = {"UNKNOWN", "INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED", "CANCELLED", "FAILED_PRECONDITION"}


def _error(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _is_runtime_failure(err: Exception) -> bool:
    """An error of the XLA runtime (a failed collective or barrier), not of do1rl's own checks."""
    import jax

    status = str(err).split(":", 1)[0]
    return isinstance(err, jax.errors.JaxRuntimeError) or status in _RUNTIME_STATUSES


def _lost_peer(err: Exception) -> int:
    """One line, then exit at once: JAX's exit-time shutdown would wait for the lost process and abort."""
    import os

    from do1rl.experiments import distributed

    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    _error(f"lost contact with another process ({first}); resume the run with --resume once all are back")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(distributed.DISTRIBUTED_FAILURE)


def run(args: argparse.Namespace) -> int:
    from do1rl.core.circuit_file import CircuitFileError
    from do1rl.envs.make import EnvArgumentError
    from do1rl.experiments import config as config_lib

    if args.resume is not None and (args.config is not None or args.overrides):
        return _error("--resume continues a run with its saved config.yaml; it takes no --config or overrides")
    if args.extend is not None and args.resume is None:
        return _error("--extend TOTAL continues a run: give it with --resume RUN_DIR")
    if args.resume is not None and args.out is not None:
        return _error("--resume RUN_DIR already names the run folder; drop --out")
    from do1rl.experiments import distributed

    flags = (args.coordinator, args.num_processes, args.process_id)
    is_distributed = distributed.requested(args.distributed)
    if not is_distributed and any(f is not None for f in flags):
        return _error("--coordinator, --num-processes and --process-id need --distributed")
    if is_distributed:
        if args.out is None and args.resume is None:
            return _error("a distributed run needs --out RUN_DIR (the same folder, on a shared filesystem, for every process)")
        try:
            cluster = distributed.resolve(*flags, init_timeout=args.init_timeout)
        except distributed.DistributedError as err:
            return _error(str(err))
        try:  # before anything touches a device
            distributed.initialize(cluster)
        except distributed.DistributedError as err:
            return _error(str(err), code=distributed.DISTRIBUTED_FAILURE)
    from do1rl.sharding import check_device_count

    try:
        import jax

        devices = args.devices if args.devices is not None else (jax.local_device_count() if is_distributed else 1)
        check_device_count(devices)
    except ValueError as err:
        return _error(f"--{err}")

    from do1rl.core.atomic import WriteError
    from do1rl.experiments.global_checkpoint import has_checkpoint
    from do1rl.experiments.runs import load_config
    from do1rl.experiments.shipped import DEFAULT_TRAIN_CONFIG, find_config
    from do1rl.experiments.train_config import TrainConfig
    from do1rl.experiments.training import extend_config, train_run

    extend_from = None
    resume = args.resume is not None
    try:
        if resume:
            run_dir = args.resume
            if not has_checkpoint(run_dir):
                if args.extend is not None or not (Path(run_dir) / "config.yaml").is_file():
                    return _error(f"{run_dir}: nothing to resume (no checkpoint)")
                # A start stopped (e.g. killed) before its first checkpoint: its config.yaml is all there is, and a
                # start is deterministic, so starting again is what resuming it means.
                print(f"{run_dir}: no checkpoint yet (the run stopped before its first); starting it again from its config.yaml")
                resume = False
            config = load_config(run_dir)
            if args.extend is not None and args.extend != config.learner.total_timesteps:  # equal: an extend resumed
                extend_from, config = config, extend_config(config, args.extend)
        else:
            if args.config is None:
                print(f"no --config: training the shipped {DEFAULT_TRAIN_CONFIG} (do1rl config show {DEFAULT_TRAIN_CONFIG})")
            path = find_config(args.config or DEFAULT_TRAIN_CONFIG)
            config = config_lib.load(TrainConfig, path, args.overrides)
            run_dir = args.out or Path("runs") / f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        return train_run(
            config,
            run_dir,
            resume=resume,
            devices=devices,
            progress=not args.no_progress,
            extend_from=extend_from,
        )
    except (config_lib.ConfigError, EnvArgumentError, CircuitFileError) as err:
        return _error(str(err))
    except WriteError as err:  # e.g. a full disk while writing a checkpoint
        return _error(str(err))
    except (ValueError, RuntimeError) as err:
        if is_distributed and _is_runtime_failure(err):  # a peer was lost mid-collective
            return _lost_peer(err)
        if isinstance(err, RuntimeError):
            raise
        return _error(str(err))  # a bad network or PPO setting, a checkpoint, a locked or unwritable run folder
