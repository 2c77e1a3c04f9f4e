"""`do1rl config`: the configs that ship with do1rl.

    do1rl config list                              # every shipped config: name, kind, description
    do1rl config show ppo_do1_small                # its commented YAML, to copy and edit
    do1rl config show ppo_do1_small --resolved     # every key, with the defaults filled in

A shipped name works wherever a config file does: `do1rl train --config
ppo_do1_small`, `do1rl sweep --config sweep_mcts`. In a checkout the
shipped configs are the files in configs/; in a wheel, package data.
"""

from __future__ import annotations

import argparse
import sys

HELP = "list the shipped configs, or print one to edit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="every shipped config: name, kind (train or sweep) and description")
    show = actions.add_parser("show", help="print a shipped config (or a config file)")
    show.add_argument("name", help="a shipped config's name (do1rl config list) or a config file")
    show.add_argument("--resolved", action="store_true", help="print every key, the defaults filled in, instead of the file")


def run(args: argparse.Namespace) -> int:
    from do1rl.experiments import config as config_lib
    from do1rl.experiments.shipped import describe, find_config, kind, shipped_configs

    try:
        if args.action == "list":
            configs = shipped_configs()
            width = max(map(len, configs))
            for name, path in configs.items():
                print(f"{name:<{width}}  {kind(path):<5}  {describe(path)}")
            return 0
        path = find_config(args.name)
        what = kind(path)  # reads it as a config first: a special, oversized or non-YAML file gets one line
        if not args.resolved:
            sys.stdout.write(path.read_text(encoding="utf-8"))
            return 0
        config: object  # a SweepConfig or a TrainConfig
        if what == "sweep":
            from do1rl.experiments.sweep import load_config

            config = load_config(path)
        else:
            from do1rl.experiments.train_config import TrainConfig

            config = config_lib.load(TrainConfig, path)
        print(f"# {path.stem}, every key (defaults filled in); train or sweep with --config FILE after editing")
        sys.stdout.write(config_lib.to_yaml(config))
        return 0
    except config_lib.ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
