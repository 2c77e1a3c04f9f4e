"""`do1rl eval`: play N episodes of an agent and report the spec's metrics."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

HELP = "evaluate an agent: approximation ratio and regret against the exact solver"


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", default="do1rl/DO1-v0", help="environment id (default: %(default)s)")
    parser.add_argument("--agent", default="greedy", help="random, oracle or greedy (default: %(default)s)")
    parser.add_argument("--episodes", type=int, default=1000, help="episodes to play (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed (default: %(default)s)")
    parser.add_argument(
        "--env-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment option, e.g. depth=4 or stop_action=true (repeatable; values are YAML)",
    )
    parser.add_argument("--out", type=Path, help="write the metrics as JSON to this file")
    parser.add_argument("--max-regret", type=float, help="exit 1 if the maximum regret exceeds this")
    parser.add_argument("--min-ratio", type=float, help="exit 1 if the minimum ratio is below this")
    parser.add_argument("--max-mean-regret", type=float, help="exit 1 if the mean regret exceeds this")
    parser.add_argument("--min-mean-ratio", type=float, help="exit 1 if the mean ratio is below this")
    parser.add_argument(
        "--devices", type=int, default=1, help="shard episodes across this many local devices (default: %(default)s)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def parse_env_args(pairs: list[str]) -> dict:
    """`["depth=4", "stop_action=true"]` -> `{"depth": 4, "stop_action": True}`."""
    kwargs = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--env-arg {pair!r}: expected KEY=VALUE")
        try:
            kwargs[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            kwargs[key] = raw
    return kwargs


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from do1rl.agents.baselines import BASELINES
    from do1rl.circuit_file import CircuitFileError
    from do1rl.envs.registration import EnvArgumentError, make_functional
    from do1rl.evaluation import evaluate, format_table
    from do1rl.testing import check_bounds

    if args.episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
    import jax

    if not 1 <= args.devices <= jax.local_device_count():
        raise UsageError(f"--devices must be in 1..{jax.local_device_count()} (local devices), got {args.devices}")
    if args.agent not in BASELINES:
        raise UsageError(f"unknown agent {args.agent!r}; choose from {', '.join(BASELINES)}")
    try:
        env, params = make_functional(args.env, **parse_env_args(args.env_arg))
    except (EnvArgumentError, CircuitFileError) as err:
        raise UsageError(str(err)) from None

    report = evaluate(
        env,
        params,
        BASELINES[args.agent],
        episodes=args.episodes,
        seed=args.seed,
        progress=not args.no_progress,
        devices=args.devices,
    )
    report = {"env": args.env, "agent": args.agent, "seed": args.seed, **report}
    print(f"{args.agent} on {args.env}, {args.episodes} episodes, seed {args.seed}")
    print(format_table(report))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=1) + "\n")
        tmp.replace(args.out)
    broken = check_bounds(
        report,
        max_regret=args.max_regret,
        min_ratio=args.min_ratio,
        max_mean_regret=args.max_mean_regret,
        min_mean_ratio=args.min_mean_ratio,
    )
    for line in broken:
        print(f"bound broken: {line}", file=sys.stderr)
    return 1 if broken else 0
