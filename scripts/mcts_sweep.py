"""Simulation-budget sweep of the MCTS agent: one fixed batch, budgets 1, 2, 4, ..., K.

    python scripts/mcts_sweep.py --env do1rl/AlternatingCircuit-v0 --env-arg depth=4 \\
        --env-arg width=4 --env-arg stop_action=true --max-simulations 64 \\
        --episodes 256 --seed 0 --out sweep.json

Prints a table (one row per budget) and writes {"env", "env_args", "mcts",
"episodes", "seed", "rows"} as JSON (atomically: a temporary file, then a
rename). Rows are `do1rl.mcts_sweep.budget_sweep` rows. Bad input exits 2
with one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="do1rl/DO1-v0", help="environment id (default: %(default)s)")
    p.add_argument("--env-arg", action="append", default=[], metavar="KEY=VALUE", help="environment option (repeatable)")
    p.add_argument("--max-simulations", type=int, default=64, help="largest budget K (default: %(default)s)")
    p.add_argument("--budgets", help="comma-separated budgets instead of 1, 2, 4, ..., K")
    p.add_argument("--episodes", type=int, default=256, help="episodes per budget (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="evaluation seed (default: %(default)s)")
    p.add_argument("--chunk", type=int, default=1024, help="episodes per compiled call (default: %(default)s)")
    p.add_argument("--mcts-algorithm", default="gumbel", help="gumbel or muzero (default: %(default)s)")
    p.add_argument("--max-considered", type=int, help="gumbel: root actions considered (default: all)")
    p.add_argument("--gumbel-scale", type=float, default=0.0, help="gumbel: root noise scale (default: %(default)s, no noise)")
    p.add_argument("--out", type=Path, help="write the sweep as JSON to this file")
    return p


class UsageError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    from do1rl.agents.mcts import MCTSConfig
    from do1rl.envs.registration import EnvArgumentError, make_functional

    from do1rl.circuit_file import CircuitFileError
    from do1rl.commands.eval import UsageError as EvalUsageError
    from do1rl.commands.eval import parse_env_args
    from do1rl.mcts_sweep import budget_sweep, doubling_budgets, format_header
    from do1rl import atomic

    if args.episodes < 1 or args.chunk < 1:
        raise UsageError("--episodes and --chunk must be >= 1")
    try:
        if args.budgets:
            budgets = tuple(int(b) for b in args.budgets.split(","))
            if min(budgets) < 1:
                raise ValueError
        else:
            budgets = doubling_budgets(args.max_simulations)
    except ValueError:
        raise UsageError("--budgets must be positive integers and --max-simulations >= 1") from None
    try:
        config = MCTSConfig(
            simulations=max(budgets),
            algorithm=args.mcts_algorithm,
            max_considered=args.max_considered,
            gumbel_scale=args.gumbel_scale,
        )
    except ValueError as err:
        raise UsageError(str(err)) from None
    try:
        env_args = parse_env_args(args.env_arg)
        env, params = make_functional(args.env, **env_args)
    except (EvalUsageError, EnvArgumentError, CircuitFileError) as err:
        raise UsageError(str(err)) from None

    print(f"MCTS ({config.algorithm}) on {args.env} {env_args}, {args.episodes} episodes, seed {args.seed}")
    print(format_header(), flush=True)
    rows = budget_sweep(
        env, params, config, budgets, episodes=args.episodes, seed=args.seed, chunk=args.chunk, progress=True
    )
    if args.out:
        report = {
            "env": args.env,
            "env_args": env_args,
            "mcts": {k: v for k, v in config.as_dict().items() if k != "simulations"},
            "episodes": args.episodes,
            "seed": args.seed,
            "rows": rows,
        }
        atomic.write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
