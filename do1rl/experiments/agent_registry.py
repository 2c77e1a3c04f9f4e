"""The agent registry: a name such as "greedy", "mcts" or "ppo:RUN_DIR" -> an evaluator policy.

Each agent is one `AgentSpec` in `REGISTRY` (`register_agent`); `make_agent`
builds any of them. Used by `do1rl eval`, `do1rl sweep`, `do1rl.testing` and
the benchmarks. Adding an agent: docs/extending.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from do1rl.agents.baselines import BASELINES, TRIVIAL
from do1rl.agents.mcts import MCTSConfig, make_mcts_policy
from do1rl.core import limits
from do1rl.evaluation import Policy
from do1rl.experiments.runs import TrainedAgent, load_agent, load_config
from do1rl.experiments.train_config import TrainConfig


class AgentError(ValueError):
    """An unknown agent, a bad option or a run folder that cannot be loaded (one line)."""


@dataclasses.dataclass(frozen=True)
class AgentOptions:
    """Options of `make_agent`; each applies to the agents named.

    Attributes:
      mcts: "mcts": the search settings (evaluation default: no root noise).
      mcts_prior: "mcts": "ppo:RUN_DIR" for a trained actor-critic's logits
        and values as the prior; None for the uniform prior.
      greedy: "ppo:": the argmax action (True) or a sample of the policy.
      seed_index: "ppo:" and the MCTS prior: which of the run's seeds.
      iterations: "ppo:" with a recurrent net: force T block applications
        per decision (test-time iterations); None keeps the trained rule.
      max_iterations: "ppo:" with a recurrent net: replace the trained cap on
        T (the rule T(obs) is kept); None keeps the trained cap.
    """

    mcts: MCTSConfig = dataclasses.field(default_factory=lambda: MCTSConfig(gumbel_scale=0.0))
    mcts_prior: str | None = None
    greedy: bool = True
    seed_index: int = 0
    iterations: int | None = None
    max_iterations: int | None = None


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    """One registered agent.

    Attributes:
      name: what `--agent` and `grid.agents` call it; a name ending in ":"
        is a prefix whose rest is an argument (e.g. "ppo:" + RUN_DIR).
      build: `build(name, env, params, options) -> Policy`; AgentError if it cannot.
      help: one line for `do1rl eval --help`.
      steps_per_decision: env-model steps one decision takes (`evaluation.cost`).
      trivial: reads neither gate values nor a model: a baseline a learned agent must beat.
    """

    name: str
    build: Callable[..., Policy]
    help: str
    steps_per_decision: Callable[[AgentOptions], int] = lambda options: 1
    trivial: bool = False


REGISTRY: dict[str, AgentSpec] = {}


def register_agent(spec: AgentSpec) -> AgentSpec:
    """Adds `spec` to `REGISTRY` (ValueError if the name is taken)."""
    if spec.name in REGISTRY:
        raise ValueError(f"agent {spec.name!r} is already registered")
    REGISTRY[spec.name] = spec
    return spec


def agent_names() -> tuple[str, ...]:
    """Every registered agent, a prefix agent shown as "ppo:RUN_DIR"."""
    return tuple(f"{n}RUN_DIR" if n.endswith(":") else n for n in REGISTRY)


def find_agent(name: str) -> AgentSpec:
    """The spec of agent `name` (a registered name, or a registered prefix and its argument); AgentError if none."""
    if name in REGISTRY and not name.endswith(":"):
        return REGISTRY[name]
    head, sep, _ = name.partition(":")
    if sep and f"{head}:" in REGISTRY:
        return REGISTRY[f"{head}:"]
    raise AgentError(f"unknown agent {limits.show(name)}; choose from {', '.join(agent_names())}")


def make_agent(name: str, env, params, options: AgentOptions | None = None) -> Policy:
    """The policy `name` names, built for `env`; AgentError if it cannot be.

    Args:
      name: a baseline (`do1rl.agents.baselines.BASELINES`: "random",
        "oracle", "greedy", "always_chain", "always_circuit"), "mcts", or
        "ppo:RUN_DIR" (a training run folder).
      env, params: the functional env the policy will act in and its params.
      options: `AgentOptions`.
    """
    options = options or AgentOptions()
    return find_agent(name).build(name, env, params, options)


def _baseline(name: str, env, params, options: AgentOptions) -> Policy:
    return BASELINES[name]


def _mcts(name: str, env, params, options: AgentOptions) -> Policy:
    prior_fn = prior_depth = None
    if options.mcts_prior is not None:
        if not options.mcts_prior.startswith("ppo:"):
            raise AgentError(f"MCTS prior: expected ppo:RUN_DIR, got {limits.show(options.mcts_prior)}")
        prior = load_trained(options.mcts_prior, options.seed_index)
        check_shapes(prior, env, f"MCTS prior {options.mcts_prior}")
        prior_fn, prior_depth = prior.apply, prior.serial_depth  # values already in depths
    return make_mcts_policy(env, params, options.mcts, prior_fn=prior_fn, prior_serial_depth=prior_depth)


def _ppo(name: str, env, params, options: AgentOptions) -> Policy:
    agent = load_trained(name, options.seed_index, options.iterations, options.max_iterations)
    check_shapes(agent, env, name)
    return agent.policy(greedy=options.greedy)


for _name, _policy in BASELINES.items():
    register_agent(AgentSpec(_name, _baseline, (_policy.__doc__ or _name).strip().splitlines()[0], trivial=_name in TRIVIAL))
register_agent(
    AgentSpec(
        "mcts",
        _mcts,
        "mctx search on the true env model (--simulations, --mcts-*)",
        steps_per_decision=lambda options: options.mcts.simulations + 1,
    )
)
register_agent(AgentSpec("ppo:", _ppo, "a trained network: ppo:RUN_DIR, a `do1rl train` run folder (ppo or expert_iteration)"))


def load_trained(name: str, seed_index: int = 0, iterations: int | None = None, max_iterations: int | None = None) -> TrainedAgent:
    """The trained agent of "ppo:RUN_DIR"; AgentError if the folder is not a finished run or options do not fit."""
    kind, _, run_dir = name.partition(":")
    if kind != "ppo" or not run_dir:
        raise AgentError(f"expected ppo:RUN_DIR, got {limits.show(name)}")
    try:
        return load_agent(Path(run_dir), seed_index, iterations, max_iterations)
    except (OSError, ValueError) as err:  # ConfigError and CheckpointError are ValueErrors
        raise AgentError(f"{limits.cut(name, 300)}: {limits.cut(str(err), 300)}") from None


def trained_config(name: str) -> TrainConfig:
    """The config of "ppo:RUN_DIR", without reading its checkpoint; AgentError as `load_trained`."""
    kind, _, run_dir = name.partition(":")
    if kind != "ppo" or not run_dir:
        raise AgentError(f"expected ppo:RUN_DIR, got {limits.show(name)}")
    try:
        return load_config(Path(run_dir))
    except (OSError, ValueError) as err:
        raise AgentError(f"{limits.cut(name, 300)}: {limits.cut(str(err), 300)}") from None


def check_shapes(agent: TrainedAgent, env, what: str) -> None:
    """AgentError unless `env` has the observation and action shapes the agent was trained on."""
    if env.observation_shapes() != agent.env.observation_shapes() or env.num_actions != agent.env.num_actions:
        raise AgentError(
            f"{what}: the agent was trained on {agent.config.env.id} with {agent.config.env.args}, "
            f"whose observations have other shapes than this environment's; pass matching --env/--env-arg"
        )
