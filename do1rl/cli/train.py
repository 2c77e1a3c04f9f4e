"""`do1rl train`: train a PPO agent from a YAML config.

    do1rl train --config configs/ppo_alternating_small.yaml
    do1rl train --config configs/ppo_do1_small.yaml --out runs/do1 ppo.num_envs=128 network.width=256
    do1rl train --resume runs/do1          # continue an interrupted run exactly

Overrides are dotted `key=value` pairs (values parsed as YAML). The run
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
    parser.add_argument("--config", type=Path, help="YAML config (see configs/)")
    parser.add_argument("--out", type=Path, help="run folder (default: runs/<config name>-<time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in this folder")
    parser.add_argument(
        "--devices", type=int_in(1, 4096), default=1, help="shard each seed's envs across N local devices (default: 1)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. ppo.num_envs=32")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from do1rl.core.circuit_file import CircuitFileError
    from do1rl.envs.make import EnvArgumentError
    from do1rl.experiments import config as config_lib

    if args.resume is None and args.config is None:
        return _error("give --config PATH (a new run) or --resume RUN_DIR")
    if args.resume is not None and (args.config is not None or args.overrides):
        return _error("--resume continues a run with its saved config.yaml; it takes no --config or overrides")
    if args.resume is not None and args.out is not None:
        return _error("--resume RUN_DIR already names the run folder; drop --out")
    from do1rl.sharding import check_device_count

    try:
        check_device_count(args.devices)
    except ValueError as err:
        return _error(f"--{err}")

    from do1rl.core.atomic import WriteError
    from do1rl.experiments.runs import CHECKPOINT, load_config
    from do1rl.experiments.train_config import TrainConfig
    from do1rl.experiments.training import train_run

    try:
        if args.resume is not None:
            run_dir = args.resume
            if not (run_dir / CHECKPOINT).exists():
                return _error(f"{run_dir}: nothing to resume (no {CHECKPOINT})")
            config = load_config(run_dir)
        else:
            config = config_lib.load(TrainConfig, args.config, args.overrides)
            run_dir = args.out or Path("runs") / f"{args.config.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        return train_run(
            config,
            run_dir,
            resume=args.resume is not None,
            devices=args.devices,
            progress=not args.no_progress,
        )
    except (config_lib.ConfigError, EnvArgumentError, CircuitFileError) as err:
        return _error(str(err))
    except ValueError as err:  # a bad network or PPO setting, a locked or unwritable run folder
        return _error(str(err))
    except WriteError as err:  # e.g. a full disk while writing a checkpoint
        return _error(str(err))
