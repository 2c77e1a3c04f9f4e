"""`do1rl eval`: play N episodes of an agent and report the spec's metrics."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from do1rl.cli._args import finite_float, int_in
from do1rl.core import atomic, limits

HELP = "evaluate an agent: approximation ratio and regret against the exact solver"


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", help="environment id (default: a ppo agent's training env, else do1rl/DO1-v0)")
    parser.add_argument("--agent", default="greedy", help="a registered agent (below) or ppo:RUN_DIR (default: %(default)s)")
    usage = parser.format_help
    parser.format_help = lambda: usage() + "\n" + agents_help()  # type: ignore[method-assign]  # built only when asked: it imports jax
    parser.add_argument("--episodes", type=int_in(1, limits.MAX_EPISODES), default=1000, help="episodes to play (default: %(default)s)")
    parser.add_argument("--seed", type=int_in(0, limits.MAX_SEED), default=0, help="evaluation seed (default: %(default)s)")
    parser.add_argument(
        "--env-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment option, e.g. depth=4 or stop_action=true (repeatable; values are YAML)",
    )
    parser.add_argument("--out", type=Path, help="write the metrics as JSON to this file")
    parser.add_argument("--max-regret", type=finite_float(), help="exit 1 if the maximum regret exceeds this")
    parser.add_argument("--min-ratio", type=finite_float(), help="exit 1 if the minimum ratio is below this")
    parser.add_argument("--max-mean-regret", type=finite_float(), help="exit 1 if the mean regret exceeds this")
    parser.add_argument("--min-mean-ratio", type=finite_float(), help="exit 1 if the mean ratio is below this")
    parser.add_argument(
        "--devices", type=int_in(1, 4096), default=1, help="shard episodes across this many local devices (default: %(default)s)"
    )
    parser.add_argument(
        "--max-node-steps",
        type=finite_float(1.0),
        default=limits.MAX_EVAL_NODE_STEPS,
        help="refuse, before starting, an evaluation estimated above this many node updates "
        "(episodes x steps x nodes; default: %(default).0e, about 6 min on 2 CPU cores)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--stochastic", action="store_true", help="ppo: sample actions from the policy instead of taking the argmax")
    parser.add_argument("--seed-index", type=int_in(0, 1 << 20), default=0, help="ppo: which of the run's seeds (default: 0)")
    parser.add_argument(
        "--iterations",
        type=int_in(1, 1 << 16),
        help="ppo with a recurrent net: force T block applications per decision (test time)",
    )
    parser.add_argument(
        "--max-iterations",
        type=int_in(1, 1 << 16),
        help="ppo with a recurrent net: cap T(obs) here instead of at the trained network.max_iterations",
    )
    parser.add_argument(
        "--decisive-blocks",
        type=int_in(0, 1 << 10),
        nargs="*",
        metavar="L",
        help="one-shot DO1 on biregular circuits: forced-choice accuracy on the episodes where the L-block ceiling's choice "
        "is wrong, for each L (default: 0 3, and a trained gnn's L; none: no L)",
    )
    mcts = parser.add_argument_group("mcts agent (do1rl.agents.mcts)")
    mcts.add_argument(
        "--simulations",
        type=int_in(1, limits.MAX_SIMULATIONS),
        default=64,
        help="simulations per decision (default: %(default)s)",
    )
    mcts.add_argument("--mcts-algorithm", default="gumbel", help="gumbel or muzero (default: %(default)s)")
    mcts.add_argument("--max-considered", type=int_in(1, limits.MAX_SIMULATIONS), help="gumbel: root actions considered (default: all)")
    mcts.add_argument(
        "--gumbel-scale",
        type=finite_float(0.0),
        default=0.0,
        help="gumbel: root noise scale; 0 (the default) evaluates without noise, 1 is mctx's training setting",
    )
    mcts.add_argument("--mcts-prior", metavar="ppo:RUN_DIR", help="prior logits and values from a trained agent")


def agents_help() -> str:
    """The registered agents, one line each (`do1rl.experiments.agent_registry.REGISTRY`)."""
    from do1rl.experiments.agent_registry import REGISTRY

    rows = [(f"{name}RUN_DIR" if name.endswith(":") else name, spec.help) for name, spec in REGISTRY.items()]
    width = max(len(name) for name, _ in rows)
    return "agents:\n" + "".join(f"  {name:<{width}}  {text}\n" for name, text in rows)


def parse_env_args(pairs: list[str]) -> dict:
    """`["depth=4", "stop_action=true"]` -> `{"depth": 4, "stop_action": True}`."""
    from do1rl.experiments.config import ConfigError, parse_assignment

    try:
        return dict(parse_assignment(pair) for pair in pairs)
    except ConfigError as err:
        raise UsageError(f"--env-arg {err}") from None


def agent_options(args: argparse.Namespace):
    """The `AgentOptions` the command line sets; UsageError for bad values."""
    from do1rl.agents.mcts import MCTSConfig
    from do1rl.experiments.agent_registry import AgentOptions

    try:
        mcts = MCTSConfig(
            simulations=args.simulations,
            algorithm=args.mcts_algorithm,
            max_considered=args.max_considered,
            gumbel_scale=args.gumbel_scale,
        )
    except ValueError as err:
        raise UsageError(f"mcts: {err}") from None
    return AgentOptions(
        mcts=mcts,
        mcts_prior=args.mcts_prior,
        greedy=not args.stochastic,
        seed_index=args.seed_index,
        iterations=args.iterations,
        max_iterations=args.max_iterations,
    )


def check_agent_options(args: argparse.Namespace) -> None:
    """UsageError for an option the chosen agent would ignore (e.g. `--mcts-prior` with `--agent greedy`)."""
    ppo, mcts = args.agent.startswith("ppo:"), args.agent == "mcts"
    given = {
        "--simulations": args.simulations != 64,
        "--mcts-algorithm": args.mcts_algorithm != "gumbel",
        "--max-considered": args.max_considered is not None,
        "--gumbel-scale": args.gumbel_scale != 0.0,
        "--mcts-prior": args.mcts_prior is not None,
    }
    for option, set_ in given.items():
        if set_ and not mcts:
            raise UsageError(f"{option} applies to --agent mcts only, not {limits.show(args.agent)}")
    given = {
        "--stochastic": args.stochastic,
        "--iterations": args.iterations is not None,
        "--max-iterations": args.max_iterations is not None,
        "--seed-index": args.seed_index != 0 and not (mcts and args.mcts_prior is not None),
    }
    for option, set_ in given.items():
        if set_ and not ppo:
            raise UsageError(f"{option} applies to --agent ppo:RUN_DIR only, not {limits.show(args.agent)}")


def run(args: argparse.Namespace) -> int:
    from do1rl.experiments.agent_registry import AgentError

    try:
        return _run(args)
    except (UsageError, AgentError, atomic.WriteError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def decisive_blocks(args: argparse.Namespace) -> tuple[int, ...]:
    """The L of `--decisive-blocks`: by default 0 and 3, and a trained gnn's own L."""
    if args.decisive_blocks is not None:
        return tuple(dict.fromkeys(args.decisive_blocks))
    blocks = [0, 3]
    if args.agent.startswith("ppo:"):  # make_agent has loaded this run already
        from do1rl.experiments.runs import load_config
        from do1rl.experiments.sweep.grid import BLOCK_FAMILIES

        network = load_config(args.agent.partition(":")[2]).network
        if network.family in BLOCK_FAMILIES:
            blocks.append(int(network.depth))
    return tuple(sorted(set(blocks)))


