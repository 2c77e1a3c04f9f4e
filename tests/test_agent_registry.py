"""The agent registry: every registered agent acts legally on both envs; a new agent is one registry line."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from do1rl import cli
from do1rl.agents.mcts import MCTSConfig
from do1rl.envs import make
from do1rl.evaluation import episode_keys
from do1rl.experiments import agent_registry as registry
from do1rl.experiments.agent_registry import AgentError, AgentOptions, AgentSpec, make_agent, register_agent

ENVS = {
    "DO1": ("do1rl/DO1-v0", dict(n_inputs=3, depth=3, width=3)),
    "AlternatingCircuit": ("do1rl/AlternatingCircuit-v0", dict(n_inputs=3, depth=3, width=3, stop_action=True)),
}
OPTIONS = AgentOptions(mcts=MCTSConfig(simulations=4, gumbel_scale=0.0))
EPISODES = 6


def _legal_actions(env, params, policy) -> np.ndarray:
    """bool[episodes, steps]: whether each action taken before termination was allowed by the mask (True after)."""

    def episode(key):
        obs, state = env.reset(jax.random.split(key)[0], params)

        def step(carry, key):
            obs, state = carry
            act_key, step_key = jax.random.split(key)
            action = policy(act_key, obs, state)
            legal = state.terminated | obs.action_mask[action]
            obs2, state2, *_ = env.step(step_key, state, action, params)
            keep = lambda a, b: jax.tree.map(lambda x, y: jnp.where(state.terminated, x, y), a, b)
            return keep((obs, state), (obs2, state2)), legal

        return jax.lax.scan(step, (obs, state), jax.random.split(key, env.max_horizon + 2))[1]

    return np.asarray(jax.jit(jax.vmap(episode))(episode_keys(0, 0, EPISODES)))


@pytest.fixture(scope="module", params=list(ENVS))
def env(request):
    env_id, kwargs = ENVS[request.param]
    return make(env_id, **kwargs)


@pytest.mark.parametrize("name", [n for n in registry.REGISTRY if not n.endswith(":")])
def test_every_registered_agent_acts_legally_on_both_envs(env, name):
    env, params = env
    policy = make_agent(name, env, params, OPTIONS)
    assert _legal_actions(env, params, policy).all()


def test_an_unknown_agent_or_prefix_is_one_error_naming_the_choices():
    with pytest.raises(AgentError, match="choose from random, oracle, greedy"):
        registry.find_agent("nope")
    with pytest.raises(AgentError, match="ppo:RUN_DIR"):
        registry.find_agent("sac:run")
    assert registry.find_agent("ppo:some/run").name == "ppo:"


def test_a_new_agent_is_one_registry_line(monkeypatch, capsys):
    """docs/extending.md's recipe: register, then eval, sweeps and the help know it."""
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))

    def first_legal(key, obs, state):
        return jnp.argmax(obs.action_mask).astype(jnp.int32)

    register_agent(AgentSpec("first_legal", lambda name, env, params, options: first_legal, "the first legal action"))
    with pytest.raises(ValueError, match="already registered"):
        register_agent(AgentSpec("first_legal", lambda *a: first_legal, "again"))
    assert (
        cli.main(
            [
                "eval",
                "--agent",
                "first_legal",
                "--episodes",
                "4",
                "--no-progress",
                "--env-arg",
                "n_inputs=2",
                "--env-arg",
                "depth=2",
                "--env-arg",
                "width=2",
            ]
        )
        == 0
    )
    assert "first_legal on do1rl/DO1-v0" in capsys.readouterr().out
    cli.main(["eval", "--help"])
    assert "first_legal" in capsys.readouterr().out
