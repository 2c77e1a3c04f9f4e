"""The one agent factory: a name such as "greedy", "mcts" or "ppo:RUN_DIR" -> an evaluator policy.

Used by `do1rl eval`, `do1rl sweep`, `do1rl.testing` and the benchmarks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from do1rl.agents.baselines import BASELINES
from do1rl.agents.mcts import MCTSConfig, make_mcts_policy
from do1rl.evaluation import Policy
from do1rl.experiments.runs import TrainedAgent, load_agent, load_config
from do1rl.experiments.train_config import TrainConfig

AGENTS = (*BASELINES, "mcts", "ppo:RUN_DIR")


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
    if name in BASELINES:
        return BASELINES[name]
    if name == "mcts":
        prior_fn = prior_depth = None
        if options.mcts_prior is not None:
            if not options.mcts_prior.startswith("ppo:"):
                raise AgentError(f"MCTS prior: expected ppo:RUN_DIR, got {options.mcts_prior!r}")
            prior = load_trained(options.mcts_prior, options.seed_index)
            check_shapes(prior, env, f"MCTS prior {options.mcts_prior}")
            prior_fn, prior_depth = prior.apply, prior.serial_depth  # values already in depths
        return make_mcts_policy(env, params, options.mcts, prior_fn=prior_fn, prior_serial_depth=prior_depth)
    if name.startswith("ppo:"):
        agent = load_trained(name, options.seed_index, options.iterations, options.max_iterations)
        check_shapes(agent, env, name)
        return agent.policy(greedy=options.greedy)
    raise AgentError(f"unknown agent {name!r}; choose from {', '.join(AGENTS)}")


def load_trained(
    name: str, seed_index: int = 0, iterations: int | None = None, max_iterations: int | None = None
) -> TrainedAgent:
    """The trained agent of "ppo:RUN_DIR"; AgentError if the folder is not a finished run or options do not fit."""
    kind, _, run_dir = name.partition(":")
    if kind != "ppo" or not run_dir:
        raise AgentError(f"expected ppo:RUN_DIR, got {name!r}")
    try:
        return load_agent(Path(run_dir), seed_index, iterations, max_iterations)
    except (OSError, ValueError) as err:  # ConfigError and CheckpointError are ValueErrors
        raise AgentError(f"{name}: {err}") from None


def trained_config(name: str) -> TrainConfig:
    """The config of "ppo:RUN_DIR", without reading its checkpoint; AgentError as `load_trained`."""
    kind, _, run_dir = name.partition(":")
    if kind != "ppo" or not run_dir:
        raise AgentError(f"expected ppo:RUN_DIR, got {name!r}")
    try:
        return load_config(Path(run_dir))
    except (OSError, ValueError) as err:
        raise AgentError(f"{name}: {err}") from None


def check_shapes(agent: TrainedAgent, env, what: str) -> None:
    """AgentError unless `env` has the observation and action shapes the agent was trained on."""
    if env.observation_shapes() != agent.env.observation_shapes() or env.num_actions != agent.env.num_actions:
        raise AgentError(
            f"{what}: the agent was trained on {agent.config.env.id} with {agent.config.env.args}, "
            f"whose observations have other shapes than this environment's; pass matching --env/--env-arg"
        )