def _evaluate(env, params, policy, args: argparse.Namespace) -> dict:
    """`metrics` of the agent's episodes; on biregular DO1 with decisive cases (`decisive` in the report) too."""
    from do1rl.evaluation import metrics, play, reset_starts
    from do1rl.evaluation.first_choice import decisive_flags
    from do1rl.experiments.sweep.grid import has_decisive_cases

    blocks = decisive_blocks(args) if has_decisive_cases(args.env, parse_env_args(args.env_arg)) else ()
    starts = flags = None
    if blocks:  # the episodes' resets, made once: the decisive flags read them and play replays them
        starts = reset_starts(env, params, episodes=args.episodes, seed=args.seed)
        flags = decisive_flags(env, starts[1], blocks)
    episodes = play(
        env,
        params,
        policy,
        episodes=args.episodes,
        seed=args.seed,
        progress=not args.no_progress,
        devices=args.devices,
        starts=starts,
    )
    return metrics(episodes, flags)


def _run(args: argparse.Namespace) -> int:
    from do1rl.core.circuit_file import CircuitFileError
    from do1rl.envs.make import EnvArgumentError, make
    from do1rl.evaluation import check_bounds, format_table
    from do1rl.evaluation.cost import check_node_steps
    from do1rl.experiments.agent_registry import find_agent, make_agent, trained_config
    from do1rl.sharding import check_device_count

    check_agent_options(args)
    if args.out is not None:  # before the work, so an unwritable --out loses nothing
        atomic.check_target(args.out)
    try:
        check_device_count(args.devices)
    except ValueError as err:
        raise UsageError(f"--{err}") from None
    if args.env is None:
        args.env = "do1rl/DO1-v0"
        if args.agent.startswith("ppo:"):  # the run's env, with --env-arg on top
            trained = trained_config(args.agent).env  # the checkpoint is read once, by make_agent
            args.env = trained.id
            args.env_arg = [f"{k}={json.dumps(v)}" for k, v in trained.args.items()] + args.env_arg
    try:
        env, params = make(args.env, **parse_env_args(args.env_arg))
    except (EnvArgumentError, CircuitFileError) as err:
        raise UsageError(str(err)) from None
    options = agent_options(args)
    per_step = find_agent(args.agent).steps_per_decision(options)  # e.g. each MCTS simulation steps the env model
    try:
        check_node_steps(env, args.episodes, per_step, args.max_node_steps)
    except limits.InputError as err:
        raise UsageError(str(err)) from None
    policy = make_agent(args.agent, env, params, options)
    describe = getattr(policy, "describe", None)
    extra = describe() if describe is not None else {}
    if args.agent == "mcts":
        extra["mcts_prior"] = args.mcts_prior
    if args.iterations is not None:
        extra["iterations"] = args.iterations
    if args.max_iterations is not None:
        extra["max_iterations"] = args.max_iterations

    report = _evaluate(env, params, policy, args)
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
