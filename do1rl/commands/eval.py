"""`do1rl eval`: play N episodes of an agent and report the spec's metrics."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from do1rl import atomic

HELP = "evaluate an agent: approximation ratio and regret against the exact solver"


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env", help="environment id (default: a ppo agent's training env, else do1rl/DO1-v0)"
    )
    parser.add_argument(
        "--agent", default="greedy", help="random, oracle, greedy, mcts or ppo:RUN_DIR (default: %(default)s)"
    )
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
    parser.add_argument(
        "--stochastic", action="store_true", help="ppo: sample actions from the policy instead of taking the argmax"
    )
    parser.add_argument("--seed-index", type=int, default=0, help="ppo: which of the run's seeds (default: 0)")
    mcts = parser.add_argument_group("mcts agent (do1rl.agents.mcts)")
    mcts.add_argument("--simulations", type=int, default=64, help="simulations per decision (default: %(default)s)")
    mcts.add_argument("--mcts-algorithm", default="gumbel", help="gumbel or muzero (default: %(default)s)")
    mcts.add_argument("--max-considered", type=int, help="gumbel: root actions considered (default: all)")
    mcts.add_argument(
        "--gumbel-scale",
        type=float,
        default=0.0,
        help="gumbel: root noise scale; 0 (the default) evaluates without noise, 1 is mctx's training setting",
    )
    mcts.add_argument("--mcts-prior", metavar="ppo:RUN_DIR", help="prior logits and values from a trained agent")


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


AGENTS = ("random", "oracle", "greedy", "mcts", "ppo:RUN_DIR")


def make_policy(args: argparse.Namespace, env, params):
    """The policy `--agent` names, built for `env`; UsageError for unknown agents or bad options."""
    from do1rl.agents.baselines import BASELINES

    if args.agent in BASELINES:
        return BASELINES[args.agent]
    if args.agent == "mcts":
        return _make_mcts(args, env, params)
    if args.agent.startswith("ppo:"):
        agent = load_trained(args.agent, args.seed_index)
        check_shapes(agent, env, args.agent)
        return agent.policy(greedy=not args.stochastic)
    raise UsageError(f"unknown agent {args.agent!r}; choose from {', '.join(AGENTS)}")


def load_trained(spec: str, seed_index: int = 0):
    """The trained agent of `ppo:RUN_DIR`; UsageError if the folder is not a finished run."""
    from do1rl.training import load_agent

    kind, _, run_dir = spec.partition(":")
    if kind != "ppo" or not run_dir:
        raise UsageError(f"expected ppo:RUN_DIR, got {spec!r}")
    try:
        return load_agent(run_dir, seed_index)
    except (OSError, ValueError) as err:  # ConfigError and CheckpointError are ValueErrors
        raise UsageError(f"{spec}: {err}") from None


def check_shapes(agent, env, what: str) -> None:
    """UsageError unless `env` has the observation and action shapes the agent was trained on."""
    mine, theirs = env.observation_shapes(), agent.env.observation_shapes()
    if mine != theirs or env.num_actions != agent.env.num_actions:
        raise UsageError(
            f"{what}: the agent was trained on {agent.config.env.id} with {agent.config.env.args}, "
            f"whose observations have other shapes than this environment's; pass matching --env/--env-arg"
        )


def _make_mcts(args: argparse.Namespace, env, params):
    from do1rl.agents.mcts import ALGORITHMS, MCTSConfig, make_mcts_policy

    if args.simulations < 1:
        raise UsageError(f"--simulations must be >= 1, got {args.simulations}")
    if args.max_considered is not None and args.max_considered < 1:
        raise UsageError(f"--max-considered must be >= 1, got {args.max_considered}")
    if args.mcts_algorithm not in ALGORITHMS:
        raise UsageError(f"unknown --mcts-algorithm {args.mcts_algorithm!r}; choose from {', '.join(ALGORITHMS)}")
    if args.gumbel_scale < 0:
        raise UsageError(f"--gumbel-scale must be >= 0, got {args.gumbel_scale}")
    config = MCTSConfig(
        simulations=args.simulations,
        algorithm=args.mcts_algorithm,
        max_considered=args.max_considered,
        gumbel_scale=args.gumbel_scale,
    )
    prior_fn = prior_depth = None
    if args.mcts_prior is not None:
        kind, _, run_dir = args.mcts_prior.partition(":")
        if kind != "ppo" or not run_dir:
            raise UsageError(f"--mcts-prior must be ppo:RUN_DIR, got {args.mcts_prior!r}")
        agent = load_trained(args.mcts_prior, args.seed_index)
        check_shapes(agent, env, f"--mcts-prior {args.mcts_prior}")
        prior_fn, prior_depth = agent.apply, agent.serial_depth  # values already in depths
    return make_mcts_policy(env, params, config, prior_fn=prior_fn, prior_serial_depth=prior_depth)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from do1rl.circuit_file import CircuitFileError
    from do1rl.envs.registration import EnvArgumentError, make_functional
    from do1rl.evaluation import evaluate, format_table
    from do1rl.testing import check_bounds

    if args.episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
    import jax

    if not 1 <= args.devices <= jax.local_device_count():
        raise UsageError(f"--devices must be in 1..{jax.local_device_count()} (local devices), got {args.devices}")
    if args.env is None:
        args.env = "do1rl/DO1-v0"
        if args.agent.startswith("ppo:"):  # the run's env, with --env-arg on top
            trained = load_trained(args.agent, args.seed_index).config.env
            args.env = trained.id
            args.env_arg = [f"{k}={json.dumps(v)}" for k, v in trained.args.items()] + args.env_arg
    try:
        env, params = make_functional(args.env, **parse_env_args(args.env_arg))
    except (EnvArgumentError, CircuitFileError) as err:
        raise UsageError(str(err)) from None
    policy = make_policy(args, env, params)
    describe = getattr(policy, "describe", None)
    extra = describe() if describe is not None else {}
    if args.agent == "mcts":
        extra["mcts_prior"] = args.mcts_prior

    report = evaluate(
        env,
        params,
        policy,
        episodes=args.episodes,
        seed=args.seed,
        progress=not args.no_progress,
        devices=args.devices,
    )
    report = {"env": args.env, "agent": args.agent, "seed": args.seed, **extra, **report}
    print(f"{args.agent} on {args.env}, {args.episodes} episodes, seed {args.seed}")
    if "serial_depth_per_decision" in extra:
        settings = extra.get("mcts", {})
        print(
            f"{settings.get('algorithm')}, {settings.get('simulations')} simulations, "
            f"serial depth {extra['serial_depth_per_decision']} per decision"
        )
    print(format_table(report))
    if args.out:
        atomic.write_json(args.out, report)
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
